package batch_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/chronik-streaming/chronik/internal/batch"
	"github.com/chronik-streaming/chronik/internal/batch/batchtest"
	"github.com/chronik-streaming/chronik/internal/compress"
)

func TestFindRecord(t *testing.T) {
	for _, codec := range []int8{compress.None, compress.Gzip, compress.Zstd} {
		var vals [][]byte
		for i := range 50 {
			vals = append(vals, fmt.Appendf(nil, "value %d %s", i, bytes.Repeat([]byte("x"), i*7)))
		}
		b := batchtest.Build(batchtest.Options{Values: vals, Codec: codec, BaseOffset: 100, BaseTimestamp: 1000})
		for _, i := range []int{0, 1, 25, 49} {
			r, h, ok, err := batch.FindRecord(b, 100+int64(i))
			if err != nil || !ok || !bytes.Equal(r.Value, vals[i]) || h.BaseOffset+int64(r.OffsetDelta) != 100+int64(i) {
				t.Fatalf("codec %d record %d: ok=%v err=%v value %q", codec, i, ok, err, r.Value)
			}
		}
		for _, off := range []int64{99, 150} {
			if _, _, ok, err := batch.FindRecord(b, off); ok || err != nil {
				t.Fatalf("codec %d offset %d outside the batch: ok=%v err=%v", codec, off, ok, err)
			}
		}
	}
	if _, _, _, err := batch.FindRecord([]byte("short"), 0); err == nil {
		t.Fatal("garbage accepted")
	}
}
