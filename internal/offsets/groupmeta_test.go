package offsets

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestGroupMetadata: group metadata records are stored apart from offsets,
// survive a reopen (and a crash copy of the file), and are deleted
// independently of the group's offsets.
func TestGroupMetadata(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	if md, err := s.GroupMetadata(); err != nil || len(md) != 0 {
		t.Fatalf("new store: %v, %v", md, err)
	}
	if err := s.PutGroupMetadata("", []byte("x")); !errors.Is(err, ErrEmptyGroup) {
		t.Fatalf("empty group: %v", err)
	}
	mustCommit(t, s, "g1", map[TP]Committed{{"t", 0}: {Offset: 5}})
	if err := s.PutGroupMetadata("g1", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutGroupMetadata("g2", []byte("two")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutGroupMetadata("g2", []byte("two-b")); err != nil {
		t.Fatal(err)
	}
	// Group metadata is not a group with offsets.
	if gs := s.Groups(); len(gs) != 1 || gs[0] != "g1" {
		t.Fatalf("groups with offsets: %v", gs)
	}
	// Durable on return: a copy of the file taken now has it.
	data, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	crashed := t.TempDir()
	if err := os.WriteFile(filepath.Join(crashed, FileName), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if md, err := open(t, crashed).GroupMetadata(); err != nil || string(md["g2"]) != "two-b" || string(md["g1"]) != "one" {
		t.Fatalf("crash copy: %q, %v", md, err)
	}

	if err := s.DeleteGroup("g1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteGroupMetadata("g2"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteGroupMetadata("never"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := s.PutGroupMetadata("g3", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("put after close: %v", err)
	}
	s2 := open(t, dir)
	md, err := s2.GroupMetadata()
	if err != nil {
		t.Fatal(err)
	}
	if len(md) != 1 || string(md["g1"]) != "one" {
		t.Fatalf("after reopen: %q", md)
	}
	if len(s2.Groups()) != 0 {
		t.Fatalf("offsets after reopen: %v", s2.Groups())
	}
}

// TestGroupMetadataGroupCommit: concurrent metadata writes and offset
// commits share transactions.
func TestGroupMetadataGroupCommit(t *testing.T) {
	s := open(t, t.TempDir())
	const n = 64
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			g := fmt.Sprintf("g%d", i)
			if err := s.PutGroupMetadata(g, []byte(g)); err != nil {
				t.Error(err)
			}
			mustCommit(t, s, g, map[TP]Committed{{"t", 0}: {Offset: int64(i)}})
		})
	}
	wg.Wait()
	md, err := s.GroupMetadata()
	if err != nil || len(md) != n {
		t.Fatalf("%d records, %v", len(md), err)
	}
	if txs := s.commitTxs(); txs >= 2*n {
		t.Fatalf("%d transactions for %d writes: no group commit", txs, 2*n)
	}
}
