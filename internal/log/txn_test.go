package log

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/chronik-streaming/chronik/internal/batch"
	"github.com/chronik-streaming/chronik/internal/batch/batchtest"
)

// txnBatch builds a transactional batch of n records of producer pid.
func txnBatch(pid int64, epoch int16, seq int32, n int) []byte {
	return batchtest.Build(batchtest.Options{N: n, ValueSize: 10, BaseTimestamp: 1000,
		Idempotent: true, ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq, Transactional: true})
}

// txnKV builds a transactional batch of keyed records.
func txnKV(pid int64, seq int32, recs ...kv) []byte {
	o := batchtest.Options{BaseTimestamp: 1000, Idempotent: true, ProducerID: pid, BaseSequence: seq, Transactional: true}
	for _, r := range recs {
		o.Keys = append(o.Keys, []byte(r.key))
		o.Values = append(o.Values, []byte(r.value))
	}
	return batchtest.Build(o)
}

func mustMarker(t testing.TB, l *Log, pid int64, epoch int16, commit bool) AppendResult {
	t.Helper()
	res, err := l.AppendMarker(pid, epoch, commit, 3)
	if err != nil {
		t.Fatalf("AppendMarker(%d, %d, %v): %v", pid, epoch, commit, err)
	}
	if err := l.WaitDurable(context.Background(), res.LastOffset+1); err != nil {
		t.Fatal(err)
	}
	return res
}

// readCommittedAll reads from off up to the LSO through ReadCommitted and
// returns the batch headers and the aborted transactions of each read.
func readCommittedAll(t testing.TB, l *Log, off int64) ([]batch.Header, []AbortedTxn) {
	t.Helper()
	var hs []batch.Header
	var ab []AbortedTxn
	for {
		res, a, err := l.ReadCommitted(off, 1<<20, true)
		if err != nil {
			t.Fatalf("ReadCommitted(%d): %v", off, err)
		}
		if len(res.Records) == 0 {
			if len(a) != 0 {
				t.Fatalf("aborted txns without records: %+v", a)
			}
			return hs, ab
		}
		it := batch.NewIterator(res.Records)
		for it.Next() {
			h := it.Header()
			if h.NextOffset() > res.LastStableOffset {
				t.Fatalf("batch %d..%d returned past the LSO %d", h.BaseOffset, h.LastOffset(), res.LastStableOffset)
			}
			hs = append(hs, h)
			off = h.NextOffset()
		}
		ab = append(ab, a...)
	}
}

func checkLSO(t testing.TB, l *Log, want int64) {
	t.Helper()
	if got := l.LastStableOffset(); got != want {
		t.Fatalf("LastStableOffset %d, want %d (HW %d)", got, want, l.HighWatermark())
	}
	res, err := l.Read(l.LogStartOffset(), 1, false)
	if err != nil || res.LastStableOffset != want {
		t.Fatalf("ReadResult.LastStableOffset %d (%v), want %d", res.LastStableOffset, err, want)
	}
}

func txnIndexEntries(t testing.TB, dir string) []AbortedTxn {
	t.Helper()
	var out []AbortedTxn
	for _, p := range segmentFiles(t, dir, txnIndexSuffix) {
		es, err := decodeAbortedTxns(fileBytes(t, p))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out = append(out, es...)
	}
	return out
}

func TestTxnOngoingHoldsLSOAndCommitReleases(t *testing.T) {
	l := openT(t, t.TempDir(), testConfig())
	mustAppend(t, l, simple(3, 10, 1000))  // 0..2
	mustAppend(t, l, txnBatch(1, 0, 0, 2)) // 3..4
	mustAppend(t, l, simple(1, 10, 1000))  // 5
	mustAppend(t, l, txnBatch(1, 0, 2, 1)) // 6
	checkLSO(t, l, 3)
	if l.HighWatermark() != 7 {
		t.Fatalf("HW %d", l.HighWatermark())
	}
	hs, ab := readCommittedAll(t, l, 0)
	if len(hs) != 1 || hs[0].NextOffset() != 3 || ab != nil {
		t.Fatalf("read_committed before commit: %+v %+v", hs, ab)
	}
	if res, _, err := l.ReadCommitted(3, 1<<20, true); err != nil || len(res.Records) != 0 {
		t.Fatalf("read at the LSO: %d bytes, %v", len(res.Records), err)
	}
	// Uncommitted reads see everything.
	if got := len(readAllBatches(t, l)); got != 4 {
		t.Fatalf("read_uncommitted: %d batches", got)
	}
	ps := l.ActiveProducers()
	if len(ps) != 1 || ps[0].ProducerID != 1 || ps[0].CurrentTxnStartOffset != 3 || ps[0].LastSequence != 2 || ps[0].CoordinatorEpoch != -1 {
		t.Fatalf("ActiveProducers: %+v", ps)
	}
	// A non-transactional batch during the transaction is refused.
	_, err := l.Append(idem(1, 0, 3, 1))
	expectErr(t, err, ErrInvalidTxnState)
	if ErrorCode(err) != 48 {
		t.Fatalf("code %d", ErrorCode(err))
	}

	m := mustMarker(t, l, 1, 0, true)
	if m.BaseOffset != 7 || m.Duplicate {
		t.Fatalf("marker %+v", m)
	}
	checkLSO(t, l, 8)
	hs, ab = readCommittedAll(t, l, 0)
	if len(hs) != 5 || !hs[4].IsControl() || ab != nil {
		t.Fatalf("read_committed after commit: %d batches, %+v", len(hs), ab)
	}
	if ps := l.ActiveProducers(); ps[0].CurrentTxnStartOffset != -1 || ps[0].CoordinatorEpoch != 3 {
		t.Fatalf("ActiveProducers after commit: %+v", ps)
	}
	if files := segmentFiles(t, l.Dir(), txnIndexSuffix); len(files) != 0 {
		t.Fatalf("commit wrote a transaction index: %v", files)
	}
	// A new transaction of the same producer starts at its first batch.
	mustAppend(t, l, txnBatch(1, 0, 3, 1)) // 8
	checkLSO(t, l, 8)
}

func TestTxnAbortIndexAndReadCommitted(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, testConfig())
	mustAppend(t, l, txnBatch(1, 0, 0, 2)) // 0..1
	mustAppend(t, l, simple(1, 10, 1000))  // 2
	mustAppend(t, l, txnBatch(1, 0, 2, 1)) // 3
	m := mustMarker(t, l, 1, 0, false)     // 4
	mustAppend(t, l, simple(2, 10, 1000))  // 5..6
	checkLSO(t, l, 7)
	want := []AbortedTxn{{ProducerID: 1, FirstOffset: 0, LastOffset: m.BaseOffset, LastStableOffset: 5}}
	if got := txnIndexEntries(t, dir); !reflect.DeepEqual(got, want) {
		t.Fatalf(".txnindex %+v, want %+v", got, want)
	}
	if fi, err := os.Stat(segmentName(dir, 0, txnIndexSuffix)); err != nil || fi.Size() != txnIndexEntrySize {
		t.Fatalf(".txnindex size: %v %v", fi, err)
	}
	for _, off := range []int64{0, 2, 3, 4} {
		_, ab, err := l.ReadCommitted(off, 1<<20, true)
		if err != nil || !reflect.DeepEqual(ab, want) {
			t.Fatalf("ReadCommitted(%d) aborted %+v %v", off, ab, err)
		}
	}
	// A range after the marker does not overlap it.
	if _, ab, _ := l.ReadCommitted(5, 1<<20, true); ab != nil {
		t.Fatalf("ReadCommitted(5) aborted %+v", ab)
	}
	// A range ending before the transaction's first offset does not
	// either: read only the batch at 0 with the next one beyond maxBytes.
	if got := l.AbortedTransactions(5, 7); got != nil {
		t.Fatalf("AbortedTransactions(5, 7) %+v", got)
	}
	if got := l.AbortedTransactions(0, 1); !reflect.DeepEqual(got, want) {
		t.Fatalf("AbortedTransactions(0, 1) %+v", got)
	}
}

func TestTxnInterleavedProducers(t *testing.T) {
	l := openT(t, t.TempDir(), testConfig())
	mustAppend(t, l, txnBatch(1, 0, 0, 1)) // 0
	mustAppend(t, l, txnBatch(2, 0, 0, 1)) // 1
	mustAppend(t, l, txnBatch(1, 0, 1, 1)) // 2
	mustAppend(t, l, txnBatch(2, 0, 1, 1)) // 3
	checkLSO(t, l, 0)
	a1 := mustMarker(t, l, 1, 0, false) // 4: p2 still open -> its LSO is 1
	checkLSO(t, l, 1)
	mustAppend(t, l, txnBatch(1, 0, 2, 1)) // 5: p1's next transaction
	checkLSO(t, l, 1)
	mustMarker(t, l, 2, 0, true) // 6
	checkLSO(t, l, 5)
	a3 := mustMarker(t, l, 1, 0, false) // 7
	checkLSO(t, l, 8)
	want := []AbortedTxn{
		{ProducerID: 1, FirstOffset: 0, LastOffset: a1.BaseOffset, LastStableOffset: 1},
		{ProducerID: 1, FirstOffset: 5, LastOffset: a3.BaseOffset, LastStableOffset: 8},
	}
	if got := txnIndexEntries(t, l.Dir()); !reflect.DeepEqual(got, want) {
		t.Fatalf(".txnindex %+v", got)
	}
	hs, ab := readCommittedAll(t, l, 0)
	if len(hs) != 8 || !reflect.DeepEqual(ab, want) {
		t.Fatalf("read_committed: %d batches, aborted %+v", len(hs), ab)
	}
	if _, ab, _ := l.ReadCommitted(5, 1<<20, true); !reflect.DeepEqual(ab, want[1:]) {
		t.Fatalf("from 5: %+v", ab)
	}
}

func TestTxnMarkerRedriveAndEpochs(t *testing.T) {
	l := openT(t, t.TempDir(), testConfig())
	mustAppend(t, l, txnBatch(1, 5, 0, 1)) // 0
	m1 := mustMarker(t, l, 1, 5, false)    // 1
	leo := l.LogEndOffset()
	// Re-driven: the same marker type at the same epoch is a no-op.
	m2, err := l.AppendMarker(1, 5, false, 3)
	if err != nil || !m2.Duplicate || m2.BaseOffset != m1.BaseOffset || m2.LastOffset != m1.LastOffset || l.LogEndOffset() != leo {
		t.Fatalf("re-driven marker: %+v %v (LEO %d)", m2, err, l.LogEndOffset())
	}
	if got := txnIndexEntries(t, l.Dir()); len(got) != 1 {
		t.Fatalf("%d index entries after re-drive", len(got))
	}
	// It stays a no-op after a restart (the snapshot keeps the last marker).
	dir := l.Dir()
	l.Close()
	l = openT(t, dir, testConfig())
	if m3, err := l.AppendMarker(1, 5, false, 3); err != nil || !m3.Duplicate || m3.BaseOffset != m1.BaseOffset {
		t.Fatalf("re-driven marker after restart: %+v %v", m3, err)
	}
	// An older epoch is fenced.
	_, err = l.AppendMarker(1, 4, true, 3)
	expectErr(t, err, ErrInvalidProducerEpoch)
	// An older coordinator epoch is fenced.
	_, err = l.AppendMarker(1, 5, true, 2)
	expectErr(t, err, ErrTransactionCoordinatorFenced)
	if ErrorCode(err) != 52 {
		t.Fatalf("code %d", ErrorCode(err))
	}
	// A marker of another type, or a bumped epoch (the coordinator aborting
	// a timed-out transaction), is written even without a transaction.
	m4 := mustMarker(t, l, 1, 6, false)
	if m4.Duplicate || m4.BaseOffset != leo {
		t.Fatalf("bumped-epoch marker %+v", m4)
	}
	// A producer never seen here: written (as Kafka), an abort indexes
	// the marker alone.
	m5 := mustMarker(t, l, 9, 0, false)
	got := txnIndexEntries(t, dir)
	last := got[len(got)-1]
	if m5.Duplicate || last.ProducerID != 9 || last.FirstOffset != m5.BaseOffset || last.LastOffset != m5.BaseOffset {
		t.Fatalf("marker of an unknown producer: %+v, index %+v", m5, got)
	}
	// Data after a marker makes the next identical marker a real one.
	mustAppend(t, l, txnBatch(9, 0, 0, 1))
	if m6 := mustMarker(t, l, 9, 0, false); m6.Duplicate {
		t.Fatalf("marker after new data skipped: %+v", m6)
	}
	checkLSO(t, l, l.HighWatermark())
}

func TestTxnControlBatchFormat(t *testing.T) {
	l := openT(t, t.TempDir(), testConfig())
	l.SetLeaderEpoch(4)
	mustAppend(t, l, txnBatch(42, 7, 0, 1))
	now := time.UnixMilli(1_700_000_000_000)
	l.now = func() time.Time { return now }
	res := mustMarker(t, l, 42, 7, true)
	r, err := l.Read(res.BaseOffset, 1<<20, true)
	if err != nil {
		t.Fatal(err)
	}
	bs, _, err := batch.Split(r.Records)
	if err != nil || len(bs) != 1 {
		t.Fatalf("%d batches, %v", len(bs), err)
	}
	h, err := batch.Validate(bs[0])
	if err != nil {
		t.Fatal(err)
	}
	if !h.IsControl() || !h.IsTransactional() || h.Codec() != 0 || h.IsLogAppendTime() || h.ProducerID != 42 || h.ProducerEpoch != 7 ||
		h.BaseSequence != -1 || h.NumRecords != 1 || h.LastOffsetDelta != 0 || h.BaseOffset != res.BaseOffset ||
		h.PartitionLeaderEpoch != 4 || h.BaseTimestamp != now.UnixMilli() || h.MaxTimestamp != now.UnixMilli() {
		t.Fatalf("header %+v", h)
	}
	recs, err := batch.Records(bs[0])
	if err != nil || len(recs) != 1 {
		t.Fatalf("records %v %v", recs, err)
	}
	k, v := recs[0].Key, recs[0].Value
	if len(k) != 4 || binary.BigEndian.Uint16(k) != 0 || binary.BigEndian.Uint16(k[2:]) != 1 {
		t.Fatalf("key %x", k)
	}
	if len(v) != 6 || binary.BigEndian.Uint16(v) != 0 || int32(binary.BigEndian.Uint32(v[2:])) != 3 {
		t.Fatalf("value %x", v)
	}
	if recs[0].OffsetDelta != 0 || recs[0].TimestampDelta64 != 0 || len(recs[0].Headers) != 0 {
		t.Fatalf("record %+v", recs[0])
	}
	// An abort marker has type 0.
	mustAppend(t, l, txnBatch(42, 7, 1, 1))
	a := mustMarker(t, l, 42, 7, false)
	r, _ = l.Read(a.BaseOffset, 1<<20, true)
	recs, _ = batch.Records(r.Records)
	if binary.BigEndian.Uint16(recs[0].Key[2:]) != 0 {
		t.Fatalf("abort key %x", recs[0].Key)
	}
	// A marker built by a client and appended with Append works the same.
	mustAppend(t, l, txnBatch(43, 0, 0, 1))
	ctl := buildMarkerBatch(43, 0, false, 1, 1000)
	cres := mustAppend(t, l, ctl)
	ab := l.AbortedTransactions(0, l.LogEndOffset())
	if last := ab[len(ab)-1]; last.ProducerID != 43 || last.LastOffset != cres.BaseOffset || last.FirstOffset != cres.BaseOffset-1 {
		t.Fatalf("aborted %+v", ab)
	}
}

func TestTxnFsyncAlwaysLSOWaitsForMarker(t *testing.T) {
	cfg := testConfig()
	cfg.Fsync = FsyncAlways
	l := openT(t, t.TempDir(), cfg)
	mustAppend(t, l, txnBatch(1, 0, 0, 2)) // 0..1, durable
	checkLSO(t, l, 0)
	res, err := l.AppendMarker(1, 0, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	if hw := l.HighWatermark(); hw <= res.BaseOffset && l.LastStableOffset() != 0 {
		t.Fatalf("LSO %d before the marker is below the HW %d", l.LastStableOffset(), hw)
	}
	if err := l.WaitDurable(context.Background(), res.LastOffset+1); err != nil {
		t.Fatal(err)
	}
	checkLSO(t, l, 3)
}

func TestTxnRestartKeepsState(t *testing.T) {
	for _, mode := range []string{"clean", "crash", "crash-no-snapshot"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig()
			cfg.SegmentBytes = 300
			l := openT(t, dir, cfg)
			mustAppend(t, l, txnBatch(2, 0, 0, 1)) // p2 opens early and stays open
			for i := 0; i < 4; i++ {
				mustAppend(t, l, txnBatch(1, 0, int32(i), 1))
			}
			mustMarker(t, l, 1, 0, false)
			for i := 0; i < 3; i++ {
				mustAppend(t, l, simple(2, 10, 1000))
			}
			mustAppend(t, l, txnBatch(1, 0, 4, 1))
			ab1 := l.AbortedTransactions(0, l.LogEndOffset())
			lso := l.LastStableOffset()
			prods := l.ActiveProducers()
			if lso != 0 || segCount(l) < 3 || len(ab1) != 1 {
				t.Fatalf("setup: LSO %d, %d segments, aborted %+v", lso, segCount(l), ab1)
			}
			switch mode {
			case "clean":
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
			default:
				crash(t, l)
				if mode == "crash-no-snapshot" {
					for _, p := range segmentFiles(t, dir, snapshotSuffix) {
						os.Remove(p)
					}
					for _, p := range segmentFiles(t, dir, txnIndexSuffix) {
						os.Remove(p)
					}
					os.Remove(filepath.Join(dir, recoveryPointFile))
				}
			}
			l = openT(t, dir, cfg)
			if got := l.LastStableOffset(); got != lso {
				t.Fatalf("LSO %d after restart, want %d", got, lso)
			}
			if got := l.AbortedTransactions(0, l.LogEndOffset()); !reflect.DeepEqual(got, ab1) {
				t.Fatalf("aborted %+v after restart, want %+v", got, ab1)
			}
			if got := txnIndexEntries(t, dir); !reflect.DeepEqual(got, ab1) {
				t.Fatalf(".txnindex %+v after restart, want %+v", got, ab1)
			}
			got := l.ActiveProducers()
			for i := range got {
				if got[i].CurrentTxnStartOffset != prods[i].CurrentTxnStartOffset || got[i].ProducerEpoch != prods[i].ProducerEpoch ||
					got[i].LastSequence != prods[i].LastSequence {
					t.Fatalf("producers %+v after restart, want %+v", got, prods)
				}
			}
			// The transactions go on.
			mustMarker(t, l, 2, 0, true)
			if got := l.LastStableOffset(); got != prods[0].CurrentTxnStartOffset {
				t.Fatalf("LSO %d after p2 commits, want p1's %d", got, prods[0].CurrentTxnStartOffset)
			}
			mustMarker(t, l, 1, 0, true)
			checkLSO(t, l, l.HighWatermark())
		})
	}
}

func TestTxnRetentionDeletesIndexWithSegment(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 300
	cfg.RetentionMs = 1000
	l := openT(t, dir, cfg)
	l.now = func() time.Time { return time.UnixMilli(2000) }
	mustAppend(t, l, txnBatch(1, 0, 0, 1))
	mustMarker(t, l, 1, 0, false)
	first := txnIndexEntries(t, dir)
	for i := 0; i < 6; i++ {
		mustAppend(t, l, simple(2, 10, 1000))
	}
	mustAppend(t, l, txnBatch(1, 0, 1, 1))
	a := mustMarker(t, l, 1, 0, false)
	for i := 0; i < 6; i++ {
		mustAppend(t, l, simple(2, 10, 10_000_000))
	}
	if len(txnIndexEntries(t, dir)) != 2 || len(first) != 1 {
		t.Fatal("setup")
	}
	l.Maintain(time.UnixMilli(10_000_000))
	if l.LogStartOffset() == 0 {
		t.Fatal("nothing deleted")
	}
	got := txnIndexEntries(t, dir)
	want := l.AbortedTransactions(0, l.LogEndOffset())
	if !reflect.DeepEqual(got, want) {
		t.Fatalf(".txnindex %+v, in memory %+v", got, want)
	}
	for _, p := range segmentFiles(t, dir, txnIndexSuffix) {
		base, _ := parseBaseOffset(filepath.Base(p), txnIndexSuffix)
		if _, err := os.Stat(segmentName(dir, base, logSuffix)); err != nil {
			t.Fatalf("%s without its segment", p)
		}
	}
	if len(got) != 1 || got[0].LastOffset != a.BaseOffset || a.BaseOffset < l.LogStartOffset() {
		t.Fatalf("want only the second aborted txn (log start %d): %+v", l.LogStartOffset(), got)
	}
}

func TestTxnCompaction(t *testing.T) {
	dir := t.TempDir()
	cfg := compactConfig()
	l := openT(t, dir, cfg)
	mustAppend(t, l, kvBatch(1000, 0, kv{key: "a", value: "committed-a"}))
	// Aborted transaction overwriting a and writing b.
	mustAppend(t, l, txnKV(1, 0, kv{key: "a", value: "aborted-a"}, kv{key: "b", value: "aborted-b"}))
	mustMarker(t, l, 1, 0, false)
	// Committed transaction writing c.
	mustAppend(t, l, txnKV(1, 2, kv{key: "c", value: "committed-c"}))
	mustMarker(t, l, 1, 0, true)
	// Another producer's transaction stays open: nothing from it on is
	// cleaned.
	open := mustAppend(t, l, txnKV(2, 0, kv{key: "a", value: "open-a"}))
	fillUpdates(t, l, 30, 3, 2000)
	before := l.AbortedTransactions(0, l.LogEndOffset())
	if len(before) != 1 {
		t.Fatalf("aborted %+v", before)
	}
	st, err := l.Clean(time.UnixMilli(1_000_000))
	if err != nil || !st.Cleaned {
		t.Fatalf("%+v %v", st, err)
	}
	recs, _ := readRecords(t, l)
	vals := map[string]bool{}
	for _, r := range recs {
		vals[r.value] = true
	}
	if vals["aborted-a"] || vals["aborted-b"] {
		t.Fatalf("aborted data survived: %+v", recs)
	}
	if !vals["committed-a"] || !vals["committed-c"] || !vals["open-a"] {
		t.Fatalf("committed or open data lost: %+v", recs)
	}
	if cp := l.CleanerCheckpoint(); cp > open.BaseOffset {
		t.Fatalf("cleaned past the LSO %d: checkpoint %d", open.BaseOffset, cp)
	}
	if got := l.AbortedTransactions(0, l.LogEndOffset()); !reflect.DeepEqual(got, before) {
		t.Fatalf("aborted after cleaning %+v, want %+v", got, before)
	}
	if got := txnIndexEntries(t, dir); !reflect.DeepEqual(got, before) {
		t.Fatalf(".txnindex after cleaning %+v, want %+v", got, before)
	}
	for _, p := range segmentFiles(t, dir, "") {
		if filepath.Ext(p) == cleanedSuffix || filepath.Ext(p) == swapSuffix || filepath.Ext(p) == deletedSuffix {
			t.Fatalf("leftover %s", p)
		}
	}
	l.Close()
	l = openT(t, dir, cfg)
	if got := l.AbortedTransactions(0, l.LogEndOffset()); !reflect.DeepEqual(got, before) {
		t.Fatalf("aborted after reopen %+v, want %+v", got, before)
	}
	if got := l.LastStableOffset(); got != open.BaseOffset {
		t.Fatalf("LSO %d after reopen, want %d", got, open.BaseOffset)
	}
}

func TestTxnSnapshotCodecV1(t *testing.T) {
	ps := newProducerState()
	ps.apply(idemHeader(t, txnBatch(1, 0, 0, 1)), 10, 10, 1000, 5000, nil)
	b := ps.encode(11)
	_, got, err := decodeProducerSnapshot(b)
	if err != nil || got.m[1].txnFirst != 10 || got.m[1].coordEpoch != -1 {
		t.Fatalf("%+v %v", got.m[1], err)
	}
	// A CPS1 snapshot (without the transaction fields) is still read.
	v1 := []byte(snapshotMagicV1 + "\x00\x00\x00\x00")
	v1 = binary.BigEndian.AppendUint64(v1, 11)
	v1 = binary.BigEndian.AppendUint32(v1, 1)
	v1 = binary.BigEndian.AppendUint64(v1, 1)
	v1 = binary.BigEndian.AppendUint16(v1, 0)
	v1 = binary.BigEndian.AppendUint32(v1, 0)
	v1 = binary.BigEndian.AppendUint64(v1, 1000)
	v1 = binary.BigEndian.AppendUint64(v1, 5000)
	v1 = append(v1, 0)
	binary.BigEndian.PutUint32(v1[4:], crcOf(v1[8:]))
	_, got, err = decodeProducerSnapshot(v1)
	if err != nil || got.m[1] == nil || got.m[1].txnFirst != -1 || got.m[1].lastSeq != 0 {
		t.Fatalf("v1: %+v %v", got, err)
	}
}

func crcOf(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
