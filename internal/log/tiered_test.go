package log

import (
	"bytes"
	"testing"
	"time"
)

// Local retention on a tiered log deletes only uploaded segments; the
// uploaded copies read back through SegmentReader give the same batches.
func TestTieredRetentionAndSegmentReader(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 1000
	cfg.RemoteStorage = true
	cfg.RetentionMs, cfg.RetentionBytes = -1, -1
	cfg.LocalRetentionMs, cfg.LocalRetentionBytes = -2, 0 // keep nothing local that is uploaded
	l := openT(t, dir, cfg)
	old := time.Now().Add(-time.Hour).UnixMilli()
	for range 12 {
		mustAppend(t, l, simple(2, 200, old))
	}
	closed := l.ClosedSegments(l.LastStableOffset())
	if len(closed) < 3 {
		t.Fatalf("closed segments: %+v", closed)
	}
	for i, c := range closed {
		if c.Files["log"] == "" || c.Files["index"] == "" || (i > 0 && c.Base != closed[i-1].Next) {
			t.Fatalf("segment %d: %+v", i, c)
		}
	}

	l.Maintain(time.Now())
	if l.LogStartOffset() != 0 {
		t.Fatalf("deleted before upload: start %d", l.LogStartOffset())
	}
	l.SetTieredUpTo(closed[1].Next)
	l.Maintain(time.Now())
	if l.LogStartOffset() != closed[1].Next {
		t.Fatalf("after tiering up to %d: start %d", closed[1].Next, l.LogStartOffset())
	}
	// The third segment is still local; read it as a downloaded copy.
	c := closed[2]
	r, err := OpenSegmentReader(c.Base, c.Next, c.Files["log"], c.Files["index"], "")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := r.Read(c.Base+1, 1<<20, true)
	if err != nil {
		t.Fatal(err)
	}
	local, err := l.Read(c.Base, int32(c.Next-c.Base)*1000, true)
	if err != nil {
		t.Fatal(err)
	}
	want := local.Records
	if len(want) > len(got) {
		want = want[:len(got)]
	}
	if !bytes.Equal(got, want) || len(got) == 0 {
		t.Fatalf("segment reader: %d bytes, log: %d bytes", len(got), len(local.Records))
	}
	if rest, err := r.Read(c.Next, 1000, true); err != nil || rest != nil {
		t.Fatalf("past the end: %v %v", rest, err)
	}
	off, _, found, err := r.OffsetForTimestamp(old)
	if err != nil || !found || off != c.Base {
		t.Fatalf("by time: %d %v %v", off, found, err)
	}
}

func TestPrepareStart(t *testing.T) {
	dir := t.TempDir()
	if err := PrepareStart(dir, 500); err != nil {
		t.Fatal(err)
	}
	l := openT(t, dir, testConfig())
	if l.LogStartOffset() != 500 || l.HighWatermark() != 500 {
		t.Fatalf("start %d hw %d", l.LogStartOffset(), l.HighWatermark())
	}
	res := mustAppend(t, l, simple(1, 10, time.Now().UnixMilli()))
	if res.BaseOffset != 500 {
		t.Fatalf("first offset %d", res.BaseOffset)
	}
	if err := PrepareStart(dir, 0); err == nil {
		t.Fatal("PrepareStart on a log with segments")
	}
}
