package log

import (
	"encoding/binary"
	"testing"

	"github.com/chronik-streaming/chronik/internal/batch/batchtest"
	"github.com/chronik-streaming/chronik/internal/compress"
)

// FuzzAppend feeds arbitrary batches to Append (with the CRC fixed up when
// asked, to get past the framing checks) and reads everything back: nothing
// may panic, and whatever was accepted must read back as valid batches.
func FuzzAppend(f *testing.F) {
	f.Add(simple(2, 10, 1), false)
	f.Add(idem(1, 0, 0, 3), true)
	f.Add(batchtest.Build(batchtest.Options{N: 3, ValueSize: 30, Codec: compress.Zstd, TimestampDeltas: []int64{0, -5, 7}}), true)
	f.Add(batchtest.Build(batchtest.Options{N: 1, ValueSize: 4, Control: true, Idempotent: true, ProducerID: 2, BaseSequence: -1}), true)
	f.Fuzz(func(t *testing.T, b []byte, fixCRC bool) {
		cfg := testConfig()
		cfg.SegmentBytes = 4096
		cfg.IndexIntervalBytes = 64
		cfg.TimestampType = TimestampType(len(b) % 2)
		l, err := Open(t.TempDir(), cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		for i := 0; i < 3; i++ {
			c := append([]byte(nil), b...)
			if fixCRC && len(c) >= 21 {
				if len(c) >= 12 {
					binary.BigEndian.PutUint32(c[8:], uint32(len(c)-12))
				}
				batchtest.Fix(c)
			}
			_, _ = l.Append(c)
		}
		readAllBatches(t, l)
		_, _, _, _ = l.OffsetForTimestamp(0)
		_, _ = l.MaxTimestamp()
		crash(t, l)
		l2, err := Open(l.Dir(), cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if l2.LogEndOffset() != l.LogEndOffset() {
			t.Fatalf("leo %d after reopen, was %d", l2.LogEndOffset(), l.LogEndOffset())
		}
		l2.Close()
	})
}
