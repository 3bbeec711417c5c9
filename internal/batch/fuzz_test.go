package batch_test

import (
	"bytes"
	"testing"

	"github.com/chronik-streaming/chronik/internal/batch"
	"github.com/chronik-streaming/chronik/internal/batch/batchtest"
	"github.com/chronik-streaming/chronik/internal/compress"
)

func fuzzSeeds(f *testing.F) {
	f.Add(batchtest.Simple(1, 1, 0))
	f.Add(batchtest.Simple(3, 17, 1700000000000))
	for _, c := range []int8{compress.Gzip, compress.Snappy, compress.LZ4, compress.Zstd} {
		f.Add(batchtest.Build(batchtest.Options{N: 2, ValueSize: 40, Codec: c, Idempotent: true, ProducerID: 1}))
	}
	f.Add([]byte{})
	f.Add(make([]byte, batch.HeaderSize))
}

// FuzzParseHeader checks that header parsing, validation and splitting never
// panic and agree with each other.
func FuzzParseHeader(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := batch.ParseHeader(b)
		if err == nil {
			if h.Magic != batch.Magic || h.Size() < batch.HeaderSize {
				t.Fatalf("accepted bad header %+v", h)
			}
			_ = h.LastSequence()
			_ = h.CheckCount()
		}
		vh, verr := batch.Validate(b)
		if verr == nil {
			if err != nil || vh != h || vh.Size() != int64(len(b)) || batch.VerifyCRC(b) != nil {
				t.Fatalf("Validate accepted what ParseHeader/VerifyCRC reject: %v", err)
			}
			c := bytes.Clone(b)
			batch.SetBaseOffset(c, 5)
			batch.SetPartitionLeaderEpoch(c, 6)
			batch.SetLogAppendTime(c, 7)
			if _, err := batch.Validate(c); err != nil {
				t.Fatalf("setters broke a valid batch: %v", err)
			}
		}
		batches, tail, _ := batch.Split(b)
		n := len(tail)
		for _, x := range batches {
			n += len(x)
		}
		if n != len(b) {
			t.Fatalf("split lost bytes: %d of %d", n, len(b))
		}
	})
}

// FuzzRecords checks that record decoding never panics.
func FuzzRecords(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := batch.ParseHeader(b)
		recs, rerr := batch.Records(b)
		if rerr == nil {
			if err != nil || len(recs) != int(h.NumRecords) {
				t.Fatalf("records %d, header %+v %v", len(recs), h, err)
			}
			for i := range recs {
				_ = h.Timestamp(&recs[i])
			}
		}
	})
}
