package offsets

import "testing"

func TestPendingTxnOffsets(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	tp := TP{"a", 0}
	if err := s.PutPendingTxnOffsets(7, "g", map[TP]Committed{tp: {Offset: 10, LeaderEpoch: -1}}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutPendingTxnOffsets(8, "g", map[TP]Committed{{"a", 1}: {Offset: 3, LeaderEpoch: -1}}); err != nil {
		t.Fatal(err)
	}
	if !s.HasPendingTxnOffsets("g", tp) || s.HasPendingTxnOffsets("h", tp) {
		t.Fatal("pending offsets not reported")
	}
	if _, ok := s.Fetch("g", tp); ok {
		t.Fatal("pending offset visible as committed")
	}
	// Survives a restart.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(dir, nil); err != nil {
		t.Fatal(err)
	}
	if !s.HasPendingTxnOffsets("g", tp) {
		t.Fatal("pending offsets lost on restart")
	}
	if err := s.CompleteTxnOffsets(7, []string{"g"}, true); err != nil {
		t.Fatal(err)
	}
	if err := s.CompleteTxnOffsets(7, []string{"g"}, true); err != nil { // re-drive
		t.Fatal(err)
	}
	if err := s.CompleteTxnOffsets(8, []string{"g"}, false); err != nil {
		t.Fatal(err)
	}
	if c, ok := s.Fetch("g", tp); !ok || c.Offset != 10 {
		t.Fatalf("committed = %+v, %v", c, ok)
	}
	if _, ok := s.Fetch("g", TP{"a", 1}); ok {
		t.Fatal("aborted offset committed")
	}
	if s.HasPendingTxnOffsets("g", tp) || s.HasPendingTxnOffsets("g", TP{"a", 1}) {
		t.Fatal("pending offsets remain")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(dir, nil); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if c, ok := s.Fetch("g", tp); !ok || c.Offset != 10 || s.HasPendingTxnOffsets("g", tp) {
		t.Fatalf("after restart committed = %+v, %v", c, ok)
	}
}
