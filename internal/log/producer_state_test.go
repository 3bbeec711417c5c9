package log

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestIdempotence(t *testing.T) {
	l := openT(t, t.TempDir(), testConfig())
	// A new producer may start at any sequence (KIP-360).
	r1 := mustAppend(t, l, idem(7, 0, 100, 3)) // 100..102
	r2 := mustAppend(t, l, idem(7, 0, 103, 2)) // 103..104
	// Retry of either: same offsets, nothing written.
	leo := l.LogEndOffset()
	for _, want := range []AppendResult{r1, r2} {
		seq := int32(100)
		n := 3
		if want == r2 {
			seq, n = 103, 2
		}
		res, err := l.Append(idem(7, 0, seq, n))
		if err != nil || !res.Duplicate || res.BaseOffset != want.BaseOffset || res.LastOffset != want.LastOffset {
			t.Fatalf("retry: %+v %v", res, err)
		}
	}
	if l.LogEndOffset() != leo {
		t.Fatal("duplicate written")
	}
	// Gap.
	_, err := l.Append(idem(7, 0, 106, 1))
	expectErr(t, err, ErrOutOfOrderSequence)
	// Same first sequence, different range: not a duplicate, out of order.
	_, err = l.Append(idem(7, 0, 100, 1))
	expectErr(t, err, ErrOutOfOrderSequence)
	// Older epoch.
	mustAppend(t, l, idem(8, 3, 0, 1))
	_, err = l.Append(idem(8, 2, 1, 1))
	expectErr(t, err, ErrInvalidProducerEpoch)
	// Newer epoch must start at 0.
	_, err = l.Append(idem(8, 4, 1, 1))
	expectErr(t, err, ErrOutOfOrderSequence)
	mustAppend(t, l, idem(8, 4, 0, 1))
	// The old epoch is now fenced, even for a former duplicate.
	_, err = l.Append(idem(8, 3, 0, 1))
	expectErr(t, err, ErrInvalidProducerEpoch)
	// Only the last five batches are remembered.
	for s := int32(1); s <= 6; s++ {
		mustAppend(t, l, idem(8, 4, s, 1))
	}
	_, err = l.Append(idem(8, 4, 1, 1)) // six batches ago
	expectErr(t, err, ErrOutOfOrderSequence)
	res, err := l.Append(idem(8, 4, 2, 1)) // five batches ago
	if err != nil || !res.Duplicate {
		t.Fatalf("fifth-last batch: %+v %v", res, err)
	}
	// Non-idempotent batches are never deduplicated.
	mustAppend(t, l, simple(1, 1, 1))
	if r := mustAppend(t, l, simple(1, 1, 1)); r.Duplicate {
		t.Fatal("non-idempotent duplicate")
	}
}

func TestSequenceWrap(t *testing.T) {
	l := openT(t, t.TempDir(), testConfig())
	mustAppend(t, l, idem(1, 0, 1<<31-3, 3)) // ..MaxInt32
	mustAppend(t, l, idem(1, 0, 0, 2))       // wraps to 0
	_, err := l.Append(idem(1, 0, 3, 1))
	expectErr(t, err, ErrOutOfOrderSequence)
	mustAppend(t, l, idem(1, 0, 2, 1))
	// A batch crossing the wrap.
	mustAppend(t, l, idem(2, 0, 1<<31-2, 4)) // MaxInt32-1, MaxInt32, 0, 1
	res, err := l.Append(idem(2, 0, 1<<31-2, 4))
	if err != nil || !res.Duplicate {
		t.Fatalf("dup across wrap: %+v %v", res, err)
	}
	mustAppend(t, l, idem(2, 0, 2, 1))
}

func TestProducerStateSurvivesReopen(t *testing.T) {
	for _, mode := range []string{"clean", "crash", "crash-after-roll"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig()
			if mode == "crash-after-roll" {
				cfg.SegmentBytes = 300
			}
			l := openT(t, dir, cfg)
			var last AppendResult
			for s := int32(0); s < 10; s++ {
				last = mustAppend(t, l, idem(42, 1, s*2, 2))
			}
			mustAppend(t, l, idem(43, 0, 0, 1))
			if mode == "clean" {
				l.Close()
			} else {
				crash(t, l)
			}
			if mode == "crash" {
				if snaps, _ := listSnapshots(dir); len(snaps) != 0 {
					t.Fatalf("unexpected snapshots %v", snaps)
				}
			}
			if mode == "crash-after-roll" {
				if snaps, _ := listSnapshots(dir); len(snaps) == 0 {
					t.Fatal("no snapshot at roll")
				}
			}
			l = openT(t, dir, cfg)
			res, err := l.Append(idem(42, 1, 18, 2))
			if err != nil || !res.Duplicate || res.BaseOffset != last.BaseOffset {
				t.Fatalf("retry after reopen: %+v %v (want base %d)", res, err, last.BaseOffset)
			}
			_, err = l.Append(idem(42, 1, 21, 1))
			expectErr(t, err, ErrOutOfOrderSequence)
			_, err = l.Append(idem(42, 0, 20, 1))
			expectErr(t, err, ErrInvalidProducerEpoch)
			mustAppend(t, l, idem(42, 1, 20, 1))
			mustAppend(t, l, idem(43, 0, 1, 1))
		})
	}
}

func TestProducerExpiry(t *testing.T) {
	l := openT(t, t.TempDir(), testConfig())
	mustAppend(t, l, idem(1, 0, 0, 1))
	l.Maintain(time.Now())
	_, err := l.Append(idem(1, 0, 5, 1))
	expectErr(t, err, ErrOutOfOrderSequence)
	l.Maintain(time.Now().Add(25 * time.Hour))
	// Forgotten: any sequence is accepted again.
	mustAppend(t, l, idem(1, 0, 5, 1))
}

func TestProducerSnapshotCodec(t *testing.T) {
	ps := newProducerState()
	for i := 0; i < 7; i++ {
		h := idemHeader(t, idem(int64(i%3), int16(i%2), int32(i), 2))
		ps.update(h, int64(i*10), int64(i*10+1), int64(1000+i), 5000)
	}
	b := ps.encode(77)
	off, got, err := decodeProducerSnapshot(b)
	if err != nil || off != 77 || len(got.m) != len(ps.m) {
		t.Fatalf("%d %v %v", off, got, err)
	}
	for id, e := range ps.m {
		g := got.m[id]
		if g == nil || g.epoch != e.epoch || g.lastSeq != e.lastSeq || len(g.batches) != len(e.batches) || g.lastSeenMs != e.lastSeenMs {
			t.Fatalf("producer %d: %+v vs %+v", id, g, e)
		}
	}
	for i := range b {
		c := append([]byte(nil), b[:i]...)
		if _, _, err := decodeProducerSnapshot(c); err == nil {
			t.Fatalf("truncated snapshot at %d accepted", i)
		}
	}
	// A corrupt snapshot is ignored on open; the log is replayed instead.
	dir := t.TempDir()
	l := openT(t, dir, testConfig())
	mustAppend(t, l, idem(5, 0, 0, 1))
	l.Close()
	p := filepath.Join(dir, snapshotName(1))
	data := fileBytes(t, p)
	data[len(data)-1] ^= 1
	os.WriteFile(p, data, 0o644)
	l = openT(t, dir, testConfig())
	res, err := l.Append(idem(5, 0, 0, 1))
	if err != nil || !res.Duplicate {
		t.Fatalf("%+v %v", res, err)
	}
}
