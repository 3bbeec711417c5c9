package log

import (
	"context"
	"math/rand/v2"
	"testing"
)

// benchBatch is a 1 KiB batch (10 records).
func benchBatch() []byte {
	b := simple(10, 1024/10-10, 1_700_000_000_000)
	return b
}

func BenchmarkAppend(b *testing.B) {
	for _, bc := range []struct {
		name   string
		policy FsyncPolicy
	}{{"never", FsyncNever}, {"interval", FsyncInterval}} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.Fsync = bc.policy
			cfg.SegmentBytes = 64 << 20
			l := openT(b, b.TempDir(), cfg)
			bt := benchBatch()
			b.SetBytes(int64(len(bt)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := l.Append(bt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// FsyncAlways with acks: many producers share fsyncs.
	b.Run("always-parallel", func(b *testing.B) {
		cfg := DefaultConfig()
		cfg.Fsync = FsyncAlways
		cfg.SegmentBytes = 64 << 20
		l := openT(b, b.TempDir(), cfg)
		b.SetBytes(int64(len(benchBatch())))
		b.SetParallelism(32)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			bt := benchBatch()
			for pb.Next() {
				res, err := l.Append(bt)
				if err == nil {
					err = l.WaitDurable(context.Background(), res.LastOffset+1)
				}
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(l.FsyncCount())/float64(b.N), "fsyncs/op")
	})
}

func BenchmarkRead(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Fsync = FsyncNever
	cfg.SegmentBytes = 8 << 20
	l := openT(b, b.TempDir(), cfg)
	const n = 20000 // ~20 MiB
	for i := 0; i < n; i++ {
		if _, err := l.Append(benchBatch()); err != nil {
			b.Fatal(err)
		}
	}
	leo := l.LogEndOffset()
	b.Run("sequential-1MiB", func(b *testing.B) {
		off := int64(0)
		var bytes int64
		for i := 0; i < b.N; i++ {
			if off >= leo {
				off = 0
			}
			res, err := l.Read(off, 1<<20, true)
			if err != nil {
				b.Fatal(err)
			}
			bytes += int64(len(res.Records))
			off = lastNext(res.Records)
		}
		b.SetBytes(bytes / int64(b.N))
	})
	b.Run("random-64KiB", func(b *testing.B) {
		var bytes int64
		for i := 0; i < b.N; i++ {
			res, err := l.Read(rand.Int64N(leo), 64<<10, true)
			if err != nil {
				b.Fatal(err)
			}
			bytes += int64(len(res.Records))
		}
		b.SetBytes(bytes / int64(b.N))
	})
}

// lastNext returns the offset after the last batch in b.
func lastNext(b []byte) int64 {
	var next int64
	for len(b) > 0 {
		h := idemHeaderNoT(b)
		next = h.NextOffset()
		b = b[h.Size():]
	}
	return next
}
