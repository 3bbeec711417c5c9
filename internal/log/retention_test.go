package log

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/chronik-streaming/chronik/internal/batch/batchtest"
	"github.com/chronik-streaming/chronik/internal/compress"
)

func TestRetentionByTime(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 1024
	cfg.RetentionMs = 3600_000
	l := openT(t, dir, cfg)
	base := time.Now().Add(-10 * time.Hour).UnixMilli()
	for i := 0; i < 30; i++ {
		mustAppend(t, l, simple(2, 100, base+int64(i)*int64(time.Hour/time.Millisecond)/3))
	}
	nseg := len(segmentFiles(t, dir, ".log"))
	l.Maintain(time.Now())
	left := segmentFiles(t, dir, ".log")
	if len(left) >= nseg || len(left) == 0 {
		t.Fatalf("%d segments before, %d after", nseg, len(left))
	}
	start := l.LogStartOffset()
	if start == 0 {
		t.Fatal("log start did not move")
	}
	// What is left holds no segment entirely older than retention
	// (besides the active one).
	l.state.RLock()
	for _, s := range l.segs[:len(l.segs)-1] {
		if s.maxTS < time.Now().Add(-time.Hour).UnixMilli() {
			t.Errorf("segment %d (max %d) should be gone", s.base, s.maxTS)
		}
	}
	l.state.RUnlock()
	_, err := l.Read(0, 100, true)
	expectErr(t, err, ErrOffsetOutOfRange)
	got := readAllBatches(t, l)
	if len(got) == 0 {
		t.Fatal("nothing left")
	}
	// Survives reopen.
	l.Close()
	l = openT(t, dir, cfg)
	if l.LogStartOffset() != start {
		t.Fatalf("log start %d after reopen, want %d", l.LogStartOffset(), start)
	}
	res := mustAppend(t, l, simple(1, 1, time.Now().UnixMilli()))
	if res.LogStartOffset != start {
		t.Fatalf("AppendResult.LogStartOffset %d", res.LogStartOffset)
	}
}

func TestRetentionNeverDeletesActive(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.RetentionMs = 0
	cfg.RetentionBytes = 0
	l := openT(t, dir, cfg)
	mustAppend(t, l, simple(1, 10, 1))
	l.Maintain(time.Now())
	if l.LogStartOffset() != 0 || len(segmentFiles(t, dir, ".log")) != 1 {
		t.Fatal("active segment deleted")
	}
}

func TestRetentionBySize(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 1024
	cfg.RetentionMs = -1
	cfg.RetentionBytes = 3000
	l := openT(t, dir, cfg)
	now := time.Now().UnixMilli()
	for i := 0; i < 40; i++ {
		mustAppend(t, l, simple(1, 150, now))
	}
	l.Maintain(time.Now())
	// As Kafka: delete oldest segments while what remains is still at
	// least retention.bytes.
	if l.Size() < 3000 || l.Size() >= 3000+1024 {
		t.Fatalf("size %d after retention", l.Size())
	}
	var sum int64
	l.state.RLock()
	for _, s := range l.segs {
		sum += s.size
	}
	l.state.RUnlock()
	if sum != l.Size() {
		t.Fatalf("Size() %d, segments %d", l.Size(), sum)
	}
	// Live config change: infinite retention keeps the rest.
	cfg.RetentionBytes = -1
	l.SetConfig(cfg)
	before := l.LogStartOffset()
	l.Maintain(time.Now())
	if l.LogStartOffset() != before {
		t.Fatal("deleted with infinite retention")
	}
}

func TestRetentionStopsAtHighWatermark(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.Fsync = FsyncAlways
	cfg.SegmentBytes = 200
	cfg.RetentionBytes = 0
	l := openT(t, dir, cfg)
	for i := 0; i < 5; i++ {
		mustAppend(t, l, simple(1, 150, 1))
	}
	l.Maintain(time.Now())
	if l.LogStartOffset() != 4 {
		t.Fatalf("log start %d, want 4", l.LogStartOffset())
	}
}

func TestMaintainRollsBySegmentMs(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentMs = 60_000
	cfg.RetentionMs = 120_000
	l := openT(t, dir, cfg)
	var mu sync.Mutex
	now := time.Now()
	fixedClock(l, &now, &mu)
	mustAppend(t, l, simple(1, 10, now.UnixMilli()))
	l.Maintain(now.Add(30 * time.Second))
	if n := len(segmentFiles(t, dir, ".log")); n != 1 {
		t.Fatalf("%d segments", n)
	}
	l.Maintain(now.Add(61 * time.Second))
	if n := len(segmentFiles(t, dir, ".log")); n != 2 {
		t.Fatalf("%d segments after segment.ms", n)
	}
	// Appends in the new segment; later the old one expires.
	mu.Lock()
	now = now.Add(61 * time.Second)
	mu.Unlock()
	mustAppend(t, l, simple(1, 10, now.UnixMilli()))
	l.Maintain(now.Add(100 * time.Second))
	if l.LogStartOffset() != 1 {
		t.Fatalf("log start %d", l.LogStartOffset())
	}
	// An append to an old segment rolls it too.
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	res := mustAppend(t, l, simple(1, 10, now.UnixMilli()))
	if l.active().base != res.BaseOffset {
		t.Fatal("append did not roll an old segment")
	}
}

func TestOffsetForTimestamp(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 600
	cfg.IndexIntervalBytes = 100
	l := openT(t, dir, cfg)
	// Batches of 3 records at ts = 1000*i + {0, 20, 10} (non-monotonic
	// inside a batch), one compressed, one batch with an old timestamp.
	for i := 0; i < 20; i++ {
		o := batchtest.Options{N: 3, ValueSize: 20, BaseTimestamp: int64(1000 * (i + 1)), TimestampDeltas: []int64{0, 20, 10}}
		if i%3 == 0 {
			o.Codec = compress.Zstd
		}
		if i == 10 {
			o.BaseTimestamp = 5 // late, old record
		}
		mustAppend(t, l, batchtest.Build(o))
	}
	if len(segmentFiles(t, dir, ".log")) < 3 {
		t.Fatal("want several segments")
	}
	check := func(l *Log) {
		t.Helper()
		cases := []struct {
			ts, off, rts int64
			found        bool
		}{
			{0, 0, 1000, true},
			{1000, 0, 1000, true},
			{1001, 1, 1020, true},
			{1015, 1, 1020, true},
			{1020, 1, 1020, true},
			{1021, 3, 2000, true},
			{5010, 13, 5020, true},
			{9021, 27, 10000, true},
			{10021, 33, 12000, true}, // batch 10 (offsets 30..32) holds 5..25
			{20000, 57, 20000, true},
			{20020, 58, 20020, true},
			{20021, -1, -1, false},
		}
		for _, c := range cases {
			off, rts, found, err := l.OffsetForTimestamp(c.ts)
			if err != nil || off != c.off || rts != c.rts || found != c.found {
				t.Errorf("ts %d: got (%d,%d,%v,%v), want (%d,%d,%v)", c.ts, off, rts, found, err, c.off, c.rts, c.found)
			}
		}
		if off, ts := l.MaxTimestamp(); off != 58 || ts != 20020 {
			t.Errorf("MaxTimestamp (%d,%d)", off, ts)
		}
	}
	check(l)
	l.Close()
	l = openT(t, dir, cfg)
	check(l)
	crash(t, l)
	l = openT(t, dir, cfg)
	check(l)
}

func TestMaxTimestampEmpty(t *testing.T) {
	l := openT(t, t.TempDir(), testConfig())
	if off, ts := l.MaxTimestamp(); off != -1 || ts != -1 {
		t.Fatalf("(%d,%d)", off, ts)
	}
	if _, _, found, err := l.OffsetForTimestamp(0); found || err != nil {
		t.Fatal("found in empty log")
	}
	// Ties: the first record with the max timestamp.
	mustAppend(t, l, simple(2, 1, 50))
	mustAppend(t, l, simple(2, 1, 50))
	if off, ts := l.MaxTimestamp(); off != 0 || ts != 50 {
		t.Fatalf("(%d,%d)", off, ts)
	}
}

func TestDeleteRecordsBefore(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 400 // a few batches per segment
	l := openT(t, dir, cfg)
	for i := 0; i < 20; i++ {
		mustAppend(t, l, simple(2, 40, 1000))
	}
	segsBefore := len(l.segs)
	if _, err := l.DeleteRecordsBefore(41); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("beyond the high watermark: %v", err)
	}
	low, err := l.DeleteRecordsBefore(13) // mid-batch (12-13), mid-segment
	if err != nil || low != 13 || l.LogStartOffset() != 13 {
		t.Fatalf("delete before 13: low %d, %v", low, err)
	}
	if len(l.segs) >= segsBefore {
		t.Fatalf("no segment deleted: %d -> %d", segsBefore, len(l.segs))
	}
	if _, err := l.Read(12, 1<<20, true); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below the new start: %v", err)
	}
	res, err := l.Read(13, 1<<20, true)
	if err != nil || len(res.Records) == 0 || res.LogStartOffset != 13 {
		t.Fatalf("read at the new start: %v %+v", err, res.LogStartOffset)
	}
	if low, _ := l.DeleteRecordsBefore(5); low != 13 {
		t.Fatalf("moving the start backwards: low %d", low)
	}
	// Durable: a reopen (even without a clean close) keeps the start.
	crash(t, l)
	l2 := openT(t, dir, cfg)
	if l2.LogStartOffset() != 13 {
		t.Fatalf("after reopen the log start is %d", l2.LogStartOffset())
	}
	if low, err := l2.DeleteRecordsBefore(-1); err != nil || low != 40 {
		t.Fatalf("delete up to the high watermark: %d %v", low, err)
	}
}
