package txn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"
)

// memReserver is an in-memory Reserver; share one across reopens.
type memReserver struct {
	mu   sync.Mutex
	next int64
}

func (r *memReserver) ReserveProducerIDs(n int64) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	start := r.next
	r.next += n
	return start, nil
}

type markerCall struct {
	ProducerID int64
	Epoch      int16
	Commit     bool
	Partitions []TP
}

// fakeMarkers records WriteMarkers calls. fail makes the next calls fail;
// block, when set, makes calls wait for it (or ctx) after signalling started.
type fakeMarkers struct {
	mu      sync.Mutex
	calls   []markerCall
	fail    int
	block   chan struct{}
	started chan struct{}
}

func (f *fakeMarkers) WriteMarkers(ctx context.Context, pid int64, epoch int16, commit bool, parts []TP) error {
	f.mu.Lock()
	block, started := f.block, f.started
	f.mu.Unlock()
	if started != nil {
		select {
		case started <- struct{}{}:
		default:
		}
	}
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail > 0 {
		f.fail--
		return errors.New("disk on fire")
	}
	f.calls = append(f.calls, markerCall{pid, epoch, commit, parts})
	return nil
}

func (f *fakeMarkers) Calls() []markerCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

type offsetCall struct {
	ProducerID int64
	Groups     []string
	Commit     bool
}

type fakeOffsets struct {
	mu    sync.Mutex
	calls []offsetCall
}

func (f *fakeOffsets) CompleteTxnOffsets(pid int64, groups []string, commit bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, offsetCall{pid, groups, commit})
	return nil
}

func (f *fakeOffsets) Calls() []offsetCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type harness struct {
	t       *testing.T
	dir     string
	res     *memReserver
	markers *fakeMarkers
	offsets *fakeOffsets
	clock   *fakeClock
	cfg     Config
	c       *Coordinator
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{
		t: t, dir: t.TempDir(), res: &memReserver{next: 1000},
		markers: &fakeMarkers{}, offsets: &fakeOffsets{},
		clock: &fakeClock{now: time.UnixMilli(1_700_000_000_000)},
	}
	h.cfg = Config{ExpirationCheck: time.Hour, Now: h.clock.Now, retryMin: time.Millisecond, retryMax: 5 * time.Millisecond}
	h.open()
	t.Cleanup(func() { h.c.Close() })
	return h
}

func (h *harness) open() {
	h.t.Helper()
	c, err := OpenCoordinator(h.dir, NewProducerIDs(h.res), h.markers, h.offsets, h.cfg,
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		h.t.Fatal(err)
	}
	h.c = c
}

func (h *harness) reopen() {
	h.t.Helper()
	if err := h.c.Close(); err != nil {
		h.t.Fatal(err)
	}
	h.open()
}

func (h *harness) init(id string) (int64, int16) {
	h.t.Helper()
	pid, ep, err := h.c.InitProducerID(context.Background(), id, time.Minute, -1, -1)
	if err != nil {
		h.t.Fatalf("InitProducerID(%s): %v", id, err)
	}
	return pid, ep
}

func (h *harness) describe(id string) Description {
	h.t.Helper()
	return h.c.Describe([]string{id})[0]
}

// waitState polls until id is in state.
func (h *harness) waitState(id, state string) Description {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		d := h.describe(id)
		if d.State == state {
			return d
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: state %q (err %v), want %q", id, d.State, d.Err, state)
		}
		time.Sleep(time.Millisecond)
	}
}

// setEpoch forces id's epoch (and state) as if many transactions had run.
func (h *harness) setEpoch(id string, epoch int16) {
	h.t.Helper()
	e := h.c.lookup(id)
	e.mu.Lock()
	defer e.mu.Unlock()
	next := e.m.clone()
	next.Epoch = epoch
	if err := h.c.transition(e, next); err != nil {
		h.t.Fatal(err)
	}
}

func mustErr(t *testing.T, got, want error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Fatalf("got error %v, want %v", got, want)
	}
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var (
	tpA = TP{"a", 0}
	tpB = TP{"b", 1}
)

func TestCommitAndAbort(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	pid, ep := h.init("tx")
	if ep != 0 {
		t.Fatalf("first epoch %d, want 0", ep)
	}
	if d := h.describe("tx"); d.State != "Empty" || d.ProducerID != pid || d.TransactionStartTimeMs != -1 || d.TransactionTimeoutMs != 60000 {
		t.Fatalf("after init: %+v", d)
	}
	mustOK(t, h.c.AddPartitions("tx", pid, ep, []TP{tpB, tpA}))
	mustOK(t, h.c.AddPartitions("tx", pid, ep, []TP{tpA})) // already there
	mustErr(t, h.c.TxnOffsetCommit("tx", pid, ep, "g", false, noStore), ErrInvalidTxnState)
	mustOK(t, h.c.AddOffsets("tx", pid, ep, "g"))
	mustOK(t, h.c.TxnOffsetCommit("tx", pid, ep, "g", false, noStore))
	d := h.describe("tx")
	if d.State != "Ongoing" || !reflect.DeepEqual(d.Partitions, []TP{tpA, tpB}) || !reflect.DeepEqual(d.Groups, []string{"g"}) ||
		d.TransactionStartTimeMs != h.clock.Now().UnixMilli() {
		t.Fatalf("ongoing: %+v", d)
	}

	gotPID, gotEp, err := h.c.EndTxn(ctx, "tx", pid, ep, true, false)
	mustOK(t, err)
	if gotPID != pid || gotEp != ep {
		t.Fatalf("V1 EndTxn returned %d/%d, want unchanged %d/%d", gotPID, gotEp, pid, ep)
	}
	h.waitState("tx", "CompleteCommit")
	if want := []markerCall{{pid, ep, true, []TP{tpA, tpB}}}; !reflect.DeepEqual(h.markers.Calls(), want) {
		t.Fatalf("markers %+v, want %+v", h.markers.Calls(), want)
	}
	if want := []offsetCall{{pid, []string{"g"}, true}}; !reflect.DeepEqual(h.offsets.Calls(), want) {
		t.Fatalf("offsets %+v, want %+v", h.offsets.Calls(), want)
	}
	if d := h.describe("tx"); len(d.Partitions) != 0 || len(d.Groups) != 0 {
		t.Fatalf("completed transaction keeps partitions: %+v", d)
	}

	// The next transaction, aborted.
	mustOK(t, h.c.AddPartitions("tx", pid, ep, []TP{tpB}))
	_, _, err = h.c.EndTxn(ctx, "tx", pid, ep, false, false)
	mustOK(t, err)
	h.waitState("tx", "CompleteAbort")
	if calls := h.markers.Calls(); len(calls) != 2 || !reflect.DeepEqual(calls[1], markerCall{pid, ep, false, []TP{tpB}}) {
		t.Fatalf("markers %+v", calls)
	}
	if len(h.offsets.Calls()) != 1 {
		t.Fatalf("offsets called for a transaction without groups: %+v", h.offsets.Calls())
	}
}

func TestEndTxnV1RetriesAndInvalidStates(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	pid, ep := h.init("tx")
	// Nothing to end in an Empty transaction (V1).
	_, _, err := h.c.EndTxn(ctx, "tx", pid, ep, true, false)
	mustErr(t, err, ErrInvalidTxnState)
	_, _, err = h.c.EndTxn(ctx, "tx", pid, ep, false, false)
	mustErr(t, err, ErrInvalidTxnState)

	mustOK(t, h.c.AddPartitions("tx", pid, ep, []TP{tpA}))
	_, _, err = h.c.EndTxn(ctx, "tx", pid, ep, true, false)
	mustOK(t, err)
	h.waitState("tx", "CompleteCommit")
	// A retry with the same outcome succeeds and writes nothing more.
	_, _, err = h.c.EndTxn(ctx, "tx", pid, ep, true, false)
	mustOK(t, err)
	// The other outcome is INVALID_TXN_STATE.
	_, _, err = h.c.EndTxn(ctx, "tx", pid, ep, false, false)
	mustErr(t, err, ErrInvalidTxnState)
	if n := len(h.markers.Calls()); n != 1 {
		t.Fatalf("%d marker writes, want 1", n)
	}

	mustOK(t, h.c.AddPartitions("tx", pid, ep, []TP{tpA}))
	_, _, err = h.c.EndTxn(ctx, "tx", pid, ep, false, false)
	mustOK(t, err)
	h.waitState("tx", "CompleteAbort")
	_, _, err = h.c.EndTxn(ctx, "tx", pid, ep, false, false)
	mustOK(t, err)
	_, _, err = h.c.EndTxn(ctx, "tx", pid, ep, true, false)
	mustErr(t, err, ErrInvalidTxnState)

	_, _, err = h.c.EndTxn(ctx, "unknown", pid, ep, true, false)
	mustErr(t, err, ErrInvalidProducerIDMapping)
	_, _, err = h.c.EndTxn(ctx, "tx", pid+1, ep, true, false)
	mustErr(t, err, ErrInvalidProducerIDMapping)
}

func TestFencing(t *testing.T) {
	h := newHarness(t)
	pid, ep0 := h.init("tx")
	pid1, ep1 := h.init("tx") // a new instance of the producer
	if pid1 != pid || ep1 != ep0+1 {
		t.Fatalf("re-init gave %d/%d, want %d/%d", pid1, ep1, pid, ep0+1)
	}
	err := h.c.AddPartitions("tx", pid, ep0, []TP{tpA})
	mustErr(t, err, ErrProducerFenced)
	mustErr(t, h.c.AddOffsets("tx", pid, ep0, "g"), ErrProducerFenced)
	mustErr(t, h.c.AddPartitions("tx", pid, ep1+1, []TP{tpA}), ErrProducerFenced) // any other epoch
	mustErr(t, h.c.AddPartitions("tx", pid+7, ep1, []TP{tpA}), ErrInvalidProducerIDMapping)
	mustErr(t, h.c.AddPartitions("nope", pid, ep1, []TP{tpA}), ErrInvalidProducerIDMapping)
	mustErr(t, h.c.TxnOffsetCommit("tx", pid, ep0, "g", false, noStore), ErrProducerFenced)
	_, _, err2 := h.c.EndTxn(context.Background(), "tx", pid, ep0, true, false)
	mustErr(t, err2, ErrProducerFenced)

	// Kafka's error codes for a fenced producer depend on the API version.
	for _, tc := range []struct {
		api, version, want int16
	}{
		{apiAddPartitionsToTx, 1, 47}, {apiAddPartitionsToTx, 2, 90},
		{apiInitProducerID, 3, 47}, {apiInitProducerID, 4, 90},
		{apiEndTxn, 1, 47}, {apiEndTxn, 5, 90},
		{apiAddOffsetsToTxn, 1, 47}, {apiTxnOffsetCommit, 2, 47}, {apiTxnOffsetCommit, 3, 90},
		{apiProduce, 11, 47},
	} {
		if got := ErrorCode(err, tc.api, tc.version); got != tc.want {
			t.Errorf("ErrorCode(fenced, api %d v%d) = %d, want %d", tc.api, tc.version, got, tc.want)
		}
	}
	if got := ErrorCode(ErrConcurrentTransactions, apiProduce, 11); got != 19 {
		t.Errorf("produce CONCURRENT_TRANSACTIONS -> %d, want NOT_ENOUGH_REPLICAS 19", got)
	}
	if got := ErrorCode(fmt.Errorf("wrapped: %w", ErrConcurrentTransactions), apiEndTxn, 3); got != 51 {
		t.Errorf("ErrorCode(wrapped) = %d", got)
	}
	if ErrorCode(nil, 0, 0) != 0 || ErrorCode(errors.New("x"), 0, 0) != -1 {
		t.Error("ErrorCode of nil/unknown")
	}

	// KIP-360: the current producer bumps its own epoch; a retry of that
	// bump gets the same answer; the fenced one cannot.
	pid2, ep2, err := h.c.InitProducerID(context.Background(), "tx", time.Minute, pid, ep1)
	mustOK(t, err)
	if pid2 != pid || ep2 != ep1+1 {
		t.Fatalf("KIP-360 bump gave %d/%d", pid2, ep2)
	}
	pid3, ep3, err := h.c.InitProducerID(context.Background(), "tx", time.Minute, pid, ep1)
	mustOK(t, err)
	if pid3 != pid || ep3 != ep2 {
		t.Fatalf("KIP-360 retry gave %d/%d, want %d/%d", pid3, ep3, pid, ep2)
	}
	_, _, err = h.c.InitProducerID(context.Background(), "tx", time.Minute, pid, ep0)
	mustErr(t, err, ErrProducerFenced)
	_, _, err = h.c.InitProducerID(context.Background(), "tx", time.Minute, pid+99, ep2)
	mustErr(t, err, ErrProducerFenced)
	// KIP-360 on an unknown transactional id: a fresh producer id.
	pid4, ep4, err := h.c.InitProducerID(context.Background(), "other", time.Minute, 5, 3)
	mustOK(t, err)
	if pid4 == pid || ep4 != 0 {
		t.Fatalf("KIP-360 on a new id gave %d/%d", pid4, ep4)
	}
}

func TestInitAbortsOngoingTransaction(t *testing.T) {
	h := newHarness(t)
	pid, ep := h.init("tx")
	mustOK(t, h.c.AddPartitions("tx", pid, ep, []TP{tpA}))
	mustOK(t, h.c.AddOffsets("tx", pid, ep, "g"))
	pid2, ep2 := h.init("tx")
	if pid2 != pid || ep2 != ep+2 {
		t.Fatalf("init over ongoing gave %d/%d, want %d/%d", pid2, ep2, pid, ep+2)
	}
	if want := []markerCall{{pid, ep + 1, false, []TP{tpA}}}; !reflect.DeepEqual(h.markers.Calls(), want) {
		t.Fatalf("markers %+v, want %+v", h.markers.Calls(), want)
	}
	if want := []offsetCall{{pid, []string{"g"}, false}}; !reflect.DeepEqual(h.offsets.Calls(), want) {
		t.Fatalf("offsets %+v, want %+v", h.offsets.Calls(), want)
	}
	_, _, err := h.c.EndTxn(context.Background(), "tx", pid, ep, true, false)
	mustErr(t, err, ErrProducerFenced)
	if d := h.describe("tx"); d.State != "Empty" || d.ProducerEpoch != ep2 {
		t.Fatalf("after init: %+v", d)
	}
}

func TestInitOverOngoingAnswersConcurrentWhileAbortPending(t *testing.T) {
	h := newHarness(t)
	pid, ep := h.init("tx")
	mustOK(t, h.c.AddPartitions("tx", pid, ep, []TP{tpA}))
	h.markers.mu.Lock()
	h.markers.block = make(chan struct{})
	h.markers.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, _, err := h.c.InitProducerID(ctx, "tx", time.Minute, -1, -1)
	mustErr(t, err, ErrConcurrentTransactions)
	if d := h.describe("tx"); d.State != "PrepareAbort" || d.ProducerEpoch != ep+1 {
		t.Fatalf("during fence: %+v", d)
	}
	close(h.markers.block)
	h.waitState("tx", "CompleteAbort")
	_, ep2 := h.init("tx")
	if ep2 != ep+2 {
		t.Fatalf("epoch after retry %d, want %d", ep2, ep+2)
	}
}

func TestTimeoutAbortFencesProducer(t *testing.T) {
	h := newHarness(t)
	pid, ep, err := h.c.InitProducerID(context.Background(), "tx", time.Second, -1, -1)
	mustOK(t, err)
	mustOK(t, h.c.AddPartitions("tx", pid, ep, []TP{tpA}))
	h.clock.Advance(time.Second) // not longer than the timeout yet
	h.c.abortTimedOut()
	if d := h.describe("tx"); d.State != "Ongoing" {
		t.Fatalf("aborted too early: %+v", d)
	}
	h.clock.Advance(time.Millisecond)
	h.c.abortTimedOut()
	d := h.waitState("tx", "CompleteAbort")
	if d.ProducerEpoch != ep+1 {
		t.Fatalf("epoch after timeout %d, want %d", d.ProducerEpoch, ep+1)
	}
	if want := []markerCall{{pid, ep + 1, false, []TP{tpA}}}; !reflect.DeepEqual(h.markers.Calls(), want) {
		t.Fatalf("markers %+v, want %+v", h.markers.Calls(), want)
	}
	_, _, err = h.c.EndTxn(context.Background(), "tx", pid, ep, true, false)
	mustErr(t, err, ErrProducerFenced)
	_, _, err = h.c.EndTxn(context.Background(), "tx", pid, ep, false, true) // V2 cannot pass for a retry
	mustErr(t, err, ErrProducerFenced)
	mustErr(t, h.c.AddPartitions("tx", pid, ep, []TP{tpA}), ErrProducerFenced)
	_, _, err = h.c.InitProducerID(context.Background(), "tx", time.Second, pid, ep)
	mustErr(t, err, ErrProducerFenced)
}

func TestTimeoutLoop(t *testing.T) {
	h := newHarness(t)
	h.c.Close()
	h.cfg.ExpirationCheck = 5 * time.Millisecond
	h.open()
	pid, ep, err := h.c.InitProducerID(context.Background(), "tx", time.Second, -1, -1)
	mustOK(t, err)
	mustOK(t, h.c.AddPartitions("tx", pid, ep, []TP{tpA}))
	h.clock.Advance(2 * time.Second)
	h.waitState("tx", "CompleteAbort")
}

func TestConcurrentTransactionsWhileCompleting(t *testing.T) {
	h := newHarness(t)
	pid, ep := h.init("tx")
	mustOK(t, h.c.AddPartitions("tx", pid, ep, []TP{tpA}))
	mustOK(t, h.c.AddOffsets("tx", pid, ep, "g"))
	h.markers.mu.Lock()
	h.markers.block = make(chan struct{})
	h.markers.started = make(chan struct{}, 1)
	h.markers.mu.Unlock()

	done := make(chan error, 1)
	go func() {
		_, _, err := h.c.EndTxn(context.Background(), "tx", pid, ep, true, false)
		done <- err
	}()
	<-h.markers.started
	mustErr(t, h.c.AddPartitions("tx", pid, ep, []TP{tpB}), ErrConcurrentTransactions)
	mustErr(t, h.c.AddOffsets("tx", pid, ep, "g2"), ErrConcurrentTransactions)
	mustErr(t, h.c.TxnOffsetCommit("tx", pid, ep, "g", false, noStore), ErrConcurrentTransactions)
	_, _, err := h.c.EndTxn(context.Background(), "tx", pid, ep, true, false)
	mustErr(t, err, ErrConcurrentTransactions)
	_, _, err = h.c.EndTxn(context.Background(), "tx", pid, ep, false, false)
	mustErr(t, err, ErrInvalidTxnState)
	_, _, err = h.c.InitProducerID(context.Background(), "tx", time.Minute, -1, -1)
	mustErr(t, err, ErrConcurrentTransactions)
	if d := h.describe("tx"); d.State != "PrepareCommit" {
		t.Fatalf("while completing: %+v", d)
	}
	close(h.markers.block)
	mustOK(t, <-done)
	h.waitState("tx", "CompleteCommit")
	mustOK(t, h.c.AddPartitions("tx", pid, ep, []TP{tpB}))
}

func TestMarkerFailureIsRetried(t *testing.T) {
	h := newHarness(t)
	pid, ep := h.init("tx")
	mustOK(t, h.c.AddPartitions("tx", pid, ep, []TP{tpA}))
	h.markers.mu.Lock()
	h.markers.fail = 3
	h.markers.mu.Unlock()
	// The decision is durable: EndTxn succeeds although the markers failed.
	_, _, err := h.c.EndTxn(context.Background(), "tx", pid, ep, true, false)
	mustOK(t, err)
	h.waitState("tx", "CompleteCommit")
	if calls := h.markers.Calls(); len(calls) != 1 || !calls[0].Commit {
		t.Fatalf("markers %+v", calls)
	}
}

func TestRestartInPrepareCommitCompletesCommit(t *testing.T) {
	h := newHarness(t)
	pid, ep := h.init("tx")
	mustOK(t, h.c.AddPartitions("tx", pid, ep, []TP{tpA, tpB}))
	mustOK(t, h.c.AddOffsets("tx", pid, ep, "g"))
	pidO, epO := h.init("other")
	mustOK(t, h.c.AddPartitions("other", pidO, epO, []TP{tpB}))

	// Markers hang (the log is gone); the broker dies with the commit decided.
	h.markers.mu.Lock()
	h.markers.block = make(chan struct{})
	h.markers.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	_, _, err := h.c.EndTxn(ctx, "tx", pid, ep, true, false)
	cancel()
	mustOK(t, err)
	if d := h.describe("tx"); d.State != "PrepareCommit" {
		t.Fatalf("before restart: %+v", d)
	}
	h.markers.mu.Lock()
	h.markers.block = nil
	h.markers.mu.Unlock()
	h.reopen()

	h.waitState("tx", "CompleteCommit")
	if want := []markerCall{{pid, ep, true, []TP{tpA, tpB}}}; !reflect.DeepEqual(h.markers.Calls(), want) {
		t.Fatalf("markers after restart %+v, want %+v", h.markers.Calls(), want)
	}
	if want := []offsetCall{{pid, []string{"g"}, true}}; !reflect.DeepEqual(h.offsets.Calls(), want) {
		t.Fatalf("offsets after restart %+v, want %+v", h.offsets.Calls(), want)
	}
	// The client's retry of EndTxn succeeds.
	_, _, err = h.c.EndTxn(context.Background(), "tx", pid, ep, true, false)
	mustOK(t, err)
	// The other transaction survived as it was and can still commit.
	if d := h.describe("other"); d.State != "Ongoing" || !reflect.DeepEqual(d.Partitions, []TP{tpB}) || d.ProducerEpoch != epO {
		t.Fatalf("other after restart: %+v", d)
	}
	_, _, err = h.c.EndTxn(context.Background(), "other", pidO, epO, true, false)
	mustOK(t, err)
	h.waitState("other", "CompleteCommit")
	// New producer ids are never reused after a restart.
	if pidN, _ := h.init("new"); pidN == pid || pidN == pidO {
		t.Fatalf("producer id %d reused", pidN)
	}
}

func TestInvalidRequests(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	for _, d := range []time.Duration{0, -time.Second, time.Microsecond, 15*time.Minute + time.Millisecond} {
		_, _, err := h.c.InitProducerID(ctx, "tx", d, -1, -1)
		mustErr(t, err, ErrInvalidTransactionTimeout)
	}
	_, _, err := h.c.InitProducerID(ctx, "tx", 15*time.Minute, -1, -1)
	mustOK(t, err)
	_, _, err = h.c.InitProducerID(ctx, "", time.Minute, -1, -1)
	mustErr(t, err, ErrInvalidRequest)
	_, _, err = h.c.InitProducerID(ctx, "tx", time.Minute, 5, -1)
	mustErr(t, err, ErrInvalidRequest)
	_, _, err = h.c.InitProducerID(ctx, "tx", time.Minute, -1, 0)
	mustErr(t, err, ErrInvalidRequest)
	mustErr(t, h.c.AddPartitions("", 1, 0, []TP{tpA}), ErrInvalidRequest)
	_, _, err = h.c.EndTxn(ctx, "", 1, 0, true, false)
	mustErr(t, err, ErrInvalidRequest)
	if got := ErrorCode(ErrInvalidTransactionTimeout, apiInitProducerID, 4); got != 50 {
		t.Fatalf("INVALID_TRANSACTION_TIMEOUT code %d", got)
	}
}

func TestListAndDescribe(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	pidE, _ := h.init("empty")
	pidO, epO := h.init("ongoing")
	mustOK(t, h.c.AddPartitions("ongoing", pidO, epO, []TP{tpA}))
	pidC, epC := h.init("committed")
	mustOK(t, h.c.AddPartitions("committed", pidC, epC, []TP{tpB}))
	_, _, err := h.c.EndTxn(ctx, "committed", pidC, epC, true, false)
	mustOK(t, err)
	h.waitState("committed", "CompleteCommit")
	h.clock.Advance(10 * time.Second)
	pidL, epL := h.init("late")
	mustOK(t, h.c.AddPartitions("late", pidL, epL, []TP{tpA}))
	h.clock.Advance(time.Second)

	ids := func(ls []Listing) []string {
		var out []string
		for _, l := range ls {
			out = append(out, l.TransactionalID)
		}
		return out
	}
	for _, tc := range []struct {
		states []string
		pids   []int64
		dur    time.Duration
		want   []string
	}{
		{nil, nil, -1, []string{"committed", "empty", "late", "ongoing"}},
		{[]string{"Ongoing"}, nil, -1, []string{"late", "ongoing"}},
		{[]string{"Ongoing", "CompleteCommit"}, []int64{pidO, pidC}, -1, []string{"committed", "ongoing"}},
		{[]string{"Ongoing"}, nil, 5 * time.Second, []string{"ongoing"}},
		{[]string{"Bogus"}, nil, -1, nil},
		{nil, []int64{pidE}, -1, []string{"empty"}},
	} {
		if got := ids(h.c.List(tc.states, tc.pids, tc.dur)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("List(%v, %v, %v) = %v, want %v", tc.states, tc.pids, tc.dur, got, tc.want)
		}
	}
	if l := h.c.List([]string{"Ongoing"}, []int64{pidO}, -1); len(l) != 1 || l[0] != (Listing{"ongoing", pidO, "Ongoing"}) {
		t.Errorf("listing %+v", l)
	}
	if got := UnknownStateFilters([]string{"Ongoing", "Bogus", "Dead"}); !reflect.DeepEqual(got, []string{"Bogus"}) {
		t.Errorf("UnknownStateFilters = %v", got)
	}

	ds := h.c.Describe([]string{"ongoing", "missing", ""})
	if ds[0].Err != nil || ds[0].State != "Ongoing" || ds[0].ProducerID != pidO || ds[0].ProducerEpoch != epO ||
		!reflect.DeepEqual(ds[0].Partitions, []TP{tpA}) || ds[0].TransactionStartTimeMs <= 0 {
		t.Errorf("describe ongoing %+v", ds[0])
	}
	mustErr(t, ds[1].Err, ErrTransactionalIDNotFound)
	mustErr(t, ds[2].Err, ErrInvalidRequest)
}

func TestEpochOverflowMovesToNewProducerID(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	pid, _ := h.init("tx")
	h.setEpoch("tx", math.MaxInt16-2)
	pid1, ep1 := h.init("tx")
	if pid1 != pid || ep1 != math.MaxInt16-1 {
		t.Fatalf("got %d/%d, want %d/%d", pid1, ep1, pid, math.MaxInt16-1)
	}
	// Exhausted: a new producer id, epoch 0.
	pid2, ep2 := h.init("tx")
	if pid2 == pid || ep2 != 0 {
		t.Fatalf("after exhaustion got %d/%d", pid2, ep2)
	}
	mustOK(t, h.c.AddPartitions("tx", pid2, ep2, []TP{tpA}))
	mustErr(t, h.c.AddPartitions("tx", pid, ep1, []TP{tpA}), ErrInvalidProducerIDMapping)

	// KIP-360: the producer of the exhausted epoch rotates, and its retry
	// of that InitProducerId gets the same answer.
	h2 := newHarness(t)
	pid, _ = h2.init("tx")
	h2.setEpoch("tx", math.MaxInt16-1)
	pid3, ep3, err := h2.c.InitProducerID(ctx, "tx", time.Minute, pid, math.MaxInt16-1)
	mustOK(t, err)
	if pid3 == pid || ep3 != 0 {
		t.Fatalf("KIP-360 rotation got %d/%d", pid3, ep3)
	}
	pid4, ep4, err := h2.c.InitProducerID(ctx, "tx", time.Minute, pid, math.MaxInt16-1)
	mustOK(t, err)
	if pid4 != pid3 || ep4 != 0 {
		t.Fatalf("KIP-360 retry got %d/%d, want %d/0", pid4, ep4, pid3)
	}
	// A fence at the last epoch still fences (Short.MaxValue), and the next
	// producer gets a new id.
	h3 := newHarness(t)
	pid, _ = h3.init("tx")
	h3.setEpoch("tx", math.MaxInt16-1)
	mustOK(t, h3.c.AddPartitions("tx", pid, math.MaxInt16-1, []TP{tpA}))
	pid5, ep5 := h3.init("tx")
	if pid5 == pid || ep5 != 0 {
		t.Fatalf("init over exhausted ongoing got %d/%d", pid5, ep5)
	}
	if calls := h3.markers.Calls(); len(calls) != 1 || calls[0].Epoch != math.MaxInt16 || calls[0].ProducerID != pid {
		t.Fatalf("fence markers %+v", calls)
	}
}

func TestTransactionsV2(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	pid, ep := h.init("tx")
	// Implicit add from the produce path.
	mustOK(t, h.c.AddPartitions("tx", pid, ep, []TP{tpA}))
	pid1, ep1, err := h.c.EndTxn(ctx, "tx", pid, ep, true, true)
	mustOK(t, err)
	if pid1 != pid || ep1 != ep+1 {
		t.Fatalf("V2 commit returned %d/%d, want %d/%d", pid1, ep1, pid, ep+1)
	}
	h.waitState("tx", "CompleteCommit")
	// Markers carry the bumped epoch, fencing the old one on the log.
	if want := []markerCall{{pid, ep + 1, true, []TP{tpA}}}; !reflect.DeepEqual(h.markers.Calls(), want) {
		t.Fatalf("markers %+v, want %+v", h.markers.Calls(), want)
	}
	// A retry (with the old epoch) gets the same answer; the other outcome is invalid.
	p, e, err := h.c.EndTxn(ctx, "tx", pid, ep, true, true)
	mustOK(t, err)
	if p != pid1 || e != ep1 {
		t.Fatalf("V2 retry returned %d/%d", p, e)
	}
	_, _, err = h.c.EndTxn(ctx, "tx", pid, ep, false, true)
	mustErr(t, err, ErrInvalidTxnState)
	// Commit again with the current epoch and nothing added: invalid.
	_, _, err = h.c.EndTxn(ctx, "tx", pid, ep1, true, true)
	mustErr(t, err, ErrInvalidTxnState)
	// The old epoch is fenced for adds.
	mustErr(t, h.c.AddPartitions("tx", pid, ep, []TP{tpB}), ErrProducerFenced)

	// Next transaction with the new epoch, aborted.
	mustOK(t, h.c.AddPartitions("tx", pid, ep1, []TP{tpB}))
	_, ep2, err := h.c.EndTxn(ctx, "tx", pid, ep1, false, true)
	mustOK(t, err)
	if ep2 != ep1+1 {
		t.Fatalf("V2 abort epoch %d, want %d", ep2, ep1+1)
	}
	h.waitState("tx", "CompleteAbort")
	// V2 allows an abort with nothing added: it still bumps the epoch.
	_, ep3, err := h.c.EndTxn(ctx, "tx", pid, ep2, false, true)
	mustOK(t, err)
	if ep3 != ep2+1 {
		t.Fatalf("V2 empty abort epoch %d, want %d", ep3, ep2+1)
	}
	h.waitState("tx", "CompleteAbort")
	if n := len(h.markers.Calls()); n != 2 {
		t.Fatalf("%d marker writes, want 2 (none for an empty abort)", n)
	}
	// Retrying the empty abort is fine; retrying an older one is fenced.
	_, e, err = h.c.EndTxn(ctx, "tx", pid, ep2, false, true)
	mustOK(t, err)
	if e != ep3 {
		t.Fatalf("retry epoch %d", e)
	}
	_, _, err = h.c.EndTxn(ctx, "tx", pid, ep1, false, true)
	mustErr(t, err, ErrProducerFenced)

	// Epoch overflow: the completion moves to a new producer id, epoch 0.
	mustOK(t, h.c.AddPartitions("tx", pid, ep3, []TP{tpA}))
	h.setEpoch("tx", math.MaxInt16-1)
	pidN, epN, err := h.c.EndTxn(ctx, "tx", pid, math.MaxInt16-1, true, true)
	mustOK(t, err)
	if pidN == pid || epN != 0 {
		t.Fatalf("overflow returned %d/%d", pidN, epN)
	}
	d := h.waitState("tx", "CompleteCommit")
	if d.ProducerID != pidN || d.ProducerEpoch != 0 {
		t.Fatalf("after overflow %+v", d)
	}
	if calls := h.markers.Calls(); !reflect.DeepEqual(calls[len(calls)-1], markerCall{pid, math.MaxInt16, true, []TP{tpA}}) {
		t.Fatalf("overflow markers %+v", calls[len(calls)-1])
	}
	p, e, err = h.c.EndTxn(ctx, "tx", pid, math.MaxInt16-1, true, true)
	mustOK(t, err)
	if p != pidN || e != 0 {
		t.Fatalf("overflow retry returned %d/%d", p, e)
	}
	mustOK(t, h.c.AddPartitions("tx", pidN, 0, []TP{tpA}))
	mustErr(t, h.c.AddPartitions("tx", pid, math.MaxInt16-1, []TP{tpA}), ErrInvalidProducerIDMapping)
}

func TestTransactionalIDExpiration(t *testing.T) {
	h := newHarness(t)
	pid, ep := h.init("idle")
	pidB, epB := h.init("busy")
	mustOK(t, h.c.AddPartitions("busy", pidB, epB, []TP{tpA}))
	h.clock.Advance(7*24*time.Hour + time.Second)
	h.c.expireTransactionalIDs()
	mustErr(t, h.describe("idle").Err, ErrTransactionalIDNotFound)
	if d := h.describe("busy"); d.Err != nil {
		t.Fatalf("ongoing transaction expired: %+v", d)
	}
	mustErr(t, h.c.AddPartitions("idle", pid, ep, []TP{tpA}), ErrInvalidProducerIDMapping)
	h.reopen()
	mustErr(t, h.describe("idle").Err, ErrTransactionalIDNotFound)
	if pid2, ep2 := h.init("idle"); pid2 == pid || ep2 != 0 {
		t.Fatalf("re-created id got %d/%d", pid2, ep2)
	}
}

func TestClosed(t *testing.T) {
	h := newHarness(t)
	pid, ep := h.init("tx")
	mustOK(t, h.c.Close())
	_, _, err := h.c.InitProducerID(context.Background(), "tx", time.Minute, -1, -1)
	mustErr(t, err, ErrCoordinatorNotAvailable)
	mustErr(t, h.c.AddPartitions("tx", pid, ep, []TP{tpA}), ErrCoordinatorNotAvailable)
	_, _, err = h.c.EndTxn(context.Background(), "tx", pid, ep, true, false)
	mustErr(t, err, ErrCoordinatorNotAvailable)
	mustErr(t, h.describe("tx").Err, ErrCoordinatorNotAvailable)
	mustOK(t, h.c.Close())
}

func TestConcurrentProducers(t *testing.T) {
	h := newHarness(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("tx-%d", i)
			pid, ep, err := h.c.InitProducerID(context.Background(), id, time.Minute, -1, -1)
			if err != nil {
				t.Error(err)
				return
			}
			for j := range 5 {
				if err := h.c.AddPartitions(id, pid, ep, []TP{{"t", int32(j)}}); err != nil {
					t.Error(err)
					return
				}
				if pid, ep, err = h.c.EndTxn(context.Background(), id, pid, ep, j%2 == 0, true); err != nil {
					t.Error(err)
					return
				}
				for h.c.AddPartitions(id, pid, ep, nil) != nil {
					time.Sleep(time.Millisecond) // wait out CONCURRENT_TRANSACTIONS
				}
			}
		}()
	}
	wg.Wait()
	if n := len(h.markers.Calls()); n != 40 {
		t.Fatalf("%d marker writes, want 40", n)
	}
}

// TestCrashInPrepareCommit copies the state file while the coordinator is
// running (as kill -9 would leave it: no Close) with a commit decided but
// its markers not written, and opens a coordinator on the copy.
func TestCrashInPrepareCommit(t *testing.T) {
	h := newHarness(t)
	pid, ep := h.init("tx")
	mustOK(t, h.c.AddPartitions("tx", pid, ep, []TP{tpA}))
	h.markers.mu.Lock()
	h.markers.block = make(chan struct{})
	h.markers.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	_, _, err := h.c.EndTxn(ctx, "tx", pid, ep, true, false)
	cancel()
	mustOK(t, err)

	crashed := t.TempDir()
	b, err := os.ReadFile(filepath.Join(h.dir, "transactions.db"))
	mustOK(t, err)
	mustOK(t, os.WriteFile(filepath.Join(crashed, "transactions.db"), b, 0o644))

	h2 := &harness{t: t, dir: crashed, res: h.res, markers: &fakeMarkers{}, offsets: &fakeOffsets{}, clock: h.clock, cfg: h.cfg}
	h2.open()
	defer h2.c.Close()
	h2.waitState("tx", "CompleteCommit")
	if want := []markerCall{{pid, ep, true, []TP{tpA}}}; !reflect.DeepEqual(h2.markers.Calls(), want) {
		t.Fatalf("markers after crash %+v, want %+v", h2.markers.Calls(), want)
	}
}

func noStore() error { return nil }
