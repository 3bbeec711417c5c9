package batch_test

import (
	"bytes"
	"testing"

	"github.com/chronik-streaming/chronik/internal/batch"
	"github.com/chronik-streaming/chronik/internal/batch/batchtest"
	"github.com/chronik-streaming/chronik/internal/compress"
)

func TestRecompressKeepsRecords(t *testing.T) {
	values := [][]byte{[]byte("alpha"), {}, bytes.Repeat([]byte("z"), 5000)}
	codecs := []int8{compress.None, compress.Gzip, compress.Snappy, compress.LZ4, compress.Zstd}
	for _, from := range codecs {
		for _, to := range codecs {
			src := batchtest.Build(batchtest.Options{Values: values, Keys: [][]byte{[]byte("k"), nil}, Codec: from, BaseTimestamp: 1000})
			out, err := batch.Recompress(src, to)
			if err != nil {
				t.Fatalf("%d -> %d: %v", from, to, err)
			}
			h, err := batch.Validate(out)
			if err != nil {
				t.Fatalf("%d -> %d: invalid batch: %v", from, to, err)
			}
			if h.Codec() != to || h.NumRecords != 3 || h.BaseTimestamp != 1000 {
				t.Fatalf("%d -> %d: header %+v", from, to, h)
			}
			recs, err := batch.Records(out)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range recs {
				if !bytes.Equal(r.Value, values[i]) {
					t.Fatalf("%d -> %d: record %d value %q", from, to, i, r.Value)
				}
			}
			if string(recs[0].Key) != "k" || recs[1].Key != nil {
				t.Fatalf("%d -> %d: keys %q %q", from, to, recs[0].Key, recs[1].Key)
			}
		}
	}
}
