package log

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chronik-streaming/chronik/internal/batch"
	"github.com/chronik-streaming/chronik/internal/batch/batchtest"
	"github.com/chronik-streaming/chronik/internal/compress"
)

func compactConfig() Config {
	c := testConfig()
	c.Compact = true
	c.SegmentBytes = 400
	c.MinCleanableDirtyRatio = 0
	c.DeleteRetentionMs = 60_000
	return c
}

type kv struct {
	key, value string
	tombstone  bool
}

// kvBatch builds a batch of keyed records (value "" with tombstone set is
// a null value).
func kvBatch(ts int64, codec int8, recs ...kv) []byte {
	o := batchtest.Options{BaseTimestamp: ts, Codec: codec}
	for i, r := range recs {
		o.Keys = append(o.Keys, []byte(r.key))
		if r.tombstone {
			o.Values = append(o.Values, nil)
		} else {
			o.Values = append(o.Values, []byte(r.value))
		}
		o.TimestampDeltas = append(o.TimestampDeltas, int64(i))
	}
	if o.Values == nil {
		panic("empty")
	}
	allNil := true
	for _, v := range o.Values {
		allNil = allNil && v == nil
	}
	if allNil {
		// batchtest generates values when Values is nil; a one-record
		// tombstone batch needs a non-nil slice of nil values.
		o.Values = append(make([][]byte, 0, len(o.Values)), o.Values...)
	}
	return batchtest.Build(o)
}

type rec struct {
	off       int64
	key       string
	value     string
	tombstone bool
	ts        int64
}

// readRecords reads the whole log through Read and decodes every record,
// checking CRCs and that offsets increase.
func readRecords(t *testing.T, l *Log) ([]rec, []batch.Header) {
	t.Helper()
	var out []rec
	var hs []batch.Header
	off := l.LogStartOffset()
	last := int64(-1)
	for off < l.HighWatermark() {
		res, err := l.Read(off, 1<<20, true)
		if err != nil {
			t.Fatalf("Read(%d): %v", off, err)
		}
		if len(res.Records) == 0 {
			t.Fatalf("Read(%d) returned nothing below the high watermark %d", off, l.HighWatermark())
		}
		it := batch.NewIterator(res.Records)
		for it.Next() {
			b := it.Batch()
			h, err := validateStored(b)
			if err != nil {
				t.Fatalf("batch at %d: %v", h.BaseOffset, err)
			}
			if h.LastOffset() < off {
				t.Fatalf("batch %d..%d returned for offset %d", h.BaseOffset, h.LastOffset(), off)
			}
			hs = append(hs, h)
			recs, err := batch.Records(b)
			if err != nil {
				t.Fatalf("records of batch %d: %v", h.BaseOffset, err)
			}
			for i := range recs {
				o := h.BaseOffset + int64(recs[i].OffsetDelta)
				if o <= last || o > h.LastOffset() {
					t.Fatalf("record offset %d after %d (batch %d..%d)", o, last, h.BaseOffset, h.LastOffset())
				}
				last = o
				if o < off {
					continue
				}
				out = append(out, rec{off: o, key: string(recs[i].Key), value: string(recs[i].Value), tombstone: recs[i].Value == nil, ts: h.Timestamp(&recs[i])})
			}
			off = h.NextOffset()
		}
	}
	return out, hs
}

func latestByKey(rs []rec) map[string]rec {
	m := map[string]rec{}
	for _, r := range rs {
		m[r.key] = r
	}
	return m
}

// checkCompacted checks that every record below limit has a key seen only
// once below limit, and that the latest record of every key is the same as
// in want.
func checkCompacted(t *testing.T, got []rec, want map[string]rec, limit int64) {
	t.Helper()
	seen := map[string]int64{}
	for _, r := range got {
		if r.off >= limit {
			continue
		}
		if prev, ok := seen[r.key]; ok {
			t.Fatalf("key %q at %d and %d, both below %d", r.key, prev, r.off, limit)
		}
		seen[r.key] = r.off
	}
	gotLatest := latestByKey(got)
	for k, w := range want {
		g, ok := gotLatest[k]
		if w.tombstone {
			if ok && !g.tombstone {
				t.Fatalf("key %q: deleted, but %+v is there", k, g)
			}
			continue
		}
		if !ok || g.off != w.off || g.value != w.value {
			t.Fatalf("key %q: latest %+v, want %+v", k, g, w)
		}
	}
}

func activeBase(l *Log) int64 {
	l.state.RLock()
	defer l.state.RUnlock()
	return l.active().base
}

func segCount(l *Log) int {
	l.state.RLock()
	defer l.state.RUnlock()
	return len(l.segs)
}

// fillUpdates appends n one-record batches cycling over keys k0..k(nkeys-1).
func fillUpdates(t *testing.T, l *Log, n, nkeys int, ts int64) {
	t.Helper()
	for i := 0; i < n; i++ {
		mustAppend(t, l, kvBatch(ts+int64(i), compress.None, kv{key: fmt.Sprintf("k%d", i%nkeys), value: fmt.Sprintf("v%d", i)}))
	}
}

func TestCleanKeepsLatestPerKey(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, compactConfig())
	now := time.UnixMilli(1_000_000)
	fillUpdates(t, l, 100, 5, 1000)
	before, _ := readRecords(t, l)
	want := latestByKey(before)
	size0, segs0 := l.Size(), segCount(l)

	st, err := l.Clean(now)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Cleaned || st.SegmentsWritten == 0 || st.RecordsRemoved == 0 || st.EndOffset != activeBase(l) {
		t.Fatalf("stats %+v (active base %d)", st, activeBase(l))
	}
	got, _ := readRecords(t, l)
	checkCompacted(t, got, want, activeBase(l))
	if l.Size() >= size0 || len(got) >= len(before) {
		t.Fatalf("size %d -> %d, records %d -> %d", size0, l.Size(), len(before), len(got))
	}
	if l.LogEndOffset() != 100 || l.HighWatermark() != 100 || l.LogStartOffset() != 0 {
		t.Fatalf("offsets changed: leo %d hw %d start %d", l.LogEndOffset(), l.HighWatermark(), l.LogStartOffset())
	}
	if l.CleanerCheckpoint() != st.EndOffset {
		t.Fatalf("checkpoint %d, want %d", l.CleanerCheckpoint(), st.EndOffset)
	}
	// Every offset, removed or not, reads the next batch holding a record
	// at or after it.
	for off := int64(0); off < 100; off++ {
		res, err := l.Read(off, 1, true)
		if err != nil || len(res.Records) == 0 {
			t.Fatalf("Read(%d): %v, %d bytes", off, err, len(res.Records))
		}
		h, err := validateStored(res.Records)
		if err != nil || h.LastOffset() < off {
			t.Fatalf("Read(%d): batch %d..%d, %v", off, h.BaseOffset, h.LastOffset(), err)
		}
	}
	// Nothing new: nothing to do.
	if st, err := l.Clean(now); err != nil || st.Cleaned {
		t.Fatalf("second pass %+v %v", st, err)
	}
	// More updates: the next pass cleans them too and still keeps the latest.
	fillUpdates(t, l, 50, 7, 5000)
	all, _ := readRecords(t, l)
	want = latestByKey(append(before, all...))
	segs1 := segCount(l)
	if _, err := l.Clean(now); err != nil {
		t.Fatal(err)
	}
	got, _ = readRecords(t, l)
	checkCompacted(t, got, want, activeBase(l))
	// Small cleaned segments are merged.
	if segCount(l) >= segs1 || segCount(l) >= segs0 {
		t.Fatalf("segments %d, %d -> %d, want fewer", segs0, segs1, segCount(l))
	}

	// Clean restart (trusted segments) and crash (recovered segments).
	l.Close()
	l = openT(t, dir, compactConfig())
	got2, _ := readRecords(t, l)
	if fmt.Sprint(got2) != fmt.Sprint(got) {
		t.Fatalf("after reopen:\n%v\nwant\n%v", got2, got)
	}
	crash(t, l)
	os.Remove(filepath.Join(dir, recoveryPointFile))
	l = openT(t, dir, compactConfig())
	got3, _ := readRecords(t, l)
	if fmt.Sprint(got3) != fmt.Sprint(got) {
		t.Fatalf("after crash:\n%v\nwant\n%v", got3, got)
	}
	if l.LogEndOffset() != 150 {
		t.Fatalf("leo %d", l.LogEndOffset())
	}
}

func TestCleanDirtyRatioAndLag(t *testing.T) {
	cfg := compactConfig()
	cfg.MinCleanableDirtyRatio = 0.99
	l := openT(t, t.TempDir(), cfg)
	fillUpdates(t, l, 40, 3, 1000)
	now := time.UnixMilli(1_000_000)
	if st, err := l.Clean(now); err != nil || !st.Cleaned {
		t.Fatalf("first pass (all dirty) %+v %v", st, err)
	}
	fillUpdates(t, l, 10, 3, 2000)
	st, err := l.Clean(now)
	if err != nil || st.Cleaned || st.DirtyRatio <= 0 || st.DirtyRatio >= 0.99 {
		t.Fatalf("below the ratio: %+v %v", st, err)
	}
	// max.compaction.lag.ms forces the pass.
	cfg.MaxCompactionLagMs = 1000
	l.SetConfig(cfg)
	if st, err := l.Clean(now); err != nil || !st.Cleaned {
		t.Fatalf("past the max lag: %+v %v", st, err)
	}
	// min.compaction.lag.ms holds young segments back.
	cfg.MaxCompactionLagMs = 0
	cfg.MinCleanableDirtyRatio = 0
	cfg.MinCompactionLagMs = 10_000
	l.SetConfig(cfg)
	fillUpdates(t, l, 20, 3, now.UnixMilli()-5000)
	st, err = l.Clean(now)
	if err != nil {
		t.Fatal(err)
	}
	if st.EndOffset > 50 {
		t.Fatalf("cleaned young records: %+v", st)
	}
}

func TestCleanTombstones(t *testing.T) {
	dir := t.TempDir()
	cfg := compactConfig()
	l := openT(t, dir, cfg)
	mustAppend(t, l, kvBatch(1000, compress.None, kv{key: "a", value: "a1"}, kv{key: "b", value: "b1"}))
	mustAppend(t, l, kvBatch(1001, compress.None, kv{key: "a", tombstone: true}))
	fillUpdates(t, l, 30, 3, 2000) // keys k0..k2; closes the tombstone's segment
	now := time.UnixMilli(1_000_000)
	st, err := l.Clean(now)
	if err != nil || !st.Cleaned {
		t.Fatalf("%+v %v", st, err)
	}
	got, hs := readRecords(t, l)
	var tomb *rec
	for i := range got {
		if got[i].key == "a" {
			if !got[i].tombstone {
				t.Fatalf("old value of a survived: %+v", got[i])
			}
			tomb = &got[i]
		}
	}
	if tomb == nil || tomb.off != 2 || tomb.ts != 1001 {
		t.Fatalf("tombstone not kept as is: %+v", tomb)
	}
	for _, h := range hs {
		if h.BaseOffset == 2 {
			if !h.HasDeleteHorizon() || h.BaseTimestamp != now.UnixMilli()+cfg.DeleteRetentionMs {
				t.Fatalf("tombstone batch header %+v: want delete horizon %d", h, now.UnixMilli()+cfg.DeleteRetentionMs)
			}
		}
	}
	if b := latestByKey(got)["b"]; b.value != "b1" || b.off != 1 {
		t.Fatalf("b: %+v", b)
	}
	// Before the horizon: still there.
	if _, err := l.Clean(now.Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	got, _ = readRecords(t, l)
	if _, ok := latestByKey(got)["a"]; !ok {
		t.Fatal("tombstone removed before the horizon")
	}
	// After it: gone, without new dirty data (the horizon triggers the pass).
	st, err = l.Clean(now.Add(61 * time.Second))
	if err != nil || !st.Cleaned || st.TombstonesRemoved != 1 {
		t.Fatalf("%+v %v", st, err)
	}
	got, _ = readRecords(t, l)
	if r, ok := latestByKey(got)["a"]; ok {
		t.Fatalf("tombstone still there: %+v", r)
	}
	if b := latestByKey(got)["b"]; b.value != "b1" {
		t.Fatalf("b lost: %+v", b)
	}
	// A horizon survives restart (it is in the batch).
	l.Close()
	l = openT(t, dir, cfg)
	got2, _ := readRecords(t, l)
	if fmt.Sprint(got) != fmt.Sprint(got2) {
		t.Fatal("records changed across restart")
	}
}

func TestCleanKeepsProducerLastBatch(t *testing.T) {
	dir := t.TempDir()
	cfg := compactConfig()
	l := openT(t, dir, cfg)
	const pid = 42
	idemKV := func(seq int32, key, value string) []byte {
		return batchtest.Build(batchtest.Options{Keys: [][]byte{[]byte(key)}, Values: [][]byte{[]byte(value)},
			BaseTimestamp: 1000, Idempotent: true, ProducerID: pid, ProducerEpoch: 0, BaseSequence: seq})
	}
	for seq := int32(0); seq < 5; seq++ {
		mustAppend(t, l, idemKV(seq, "p", fmt.Sprintf("p%d", seq)))
	}
	lastBatch := idemKV(5, "p", "p5")
	last := mustAppend(t, l, append([]byte(nil), lastBatch...))
	// Later values of "p" from another (non-idempotent) producer make the
	// whole of producer 42's data obsolete.
	fillUpdates(t, l, 30, 1, 2000) // key k0
	mustAppend(t, l, kvBatch(3000, compress.None, kv{key: "p", value: "final"}))
	fillUpdates(t, l, 10, 1, 4000)

	if _, err := l.Clean(time.UnixMilli(1_000_000)); err != nil {
		t.Fatal(err)
	}
	got, hs := readRecords(t, l)
	if v := latestByKey(got)["p"]; v.value != "final" {
		t.Fatalf("p: %+v", v)
	}
	var kept *batch.Header
	for i, h := range hs {
		if h.ProducerID == pid {
			if h.BaseOffset != last.BaseOffset {
				t.Fatalf("an older batch of the producer survived: %+v", h)
			}
			kept = &hs[i]
		}
	}
	if kept == nil || kept.NumRecords != 0 || kept.BaseSequence != 5 || kept.LastOffsetDelta != 0 {
		t.Fatalf("producer's last batch not kept as an empty batch: %+v", kept)
	}
	// Dedup still works: a retry of the last batch is a duplicate.
	res, err := l.Append(append([]byte(nil), lastBatch...))
	if err != nil || !res.Duplicate || res.BaseOffset != last.BaseOffset {
		t.Fatalf("retry: %+v %v", res, err)
	}
	// After a crash without snapshots the state is rebuilt from the log.
	crash(t, l)
	for _, f := range segmentFiles(t, dir, snapshotSuffix) {
		os.Remove(f)
	}
	os.Remove(filepath.Join(dir, recoveryPointFile))
	l = openT(t, dir, cfg)
	if _, err := l.Append(idemKV(9, "p", "gap")); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("sequence gap after recovery: %v", err)
	}
	if res, err := l.Append(idemKV(6, "p", "p6")); err != nil || res.Duplicate {
		t.Fatalf("next sequence after recovery: %+v %v", res, err)
	}
}

func TestCleanKeepsControlBatches(t *testing.T) {
	l := openT(t, t.TempDir(), compactConfig())
	mustAppend(t, l, kvBatch(1000, compress.None, kv{key: "x", value: "1"}))
	ctl := batchtest.Build(batchtest.Options{Keys: [][]byte{{0, 0, 0, 1}}, Values: [][]byte{{0, 0, 0, 0, 0, 0}},
		BaseTimestamp: 1000, Idempotent: true, ProducerID: 7, ProducerEpoch: 0, BaseSequence: -1, Control: true, Transactional: true})
	res := mustAppend(t, l, ctl)
	fillUpdates(t, l, 30, 1, 2000)
	if _, err := l.Clean(time.UnixMilli(1_000_000)); err != nil {
		t.Fatal(err)
	}
	_, hs := readRecords(t, l)
	found := false
	for _, h := range hs {
		if h.BaseOffset == res.BaseOffset {
			found = h.IsControl() && h.NumRecords == 1
		}
	}
	if !found {
		t.Fatal("control batch removed")
	}
}

func TestCleanCompressedBatches(t *testing.T) {
	for _, codec := range []int8{compress.Gzip, compress.Snappy, compress.LZ4, compress.Zstd} {
		t.Run(compress.Name(codec), func(t *testing.T) {
			l := openT(t, t.TempDir(), compactConfig())
			var all []rec
			for i := 0; i < 20; i++ {
				var rs []kv
				for j := 0; j < 4; j++ {
					rs = append(rs, kv{key: fmt.Sprintf("k%d", (i*4+j)%6), value: fmt.Sprintf("v%d", i*4+j)})
				}
				mustAppend(t, l, kvBatch(int64(1000+i*10), codec, rs...))
			}
			all, _ = readRecords(t, l)
			if _, err := l.Clean(time.UnixMilli(1_000_000)); err != nil {
				t.Fatal(err)
			}
			got, hs := readRecords(t, l)
			checkCompacted(t, got, latestByKey(all), activeBase(l))
			rebuilt := 0
			for _, h := range hs {
				if h.Codec() != codec && h.NumRecords > 0 {
					t.Fatalf("batch %d codec %d", h.BaseOffset, h.Codec())
				}
				if int64(h.NumRecords) < int64(h.LastOffsetDelta)+1 && h.NumRecords > 0 {
					rebuilt++
				}
			}
			if rebuilt == 0 {
				t.Fatal("no partially cleaned batch")
			}
			// Timestamps of kept records are unchanged.
			orig := map[int64]int64{}
			for _, r := range all {
				orig[r.off] = r.ts
			}
			for _, r := range got {
				if orig[r.off] != r.ts {
					t.Fatalf("record %d timestamp %d, was %d", r.off, r.ts, orig[r.off])
				}
			}
		})
	}
}

func TestCompactedRefusesKeylessRecords(t *testing.T) {
	l := openT(t, t.TempDir(), compactConfig())
	keyless := batchtest.Build(batchtest.Options{Keys: [][]byte{[]byte("a")}, Values: [][]byte{[]byte("1"), []byte("2")}})
	if _, err := l.Append(keyless); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("keyless record on a compacted log: %v", err)
	}
	gz := batchtest.Build(batchtest.Options{N: 3, ValueSize: 5, Codec: compress.Gzip})
	if _, err := l.Append(gz); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("compressed keyless records: %v", err)
	}
	if l.LogEndOffset() != 0 {
		t.Fatal("something was written")
	}
	mustAppend(t, l, kvBatch(1, compress.Gzip, kv{key: "a", value: "1"}, kv{key: "", value: "empty key is a key"}))
	// A non-compacted log takes them.
	l2 := openT(t, t.TempDir(), testConfig())
	mustAppend(t, l2, batchtest.Build(batchtest.Options{N: 3, ValueSize: 5}))
}

func TestRetentionUnderCompaction(t *testing.T) {
	for _, del := range []bool{false, true} {
		cfg := compactConfig()
		cfg.Delete = del
		cfg.RetentionMs = 1000
		l := openT(t, t.TempDir(), cfg)
		fillUpdates(t, l, 40, 40, 1000)
		n := segCount(l)
		l.Maintain(time.UnixMilli(1_000_000))
		if del && segCount(l) != 1 {
			t.Fatalf("compact,delete: %d segments left of %d", segCount(l), n)
		}
		if !del && segCount(l) != n {
			t.Fatalf("compact: %d segments left of %d", segCount(l), n)
		}
	}
}

// TestCleanCrashDuringSwap stops a swap at each step, as a crash would,
// then reopens the log: before the commit point the old segments are
// back, after it the cleaned one; nothing that must be kept is lost, and
// no temporary file is left.
func TestCleanCrashDuringSwap(t *testing.T) {
	steps := []string{"cleaned", "before-commit", "committed", "old-deleted-one", "old-deleted", "renamed"}
	for _, step := range steps {
		t.Run(step, func(t *testing.T) {
			dir := t.TempDir()
			cfg := compactConfig()
			l := openT(t, dir, cfg)
			fillUpdates(t, l, 60, 4, 1000)
			before, _ := readRecords(t, l)
			want := latestByKey(before)
			swapHook = func(s string) error {
				if s == step {
					return errSwapStopped
				}
				return nil
			}
			_, err := l.Clean(time.UnixMilli(1_000_000))
			swapHook = nil
			if !errors.Is(err, errSwapStopped) {
				t.Fatalf("Clean: %v", err)
			}
			crash(t, l)
			l = openT(t, dir, cfg)
			got, _ := readRecords(t, l)
			committed := step != "cleaned" && step != "before-commit"
			if !committed && fmt.Sprint(got) != fmt.Sprint(before) {
				t.Fatalf("rolled-back swap changed the log")
			}
			if committed && len(got) >= len(before) {
				t.Fatalf("committed swap lost: %d records, had %d", len(got), len(before))
			}
			// Every record left is an original one.
			orig := map[int64]rec{}
			for _, r := range before {
				orig[r.off] = r
			}
			for _, r := range got {
				if orig[r.off] != r {
					t.Fatalf("record %+v, was %+v", r, orig[r.off])
				}
			}
			checkCompacted(t, got, want, 0)
			if l.LogEndOffset() != 60 {
				t.Fatalf("leo %d", l.LogEndOffset())
			}
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				for _, suf := range []string{cleanedSuffix, swapSuffix, deletedSuffix, cleanerSwapFile} {
					if strings.HasSuffix(e.Name(), suf) {
						t.Fatalf("left over: %s", e.Name())
					}
				}
			}
			// Cleaning works again and the log reads the same after it.
			if _, err := l.Clean(time.UnixMilli(1_000_000)); err != nil {
				t.Fatal(err)
			}
			got, _ = readRecords(t, l)
			checkCompacted(t, got, want, activeBase(l))
			l.Append(kvBatch(9, compress.None, kv{key: "z", value: "z"}))
			if !bytes.Equal([]byte(latestByKey(got)["k3"].value), []byte(want["k3"].value)) {
				t.Fatal("k3 lost")
			}
		})
	}
}

// TestCleanMapLimit: a map too small for the dirty section cleans a prefix
// and moves the checkpoint only that far.
func TestCleanMapLimit(t *testing.T) {
	cfg := compactConfig()
	cfg.CleanerDedupeBufferSize = 10 * cleanerEntrySize // 9 keys
	l := openT(t, t.TempDir(), cfg)
	for i := 0; i < 60; i++ {
		mustAppend(t, l, kvBatch(int64(i), compress.None, kv{key: fmt.Sprintf("k%d", i%30), value: fmt.Sprintf("v%d", i)}))
	}
	before, _ := readRecords(t, l)
	want := latestByKey(before)
	st, err := l.Clean(time.UnixMilli(1_000_000))
	if err != nil || !st.Partial || st.EndOffset <= 0 || st.EndOffset >= activeBase(l) || st.MapKeys > 9 {
		t.Fatalf("%+v %v", st, err)
	}
	got, _ := readRecords(t, l)
	checkCompacted(t, got, want, 0)
	for i := 0; i < 20; i++ {
		if st, err = l.Clean(time.UnixMilli(1_000_000)); err != nil {
			t.Fatal(err)
		}
		if !st.Cleaned {
			break
		}
	}
	got, _ = readRecords(t, l)
	checkCompacted(t, got, want, activeBase(l))
	if l.CleanerCheckpoint() != activeBase(l) {
		t.Fatalf("checkpoint %d, active base %d", l.CleanerCheckpoint(), activeBase(l))
	}
}
