package lag

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/chronik-streaming/chronik/internal/batch/batchtest"
	"github.com/chronik-streaming/chronik/internal/config"
	"github.com/chronik-streaming/chronik/internal/meta"
	"github.com/chronik-streaming/chronik/internal/offsets"
	"github.com/chronik-streaming/chronik/internal/topics"
)

func TestGroupLag(t *testing.T) {
	dir := t.TempDir()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := meta.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cfg := config.Default()
	cfg.Storage.Fsync = "never"
	tm, err := topics.Open(dir, cfg, store, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer tm.Close()
	if _, err := tm.Create(topics.CreateSpec{Name: "t", Partitions: 2, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	p0, _ := tm.Partition("t", 0)
	for i := 0; i < 5; i++ {
		if _, err := p0.Log.Append(batchtest.Build(batchtest.Options{N: 2, ValueSize: 4})); err != nil {
			t.Fatal(err)
		}
	}
	offs, err := offsets.Open(dir, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer offs.Close()
	now := time.Now()
	if err := offs.Commit("g", map[offsets.TP]offsets.Committed{
		{Topic: "t", Partition: 0}:    {Offset: 4, CommitTime: now},
		{Topic: "t", Partition: 1}:    {Offset: 0, CommitTime: now},
		{Topic: "gone", Partition: 0}: {Offset: 3, CommitTime: now},
	}); err != nil {
		t.Fatal(err)
	}
	got := Group(offs, tm, "g")
	want := []Partition{{"t", 0, 4, 10, 6}, {"t", 1, 0, 0, 0}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("lag %+v, want %+v", got, want)
	}
	if Total(got) != 6 {
		t.Fatalf("total %d", Total(got))
	}
}
