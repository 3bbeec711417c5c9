package txn

import (
	"testing"

	"github.com/chronik-streaming/chronik/internal/meta"
)

func TestProducerIDsNeverReusedAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	store, err := meta.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ids := NewProducerIDs(store)
	seen := map[int64]bool{}
	for i := 0; i < BlockSize+10; i++ {
		id, err := ids.Next()
		if err != nil {
			t.Fatal(err)
		}
		if seen[id] {
			t.Fatalf("id %d handed out twice", id)
		}
		seen[id] = true
	}
	store.Close() // a "crash": the allocator's in-memory position is lost

	store, err = meta.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	id, err := NewProducerIDs(store).Next()
	if err != nil {
		t.Fatal(err)
	}
	if seen[id] {
		t.Fatalf("id %d reused after restart", id)
	}
}
