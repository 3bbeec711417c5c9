package kafka

import (
	"testing"

	"github.com/chronik-streaming/chronik/internal/batch"
	"github.com/chronik-streaming/chronik/internal/batch/batchtest"
)

func TestCountRecords(t *testing.T) {
	three := batchtest.Simple(3, 10, 1000)
	five := batchtest.Build(batchtest.Options{N: 5, ValueSize: 4, BaseOffset: 3})
	marker := batchtest.Build(batchtest.Options{N: 1, Control: true, Transactional: true, BaseOffset: 8})
	var all []byte
	for _, b := range [][]byte{three, five, marker} {
		all = append(all, b...)
	}
	legacy, err := batch.DownConvert(all, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		b    []byte
		want int64
	}{
		{"empty", nil, 0},
		{"one batch", three, 3},
		{"control batches left out", all, 8},
		{"truncated tail", all[:len(three)+len(five)+20], 8},
		{"truncated header", all[:len(three)+30], 3},
		{"legacy message set", legacy, 8},
		{"garbage", []byte("not a record batch at all, no sir, not at all"), 0},
	} {
		if got := countRecords(c.b); got != c.want {
			t.Errorf("%s: %d records, want %d", c.name, got, c.want)
		}
	}
}
