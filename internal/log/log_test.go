package log

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chronik-streaming/chronik/internal/batch"
	"github.com/chronik-streaming/chronik/internal/batch/batchtest"
	"github.com/chronik-streaming/chronik/internal/compress"
)

func TestAppendReadRoundTrip(t *testing.T) {
	for _, policy := range []FsyncPolicy{FsyncAlways, FsyncInterval, FsyncNever} {
		dir := t.TempDir()
		cfg := testConfig()
		cfg.Fsync = policy
		l := openT(t, dir, cfg)
		l.SetLeaderEpoch(3)
		var want [][]byte
		next := int64(0)
		for i := 0; i < 20; i++ {
			b := simple(i%4+1, 50+i, int64(1000+i))
			res := mustAppend(t, l, b)
			if res.BaseOffset != next || res.LastOffset != next+int64(i%4) || res.LogAppendTime != -1 || res.Duplicate {
				t.Fatalf("append %d: %+v", i, res)
			}
			next = res.LastOffset + 1
			h, err := batch.Validate(b)
			if err != nil {
				t.Fatalf("stored batch invalid: %v", err)
			}
			if h.BaseOffset != res.BaseOffset || h.PartitionLeaderEpoch != 3 {
				t.Fatalf("header not rewritten: %+v", h)
			}
			want = append(want, b)
		}
		if l.LogEndOffset() != next || l.HighWatermark() != next || l.LastStableOffset() != next || l.LogStartOffset() != 0 {
			t.Fatalf("offsets: leo %d hw %d", l.LogEndOffset(), l.HighWatermark())
		}
		equalBatches(t, readAllBatches(t, l), want)
		var total int64
		for _, b := range want {
			total += int64(len(b))
		}
		if l.Size() != total {
			t.Fatalf("size %d want %d", l.Size(), total)
		}
		// Every offset reads the batch holding it first.
		for off := int64(0); off < next; off++ {
			res, err := l.Read(off, 1, true)
			if err != nil {
				t.Fatal(err)
			}
			h, err := batch.Validate(res.Records)
			if err != nil || h.BaseOffset > off || h.LastOffset() < off {
				t.Fatalf("Read(%d) gave batch %d..%d (%v)", off, h.BaseOffset, h.LastOffset(), err)
			}
			if res.HighWatermark != next || res.LogStartOffset != 0 {
				t.Fatalf("read result offsets %+v", res)
			}
		}
	}
}

func TestReadLimits(t *testing.T) {
	l := openT(t, t.TempDir(), testConfig())
	var bs [][]byte
	for i := 0; i < 5; i++ {
		b := simple(5, 100, 1)
		mustAppend(t, l, b)
		bs = append(bs, b)
	}
	sz := int32(len(bs[0]))
	// Mid-batch: offset 7 is in the second batch (5..9).
	res, err := l.Read(7, 1<<20, true)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(res.Records, bytes.Join(bs[1:], nil)) {
		t.Fatalf("mid-batch read returned %d bytes", len(res.Records))
	}
	// maxBytes cuts at whole batches.
	res, _ = l.Read(0, 2*sz+sz/2, false)
	if !bytes.Equal(res.Records, bytes.Join(bs[:2], nil)) {
		t.Fatalf("maxBytes 2.5 batches: %d bytes", len(res.Records))
	}
	// Smaller than one batch: whole first batch with minOneBatch, else none.
	res, _ = l.Read(0, 10, true)
	if !bytes.Equal(res.Records, bs[0]) {
		t.Fatalf("minOneBatch: %d bytes", len(res.Records))
	}
	res, _ = l.Read(0, 0, true)
	if !bytes.Equal(res.Records, bs[0]) {
		t.Fatalf("minOneBatch with 0: %d bytes", len(res.Records))
	}
	res, err = l.Read(0, sz-1, false)
	if err != nil || len(res.Records) != 0 {
		t.Fatalf("no minOneBatch: %d bytes, %v", len(res.Records), err)
	}
	// At the end: nothing, no error. Past it: out of range.
	res, err = l.Read(25, 1000, true)
	if err != nil || len(res.Records) != 0 || res.HighWatermark != 25 {
		t.Fatalf("at end: %+v %v", res, err)
	}
	_, err = l.Read(26, 1000, true)
	expectErr(t, err, ErrOffsetOutOfRange)
	_, err = l.Read(-1, 1000, true)
	expectErr(t, err, ErrOffsetOutOfRange)
	if ErrorCode(err) != 1 {
		t.Fatalf("code %d", ErrorCode(err))
	}
}

func TestSegmentRoll(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 1000
	cfg.IndexIntervalBytes = 100
	l := openT(t, dir, cfg)
	var want [][]byte
	for i := 0; i < 60; i++ {
		b := simple(2, 60, int64(i))
		mustAppend(t, l, b)
		want = append(want, b)
	}
	logs := segmentFiles(t, dir, ".log")
	if len(logs) < 10 {
		t.Fatalf("only %d segments", len(logs))
	}
	for _, p := range logs {
		st, _ := os.Stat(p)
		if st.Size() > 1000 {
			t.Fatalf("%s is %d bytes", p, st.Size())
		}
		base := filepath.Base(p)
		for _, suf := range []string{".index", ".timeindex"} {
			if _, err := os.Stat(filepath.Join(dir, base[:20]+suf)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if filepath.Base(logs[0]) != "00000000000000000000.log" {
		t.Fatalf("first segment %s", logs[0])
	}
	equalBatches(t, readAllBatches(t, l), want)
	// A read returns batches of one segment only, and the next read goes on.
	res, _ := l.Read(0, 1<<20, false)
	st, _ := os.Stat(logs[0])
	if int64(len(res.Records)) != st.Size() {
		t.Fatalf("read %d bytes, segment has %d", len(res.Records), st.Size())
	}
	// Every segment's index is in offset order and usable.
	l.state.RLock()
	for _, s := range l.segs[:len(l.segs)-1] {
		if !s.index.released || s.index.len() == 0 || s.index.entries != nil {
			t.Fatalf("segment %d index not released to the file", s.base)
		}
		ix, err := openOffsetIndex(segmentName(dir, s.base, indexSuffix))
		if err != nil || ix.sane(s.size, s.next-s.base) != nil || len(ix.entries) != s.index.len() {
			t.Fatalf("segment %d index file %v (%v)", s.base, ix.entries, err)
		}
		ix.f.Close()
		if last, ok := s.timeIndex.last(); !ok || last.ts != s.maxTS {
			t.Fatalf("segment %d time index %v, max %d", s.base, s.timeIndex.entries, s.maxTS)
		}
	}
	l.state.RUnlock()
	// Reopen and read again: in order, then every offset backwards (so
	// that lookups go through the on-disk indexes, not the read hint).
	l.Close()
	l = openT(t, dir, cfg)
	equalBatches(t, readAllBatches(t, l), want)
	for off := l.LogEndOffset() - 1; off >= 0; off-- {
		res, err := l.Read(off, 1, true)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(res.Records, want[off/2]) {
			t.Fatalf("Read(%d) returned the wrong batch", off)
		}
	}
}

func TestAppendValidation(t *testing.T) {
	cfg := testConfig()
	cfg.MaxMessageBytes = 500
	l := openT(t, t.TempDir(), cfg)
	good := simple(2, 10, 1)
	cases := map[string]struct {
		b    []byte
		want error
	}{
		"empty":     {nil, ErrCorruptMessage},
		"short":     {good[:40], ErrCorruptMessage},
		"truncated": {good[:len(good)-1], ErrCorruptMessage},
		"two":       {append(bytes.Clone(good), good...), ErrInvalidRecord},
		"large":     {simple(1, 600, 1), ErrMessageTooLarge},
	}
	bad := bytes.Clone(good)
	bad[len(bad)-1] ^= 0xff
	cases["crc"] = struct {
		b    []byte
		want error
	}{bad, ErrCorruptMessage}
	bad = bytes.Clone(good)
	bad[16] = 1
	cases["magic"] = struct {
		b    []byte
		want error
	}{bad, ErrCorruptMessage}
	bad = bytes.Clone(good)
	binary.BigEndian.PutUint32(bad[23:], 7)
	batchtest.Fix(bad)
	cases["count"] = struct {
		b    []byte
		want error
	}{bad, ErrCorruptMessage}
	bad = idem(5, 0, 0, 1)
	binary.BigEndian.PutUint32(bad[53:], 0xffffffff)
	batchtest.Fix(bad)
	cases["no-sequence"] = struct {
		b    []byte
		want error
	}{bad, ErrInvalidRecord}
	for name, c := range cases {
		_, err := l.Append(c.b)
		if !errors_is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	if l.LogEndOffset() != 0 || l.Size() != 0 {
		t.Fatalf("rejected batches were written: leo %d", l.LogEndOffset())
	}
	// Control batches are accepted.
	ctl := batchtest.Build(batchtest.Options{N: 1, ValueSize: 6, Control: true, Transactional: true, Idempotent: true, ProducerID: 9, BaseSequence: -1})
	if _, err := l.Append(ctl); err != nil {
		t.Fatalf("control batch: %v", err)
	}
}

func TestTimestampDifference(t *testing.T) {
	cfg := testConfig()
	cfg.MessageTimestampDifferenceMaxMs = 60000
	l := openT(t, t.TempDir(), cfg)
	now := time.Now().UnixMilli()
	if _, err := l.Append(simple(1, 1, now)); err != nil {
		t.Fatal(err)
	}
	_, err := l.Append(simple(1, 1, now-3600000))
	expectErr(t, err, ErrInvalidTimestamp)
}

func TestLogAppendTime(t *testing.T) {
	cfg := testConfig()
	cfg.TimestampType = LogAppendTime
	l := openT(t, t.TempDir(), cfg)
	at := time.UnixMilli(1_700_000_000_000)
	l.now = func() time.Time { return at }
	b := batchtest.Build(batchtest.Options{N: 3, ValueSize: 10, BaseTimestamp: 5, Codec: compress.LZ4})
	res := mustAppend(t, l, b)
	if res.LogAppendTime != at.UnixMilli() {
		t.Fatalf("LogAppendTime %d", res.LogAppendTime)
	}
	r, _ := l.Read(0, 1000, true)
	h, err := batch.Validate(r.Records)
	if err != nil || !h.IsLogAppendTime() || h.MaxTimestamp != at.UnixMilli() || h.BaseTimestamp != 5 {
		t.Fatalf("%+v %v", h, err)
	}
	off, ts, found, err := l.OffsetForTimestamp(at.UnixMilli())
	if err != nil || !found || off != 0 || ts != at.UnixMilli() {
		t.Fatalf("OffsetForTimestamp: %d %d %v %v", off, ts, found, err)
	}
}

func TestFsyncAlwaysHighWatermark(t *testing.T) {
	cfg := testConfig()
	cfg.Fsync = FsyncAlways
	l := openT(t, t.TempDir(), cfg)
	notify := l.Notify()
	res, err := l.Append(simple(3, 10, 1))
	if err != nil {
		t.Fatal(err)
	}
	if l.LogEndOffset() != 3 {
		t.Fatalf("leo %d", l.LogEndOffset())
	}
	if err := l.WaitDurable(context.Background(), res.LastOffset+1); err != nil {
		t.Fatal(err)
	}
	if l.HighWatermark() != 3 || l.FsyncCount() == 0 {
		t.Fatalf("hw %d fsyncs %d", l.HighWatermark(), l.FsyncCount())
	}
	select {
	case <-notify:
	case <-time.After(5 * time.Second):
		t.Fatal("Notify channel not closed")
	}
	// Waiting for an offset not yet appended ends with the context.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	expectErr(t, l.WaitDurable(ctx, 10), context.DeadlineExceeded)
	// Switching to FsyncNever makes written data readable at once.
	l.SetConfig(testConfig())
	r2, _ := l.Append(simple(1, 1, 1))
	if l.HighWatermark() != r2.LastOffset+1 {
		t.Fatalf("hw %d after FsyncNever append", l.HighWatermark())
	}
}

func TestFsyncInterval(t *testing.T) {
	cfg := testConfig()
	cfg.Fsync = FsyncInterval
	cfg.FlushIntervalMs = 10
	l := openT(t, t.TempDir(), cfg)
	res, _ := l.Append(simple(1, 1, 1))
	if l.HighWatermark() != res.LastOffset+1 {
		t.Fatal("hw did not advance on append")
	}
	deadline := time.Now().Add(5 * time.Second)
	for l.FsyncCount() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no interval fsync")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCloseReopenClean(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	l := openT(t, dir, cfg)
	var want [][]byte
	for i := 0; i < 10; i++ {
		b := simple(2, 30, int64(i))
		mustAppend(t, l, b)
		want = append(want, b)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err := l.Append(simple(1, 1, 1))
	expectErr(t, err, ErrClosed)
	_, err = l.Read(0, 100, true)
	expectErr(t, err, ErrClosed)
	expectErr(t, l.WaitDurable(context.Background(), 100), ErrClosed)
	select {
	case <-l.Notify():
	default:
		t.Fatal("Notify not closed after Close")
	}
	for _, f := range []string{cleanShutdownFile, recoveryPointFile, logStartFile, leaderEpochFile, "00000000000000000020.snapshot"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatalf("missing %s: %v", f, err)
		}
	}
	l = openT(t, dir, cfg)
	if _, err := os.Stat(filepath.Join(dir, cleanShutdownFile)); !os.IsNotExist(err) {
		t.Fatalf("marker still there: %v", err)
	}
	if l.LogEndOffset() != 20 || l.HighWatermark() != 20 {
		t.Fatalf("leo %d hw %d", l.LogEndOffset(), l.HighWatermark())
	}
	equalBatches(t, readAllBatches(t, l), want)
	res := mustAppend(t, l, simple(1, 1, 1))
	if res.BaseOffset != 20 {
		t.Fatalf("next offset %d", res.BaseOffset)
	}
}

func TestCleanOpenTrustsData(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, testConfig())
	for i := 0; i < 3; i++ {
		mustAppend(t, l, simple(1, 20, 1))
	}
	l.Close()
	// Flip a record byte: a clean start does not check CRCs.
	p := filepath.Join(dir, "00000000000000000000.log")
	data := fileBytes(t, p)
	data[len(data)-2] ^= 1
	os.WriteFile(p, data, 0o644)
	l = openT(t, dir, testConfig())
	if l.LogEndOffset() != 3 {
		t.Fatalf("clean open rescanned: leo %d", l.LogEndOffset())
	}
}

func TestDelete(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "topic-0")
	l := openT(t, dir, testConfig())
	mustAppend(t, l, simple(1, 1, 1))
	if err := l.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("dir still exists: %v", err)
	}
}

func TestLeaderEpochs(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, testConfig())
	if e, o := l.EndOffsetForLeaderEpoch(0); e != -1 || o != -1 {
		t.Fatalf("empty log: %d %d", e, o)
	}
	l.SetLeaderEpoch(0)
	mustAppend(t, l, simple(5, 1, 1)) // 0..4 epoch 0
	l.SetLeaderEpoch(2)
	mustAppend(t, l, simple(5, 1, 1)) // 5..9 epoch 2
	mustAppend(t, l, simple(5, 1, 1)) // 10..14 epoch 2
	l.SetLeaderEpoch(5)
	mustAppend(t, l, simple(2, 1, 1)) // 15..16 epoch 5
	if l.LeaderEpoch() != 5 {
		t.Fatalf("epoch %d", l.LeaderEpoch())
	}
	check := func(l *Log) {
		t.Helper()
		cases := []struct {
			req     int32
			e       int32
			endOffs int64
		}{{-1, -1, -1}, {0, 0, 5}, {1, 0, 5}, {2, 2, 15}, {3, 2, 15}, {4, 2, 15}, {5, 5, 17}, {6, -1, -1}}
		for _, c := range cases {
			if e, o := l.EndOffsetForLeaderEpoch(c.req); e != c.e || o != c.endOffs {
				t.Errorf("epoch %d: got (%d,%d) want (%d,%d)", c.req, e, o, c.e, c.endOffs)
			}
		}
	}
	check(l)
	res, _ := l.Read(15, 1000, true)
	if h, _ := batch.ParseHeader(res.Records); h.PartitionLeaderEpoch != 5 {
		t.Fatalf("stored epoch %d", h.PartitionLeaderEpoch)
	}
	l.Close()
	l = openT(t, dir, testConfig())
	check(l)
	if l.LeaderEpoch() != 5 {
		t.Fatalf("epoch after reopen %d", l.LeaderEpoch())
	}
	// Without a clean shutdown and without the checkpoint, the epochs are
	// rebuilt from the batches.
	crash(t, l)
	os.Remove(filepath.Join(dir, leaderEpochFile))
	os.Remove(filepath.Join(dir, recoveryPointFile))
	l = openT(t, dir, testConfig())
	check(l)
	// A requested epoch below every known one: the epoch itself and the
	// first start offset.
	l.mu.Lock()
	l.state.Lock()
	l.epochs.truncateFromStart(3)
	l.epochs.entries[0].epoch = 1
	l.state.Unlock()
	l.mu.Unlock()
	if e, o := l.EndOffsetForLeaderEpoch(0); e != 0 || o != 3 {
		t.Fatalf("below all: %d %d", e, o)
	}
}

func TestErrorCodes(t *testing.T) {
	for err, code := range map[error]int16{
		nil: 0, ErrOffsetOutOfRange: 1, ErrCorruptMessage: 2, ErrMessageTooLarge: 10, ErrInvalidTimestamp: 32,
		ErrOutOfOrderSequence: 45, ErrInvalidProducerEpoch: 47, ErrStorage: 56, ErrInvalidRecord: 87, ErrClosed: 6,
	} {
		if got := ErrorCode(err); got != code {
			t.Errorf("%v: %d want %d", err, got, code)
		}
	}
	if ErrorCode(os.ErrClosed) != -1 {
		t.Error("unknown error")
	}
}

func TestRelativeOffsetOverflowRolls(t *testing.T) {
	l := openT(t, t.TempDir(), testConfig())
	mustAppend(t, l, simple(1, 1, 1))
	// Pretend the log end is far beyond the segment base.
	l.mu.Lock()
	l.leo.Store(math.MaxInt32 + 10)
	l.state.Lock()
	l.active().next = math.MaxInt32 + 10
	l.state.Unlock()
	l.mu.Unlock()
	res := mustAppend(t, l, simple(1, 1, 1))
	if len(l.segs) != 2 || l.active().base != res.BaseOffset {
		t.Fatalf("no roll: %d segments", len(l.segs))
	}
}

func errors_is(err, target error) bool { return errors.Is(err, target) }
