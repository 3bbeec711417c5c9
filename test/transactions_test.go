package test

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// txnProducer is a transactional franz-go producer for topic, records
// placed on the partition they carry.
func txnProducer(t *testing.T, addr, id, topic string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append([]kgo.Opt{
		kgo.TransactionalID(id), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	}, opts...)
	return newClient(t, addr, opts...)
}

// produceTxn runs one transaction writing values round-robin over
// partitions, committing or aborting it.
func produceTxn(t *testing.T, cl *kgo.Client, partitions int32, commit bool, values ...string) {
	t.Helper()
	ctx := testContext(t)
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i, v := range values {
		r := &kgo.Record{Value: []byte(v), Partition: int32(i) % partitions}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce %s: %v", v, err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatalf("end transaction (commit=%v): %v", commit, err)
	}
}

func values(rs []*kgo.Record) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, string(r.Value))
	}
	sort.Strings(out)
	return out
}

var readCommitted = kgo.FetchIsolationLevel(kgo.ReadCommitted())

// TestTransactionsCommitAbort: committed transactions over two partitions
// are visible to read_committed consumers, aborted ones are not, and
// read_uncommitted consumers see everything.
func TestTransactionsCommitAbort(t *testing.T) {
	tb := startBroker(t, "", nil)
	adm := tb.admin()
	createTopic(t, adm, "txn", 2, nil)
	p := txnProducer(t, tb.addr, "tx-a", "txn")
	produceTxn(t, p, 2, true, "c0", "c1", "c2", "c3")
	produceTxn(t, p, 2, false, "a0", "a1", "a2", "a3")
	produceTxn(t, p, 2, true, "c4", "c5")

	got := values(consumeAll(t, tb.addr, "txn", 6, readCommitted))
	if want := []string{"c0", "c1", "c2", "c3", "c4", "c5"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("read_committed saw %v, want %v", got, want)
	}
	if got := consumeAll(t, tb.addr, "txn", 10); len(got) != 10 {
		t.Fatalf("read_uncommitted saw %d records, want 10", len(got))
	}

	// While a transaction is open, ListOffsets latest under read_committed
	// stops at its first offset (the LSO).
	ctx := testContext(t)
	before := endOffsets(t, p, "txn")
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte("open"), Partition: 0}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	lso, err := adm.ListCommittedOffsets(ctx, "txn")
	if err != nil {
		t.Fatal(err)
	}
	after := endOffsets(t, p, "txn")
	if o, _ := lso.Lookup("txn", 0); o.Offset != before[0] || after[0] != before[0]+1 {
		t.Fatalf("read_committed end = %d, high watermark %d -> %d", o.Offset, before[0], after[0])
	}

	// The admin APIs see the open transaction.
	dt, err := adm.DescribeTransactions(ctx, "tx-a")
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := dt["tx-a"]; !ok || d.Err != nil || d.State != "Ongoing" {
		t.Fatalf("DescribeTransactions = %+v", dt)
	}
	lt, err := adm.ListTransactions(ctx, nil, []string{"Ongoing"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := lt["tx-a"]; !ok || len(lt) != 1 {
		t.Fatalf("ListTransactions = %+v", lt)
	}
	dp, err := adm.DescribeProducers(ctx, kadm.TopicsSet{"txn": {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	dp.EachPartition(func(pp kadm.DescribedProducersPartition) {
		for _, pr := range pp.ActiveProducers {
			if pr.CurrentTxnStartOffset == before[0] {
				found = true
			}
		}
	})
	if !found {
		t.Fatalf("DescribeProducers shows no transaction starting at %d: %+v", before[0], dp)
	}
	if err := p.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	lso, err = adm.ListCommittedOffsets(ctx, "txn")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := lso.Lookup("txn", 0); o.Offset != after[0]+1 { // past the ABORT marker
		t.Fatalf("read_committed end after abort = %d, want %d", o.Offset, after[0]+1)
	}
}

// TestTransactionsExactlyOnce: read-process-write with a group transact
// session commits the group's offsets with the produced records.
func TestTransactionsExactlyOnce(t *testing.T) {
	tb := startBroker(t, "", nil)
	adm := tb.admin()
	createTopic(t, adm, "eos-in", 2, nil)
	createTopic(t, adm, "eos-out", 2, nil)
	const n = 40
	in := tb.client(kgo.DefaultProduceTopic("eos-in"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx := testContext(t)
	for i := range n {
		if err := in.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "r%02d", i), Partition: int32(i % 2)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	sess, err := kgo.NewGroupTransactSession(
		kgo.SeedBrokers(tb.addr), kgo.TransactionalID("eos"), kgo.ConsumerGroup("eos-g"),
		kgo.ConsumeTopics("eos-in"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		readCommitted, kgo.DefaultProduceTopic("eos-out"), kgo.RetryTimeout(10*time.Second),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	done := 0
	for done < n {
		fs := sess.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("processed %d of %d records before timeout", done, n)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		recs := fs.Records()
		if len(recs) == 0 {
			continue
		}
		if err := sess.Begin(); err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			sess.Produce(ctx, &kgo.Record{Value: r.Value}, func(_ *kgo.Record, err error) {
				if err != nil {
					t.Errorf("produce: %v", err)
				}
			})
		}
		committed, err := sess.End(ctx, kgo.TryCommit)
		if err != nil {
			t.Fatalf("end: %v", err)
		}
		if committed {
			done += len(recs)
		}
	}

	end := endOffsets(t, in, "eos-in")
	offs, err := adm.FetchOffsets(ctx, "eos-g")
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range end {
		if o, ok := offs.Lookup("eos-in", p); !ok || o.At != want {
			t.Fatalf("group offset of eos-in/%d = %+v, want %d", p, o, want)
		}
	}
	got := values(consumeAll(t, tb.addr, "eos-out", n, readCommitted))
	if len(got) != n {
		t.Fatalf("eos-out holds %d records, want %d", len(got), n)
	}
	for i, v := range got {
		if want := fmt.Sprintf("r%02d", i); v != want {
			t.Fatalf("eos-out record %d = %s, want %s (all: %v)", i, v, want, got)
		}
	}
}

// TestTransactionsFencing: a second producer with the same transactional
// id fences the first one.
func TestTransactionsFencing(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb.admin(), "fence", 1, nil)
	ctx := testContext(t)
	p1 := txnProducer(t, tb.addr, "tx-f", "fence")
	if err := p1.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p1.ProduceSync(ctx, &kgo.Record{Value: []byte("zombie")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	p2 := txnProducer(t, tb.addr, "tx-f", "fence")
	produceTxn(t, p2, 1, true, "live")

	fenced := func(err error) bool {
		return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch)
	}
	err := p1.ProduceSync(ctx, &kgo.Record{Value: []byte("zombie2")}).FirstErr()
	if err == nil {
		err = p1.EndTransaction(ctx, kgo.TryCommit)
	}
	if !fenced(err) {
		t.Fatalf("fenced producer got %v, want PRODUCER_FENCED or INVALID_PRODUCER_EPOCH", err)
	}
	got := values(consumeAll(t, tb.addr, "fence", 1, readCommitted))
	if fmt.Sprint(got) != "[live]" {
		t.Fatalf("read_committed saw %v", got)
	}
}

// TestEndTxnWithoutTransaction: EndTxn when no transaction is ongoing is
// INVALID_TXN_STATE.
func TestEndTxnWithoutTransaction(t *testing.T) {
	tb := startBroker(t, "", nil)
	init := kmsg.NewPtrInitProducerIDRequest()
	init.Version = 4
	init.TransactionalID = strp("tx-raw")
	init.TransactionTimeoutMillis = 60000
	ir := roundTrip(t, tb.addr, init).(*kmsg.InitProducerIDResponse)
	if ir.ErrorCode != 0 || ir.ProducerID < 0 {
		t.Fatalf("InitProducerId: %+v", ir)
	}
	for _, commit := range []bool{true, false} {
		end := kmsg.NewPtrEndTxnRequest()
		end.Version = 3
		end.TransactionalID, end.ProducerID, end.ProducerEpoch, end.Commit = "tx-raw", ir.ProducerID, ir.ProducerEpoch, commit
		if er := roundTrip(t, tb.addr, end).(*kmsg.EndTxnResponse); er.ErrorCode != kerr.InvalidTxnState.Code {
			t.Fatalf("EndTxn commit=%v without a transaction: error %d, want INVALID_TXN_STATE", commit, er.ErrorCode)
		}
	}
	// A transaction timeout above transaction_max_timeout_ms is refused.
	init.TransactionTimeoutMillis = 900001
	if ir := roundTrip(t, tb.addr, init).(*kmsg.InitProducerIDResponse); ir.ErrorCode != kerr.InvalidTransactionTimeout.Code {
		t.Fatalf("InitProducerId with a too long timeout: error %d", ir.ErrorCode)
	}
}

// waitStable waits until no transaction holds back topic's read_committed
// end (the LSO reached the high watermark everywhere).
func waitStable(t *testing.T, cl *kgo.Client, topic string, within time.Duration) {
	t.Helper()
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(within)
	for {
		lso, err := adm.ListCommittedOffsets(testContext(t), topic)
		if err != nil {
			t.Fatal(err)
		}
		end := endOffsets(t, cl, topic)
		stable := true
		lso.Each(func(o kadm.ListedOffset) {
			if o.Offset != end[o.Partition] {
				stable = false
			}
		})
		if stable {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("transaction on %s still open after %v: lso %v, end %v", topic, within, lso, end)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestTransactionTimeout: a transaction left open past its timeout is
// aborted by the coordinator.
func TestTransactionTimeout(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb.admin(), "tto", 1, nil)
	ctx := testContext(t)
	p := txnProducer(t, tb.addr, "tx-t", "tto", kgo.TransactionTimeout(time.Second))
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte("lost")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	plain := tb.client(kgo.DefaultProduceTopic("tto"))
	waitStable(t, plain, "tto", 30*time.Second)
	if err := plain.ProduceSync(ctx, &kgo.Record{Value: []byte("after")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if got := values(consumeAll(t, tb.addr, "tto", 1, readCommitted)); fmt.Sprint(got) != "[after]" {
		t.Fatalf("read_committed saw %v", got)
	}
}

// TestTransactionsRestart: committed transactions stay visible across a
// restart; a transaction open at the restart is aborted when its producer
// re-initialises.
func TestTransactionsRestart(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb.admin(), "trs", 2, nil)
	ctx := testContext(t)
	p := txnProducer(t, tb.addr, "tx-r", "trs")
	produceTxn(t, p, 2, true, "c0", "c1")
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := range int32(2) {
		if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte("open"), Partition: i}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// A second transactional id, left open with a short timeout: the
	// coordinator aborts it after the restart.
	q := txnProducer(t, tb.addr, "tx-r2", "trs", kgo.TransactionTimeout(time.Second))
	if err := q.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := q.ProduceSync(ctx, &kgo.Record{Value: []byte("open2"), Partition: 1}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	p.Close()
	q.Close()

	tb = tb.restart()
	if got := values(consumeAll(t, tb.addr, "trs", 2, readCommitted)); fmt.Sprint(got) != "[c0 c1]" {
		t.Fatalf("after restart read_committed saw %v", got)
	}
	p = txnProducer(t, tb.addr, "tx-r", "trs")
	produceTxn(t, p, 2, true, "c2")
	waitStable(t, p, "trs", 30*time.Second)
	got := values(consumeAll(t, tb.addr, "trs", 3, readCommitted))
	if fmt.Sprint(got) != "[c0 c1 c2]" {
		t.Fatalf("read_committed saw %v", got)
	}
	for _, v := range got {
		if strings.HasPrefix(v, "open") {
			t.Fatalf("aborted record %s visible", v)
		}
	}
}

// TestTxnOffsetCommitPending: transactional offsets are pending until the
// transaction commits; OffsetFetch with require_stable answers
// UNSTABLE_OFFSET_COMMIT meanwhile.
func TestTxnOffsetCommitPending(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb.admin(), "tos", 1, nil)
	init := kmsg.NewPtrInitProducerIDRequest()
	init.Version = 4
	init.TransactionalID = strp("tx-os")
	init.TransactionTimeoutMillis = 60000
	ir := roundTrip(t, tb.addr, init).(*kmsg.InitProducerIDResponse)
	if ir.ErrorCode != 0 {
		t.Fatalf("InitProducerId: %+v", ir)
	}
	add := kmsg.NewPtrAddOffsetsToTxnRequest()
	add.Version = 3
	add.TransactionalID, add.ProducerID, add.ProducerEpoch, add.Group = "tx-os", ir.ProducerID, ir.ProducerEpoch, "g-os"
	if r := roundTrip(t, tb.addr, add).(*kmsg.AddOffsetsToTxnResponse); r.ErrorCode != 0 {
		t.Fatalf("AddOffsetsToTxn: error %d", r.ErrorCode)
	}
	commit := kmsg.NewPtrTxnOffsetCommitRequest()
	commit.Version = 3
	commit.TransactionalID, commit.Group, commit.ProducerID, commit.ProducerEpoch = "tx-os", "g-os", ir.ProducerID, ir.ProducerEpoch
	commit.Generation = -1
	ct := kmsg.NewTxnOffsetCommitRequestTopic()
	ct.Topic = "tos"
	cp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	cp.Partition, cp.Offset = 0, 5
	ct.Partitions = append(ct.Partitions, cp)
	commit.Topics = append(commit.Topics, ct)
	if r := roundTrip(t, tb.addr, commit).(*kmsg.TxnOffsetCommitResponse); r.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("TxnOffsetCommit: error %d", r.Topics[0].Partitions[0].ErrorCode)
	}
	fetch := func(stable bool) (int64, int16) {
		f := kmsg.NewPtrOffsetFetchRequest()
		f.Version = 7
		f.Group, f.RequireStable = "g-os", stable
		ft := kmsg.NewOffsetFetchRequestTopic()
		ft.Topic, ft.Partitions = "tos", []int32{0}
		f.Topics = append(f.Topics, ft)
		p := roundTrip(t, tb.addr, f).(*kmsg.OffsetFetchResponse).Topics[0].Partitions[0]
		return p.Offset, p.ErrorCode
	}
	if _, code := fetch(true); code != kerr.UnstableOffsetCommit.Code {
		t.Fatalf("require_stable fetch of a pending offset: error %d, want UNSTABLE_OFFSET_COMMIT", code)
	}
	if off, code := fetch(false); code != 0 || off != -1 {
		t.Fatalf("fetch of a pending offset = %d, error %d; want -1", off, code)
	}
	end := kmsg.NewPtrEndTxnRequest()
	end.Version = 3
	end.TransactionalID, end.ProducerID, end.ProducerEpoch, end.Commit = "tx-os", ir.ProducerID, ir.ProducerEpoch, true
	if r := roundTrip(t, tb.addr, end).(*kmsg.EndTxnResponse); r.ErrorCode != 0 {
		t.Fatalf("EndTxn: error %d", r.ErrorCode)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		off, code := fetch(true)
		if code == 0 && off == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after commit: offset %d, error %d; want 5", off, code)
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb = tb.restart()
	if off, code := fetch(true); code != 0 || off != 5 {
		t.Fatalf("after restart: offset %d, error %d; want 5", off, code)
	}
}

// TestTransactionDeletedTopic: a transaction whose topic was deleted still
// completes (its markers are skipped), and the next one works.
func TestTransactionDeletedTopic(t *testing.T) {
	tb := startBroker(t, "", nil)
	adm := tb.admin()
	createTopic(t, adm, "tgone", 1, nil)
	createTopic(t, adm, "tstay", 1, nil)
	ctx := testContext(t)
	p := txnProducer(t, tb.addr, "tx-d", "tgone")
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Topic: "tstay", Value: []byte("kept")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.DeleteTopics(ctx, "tgone"); err != nil {
		t.Fatal(err)
	}
	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("commit after the topic was deleted: %v", err)
	}
	if got := values(consumeAll(t, tb.addr, "tstay", 1, readCommitted)); fmt.Sprint(got) != "[kept]" {
		t.Fatalf("read_committed saw %v", got)
	}
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Topic: "tstay", Value: []byte("next")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("next transaction: %v", err)
	}
}

// TestKcatReadCommitted: librdkafka (kcat) consumes a topic with committed
// and aborted transactions under read_committed (parsing the aborted
// transactions of Fetch) and under read_uncommitted.
func TestKcatReadCommitted(t *testing.T) {
	kcatPath(t)
	tb := startBroker(t, "", nil)
	createTopic(t, tb.admin(), "kcat-txn", 1, nil)
	p := txnProducer(t, tb.addr, "tx-kcat", "kcat-txn")
	produceTxn(t, p, 1, true, "c0", "c1")
	produceTxn(t, p, 1, false, "a0", "a1")
	produceTxn(t, p, 1, true, "c2")
	consume := func(isolation string) string {
		return runKcat(t, "", "-b", tb.addr, "-C", "-t", "kcat-txn", "-o", "beginning", "-e", "-q",
			"-X", "isolation.level="+isolation, "-f", "%s\n")
	}
	if got := consume("read_committed"); got != "c0\nc1\nc2\n" {
		t.Fatalf("kcat read_committed consumed %q", got)
	}
	if got := consume("read_uncommitted"); got != "c0\nc1\na0\na1\nc2\n" {
		t.Fatalf("kcat read_uncommitted consumed %q", got)
	}
}
