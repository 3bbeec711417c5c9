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
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/chronik-streaming/chronik/internal/batch/batchtest"
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

// txnVersions are franz-go clients speaking each transaction protocol: V2
// (KIP-890, chosen by the client from the broker's transaction.version
// feature) and V1 (produce capped below v12, as clients before KIP-890).
var txnVersions = []struct {
	name string
	opts []kgo.Opt
	v2   bool
}{
	{"V2", nil, true},
	{"V1", []kgo.Opt{kgo.MaxVersions(func() *kversion.Versions {
		v := kversion.Stable()
		v.SetMaxKeyVersion(int16(kmsg.Produce), 11)
		return v
	}())}, false},
}

// checkTxnEpoch checks that a transactional id ran the protocol asked for:
// under V2 each EndTxn bumps the epoch, under V1 only re-initialising does.
func checkTxnEpoch(t *testing.T, adm *kadm.Client, id string, v2 bool, ended int) {
	t.Helper()
	dt, err := adm.DescribeTransactions(testContext(t), id)
	if err != nil {
		t.Fatal(err)
	}
	d := dt[id]
	if d.Err != nil {
		t.Fatalf("DescribeTransactions %s: %v", id, d.Err)
	}
	if v2 && int(d.ProducerEpoch) < ended || !v2 && d.ProducerEpoch != 0 {
		t.Fatalf("transactional id %s is at epoch %d after %d transactions; transactions V2=%v", id, d.ProducerEpoch, ended, v2)
	}
}

// TestTransactionsCommitAbort: committed transactions over two partitions
// are visible to read_committed consumers, aborted ones are not, and
// read_uncommitted consumers see everything.
func TestTransactionsCommitAbort(t *testing.T) {
	for _, tv := range txnVersions {
		t.Run(tv.name, func(t *testing.T) { testTransactionsCommitAbort(t, tv.v2, tv.opts...) })
	}
}

func testTransactionsCommitAbort(t *testing.T, v2 bool, opts ...kgo.Opt) {
	tb := startBroker(t, "", nil)
	adm := tb.admin()
	createTopic(t, adm, "txn", 2, nil)
	p := txnProducer(t, tb.addr, "tx-a", "txn", opts...)
	produceTxn(t, p, 2, true, "c0", "c1", "c2", "c3")
	produceTxn(t, p, 2, false, "a0", "a1", "a2", "a3")
	produceTxn(t, p, 2, true, "c4", "c5")
	checkTxnEpoch(t, adm, "tx-a", v2, 3)

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
	for _, tv := range txnVersions {
		t.Run(tv.name, func(t *testing.T) { testTransactionsExactlyOnce(t, tv.v2, tv.opts...) })
	}
}

func testTransactionsExactlyOnce(t *testing.T, v2 bool, opts ...kgo.Opt) {
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

	sess, err := kgo.NewGroupTransactSession(append([]kgo.Opt{
		kgo.SeedBrokers(tb.addr), kgo.TransactionalID("eos"), kgo.ConsumerGroup("eos-g"),
		kgo.ConsumeTopics("eos-in"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		readCommitted, kgo.DefaultProduceTopic("eos-out"), kgo.RetryTimeout(10 * time.Second),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	done, ended := 0, 0
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
		ended++
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
	checkTxnEpoch(t, adm, "eos", v2, ended)
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

// TestTransactionsV2Wire drives transactions V2 (KIP-890) request by
// request: the broker finalizes transaction.version 2; Produce v12 and
// TxnOffsetCommit v5 join the transaction without AddPartitionsToTxn and
// AddOffsetsToTxn; EndTxn v5 bumps the epoch, so the marker fences the
// old one. A V1 request sequence at the same time must still add its
// partitions: Produce v11 of a partition outside the transaction is
// INVALID_TXN_STATE.
func TestTransactionsV2Wire(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb.admin(), "tv2", 1, nil)

	av := kmsg.NewPtrApiVersionsRequest()
	av.Version, av.ClientSoftwareName, av.ClientSoftwareVersion = 3, "test", "1"
	avr := roundTrip(t, tb.addr, av).(*kmsg.ApiVersionsResponse)
	if len(avr.FinalizedFeatures) != 1 || avr.FinalizedFeatures[0].Name != "transaction.version" ||
		avr.FinalizedFeatures[0].MaxVersionLevel != 2 || avr.FinalizedFeaturesEpoch < 0 {
		t.Fatalf("ApiVersions features: %+v (epoch %d)", avr.FinalizedFeatures, avr.FinalizedFeaturesEpoch)
	}

	init := kmsg.NewPtrInitProducerIDRequest()
	init.Version, init.TransactionalID, init.TransactionTimeoutMillis = 5, strp("tv2-raw"), 60000
	ir := roundTrip(t, tb.addr, init).(*kmsg.InitProducerIDResponse)
	if ir.ErrorCode != 0 {
		t.Fatalf("InitProducerId: error %d", ir.ErrorCode)
	}
	pid, epoch := ir.ProducerID, ir.ProducerEpoch

	produce := func(version, epoch int16, seq int32, value string) int16 {
		t.Helper()
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.Acks, req.TimeoutMillis, req.TransactionID = version, -1, 5000, strp("tv2-raw")
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "tv2"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = batchtest.Build(batchtest.Options{Values: [][]byte{[]byte(value)}, Idempotent: true,
			Transactional: true, ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq, BaseTimestamp: time.Now().UnixMilli()})
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return roundTrip(t, tb.addr, req).(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode
	}
	endTxn := func(version, epoch int16, commit bool) *kmsg.EndTxnResponse {
		t.Helper()
		req := kmsg.NewPtrEndTxnRequest()
		req.Version, req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = version, "tv2-raw", pid, epoch, commit
		return roundTrip(t, tb.addr, req).(*kmsg.EndTxnResponse)
	}

	// V2: implicit partition and group adds, epoch bumped by EndTxn.
	if code := produce(12, epoch, 0, "v2-committed"); code != 0 {
		t.Fatalf("Produce v12 in a V2 transaction: error %d", code)
	}
	toc := kmsg.NewPtrTxnOffsetCommitRequest()
	toc.Version, toc.TransactionalID, toc.Group, toc.ProducerID, toc.ProducerEpoch, toc.Generation = 5, "tv2-raw", "tv2-g", pid, epoch, -1
	tt := kmsg.NewTxnOffsetCommitRequestTopic()
	tt.Topic = "tv2"
	tp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	tp.Offset = 7
	tt.Partitions = append(tt.Partitions, tp)
	toc.Topics = append(toc.Topics, tt)
	if code := roundTrip(t, tb.addr, toc).(*kmsg.TxnOffsetCommitResponse).Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("TxnOffsetCommit v5 without AddOffsetsToTxn: error %d", code)
	}
	er := endTxn(5, epoch, true)
	if er.ErrorCode != 0 || er.ProducerID != pid || er.ProducerEpoch != epoch+1 {
		t.Fatalf("EndTxn v5: error %d, producer %d epoch %d; want %d epoch %d", er.ErrorCode, er.ProducerID, er.ProducerEpoch, pid, epoch+1)
	}
	// A retry of the same EndTxn (the answer was lost) succeeds again.
	if er := endTxn(5, epoch, true); er.ErrorCode != 0 || er.ProducerEpoch != epoch+1 {
		t.Fatalf("EndTxn v5 retry: error %d, epoch %d", er.ErrorCode, er.ProducerEpoch)
	}
	// The commit marker carries the bumped epoch: the old one is fenced.
	if code := produce(12, epoch, 1, "zombie"); code != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("Produce at the epoch before the bump: error %d, want INVALID_PRODUCER_EPOCH", code)
	}
	epoch++

	// V1 sequence: without AddPartitionsToTxn the batch is refused.
	if code := produce(11, epoch, 0, "unadded"); code != kerr.InvalidTxnState.Code {
		t.Fatalf("Produce v11 of a partition outside the transaction: error %d, want INVALID_TXN_STATE", code)
	}
	add := kmsg.NewPtrAddPartitionsToTxnRequest()
	add.Version, add.TransactionalID, add.ProducerID, add.ProducerEpoch = 3, "tv2-raw", pid, epoch
	at := kmsg.NewAddPartitionsToTxnRequestTopic()
	at.Topic, at.Partitions = "tv2", []int32{0}
	add.Topics = append(add.Topics, at)
	if code := roundTrip(t, tb.addr, add).(*kmsg.AddPartitionsToTxnResponse).Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("AddPartitionsToTxn: error %d", code)
	}
	if code := produce(11, epoch, 0, "v1-aborted"); code != 0 {
		t.Fatalf("Produce v11 after AddPartitionsToTxn: error %d", code)
	}
	if er := endTxn(4, epoch, false); er.ErrorCode != 0 {
		t.Fatalf("EndTxn v4 abort: error %d", er.ErrorCode)
	}

	got := values(consumeAll(t, tb.addr, "tv2", 1, readCommitted))
	if fmt.Sprint(got) != "[v2-committed]" {
		t.Fatalf("read_committed saw %v", got)
	}
	offs, err := tb.admin().FetchOffsets(testContext(t), "tv2-g")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := offs.Lookup("tv2", 0); !ok || o.At != 7 {
		t.Fatalf("group offset committed by the V2 transaction = %+v", o)
	}
}

// TestConfluentKafkaPythonTransactions: confluent-kafka-python's
// transactional producer (librdkafka, transactions V1) commits and aborts,
// and runs consume-transform-produce with send_offsets_to_transaction; a
// read_committed reader sees each committed record once and nothing
// aborted, and the group's offsets are the end of the input.
func TestConfluentKafkaPythonTransactions(t *testing.T) {
	py := pythonWith(t, "confluent_kafka")
	tb := startBroker(t, "", nil)
	adm := tb.admin()
	createTopic(t, adm, "pyt-in", 2, nil)
	createTopic(t, adm, "pyt-out", 2, nil)
	const n = 30
	in := tb.client(kgo.DefaultProduceTopic("pyt-in"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range n {
		if err := in.ProduceSync(testContext(t), &kgo.Record{Value: fmt.Appendf(nil, "%02d", i), Partition: int32(i % 2)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	ev := runScript(t, 120*time.Second, py, scriptPath(t, "python/confluent_transactions.py"), tb.addr, map[string]any{
		"input": "pyt-in", "output": "pyt-out", "records": n, "partitions": 2,
	})
	var eos struct {
		Processed int
		Committed map[string]int64
	}
	ev.get("eos_done", "", &eos)
	if eos.Processed != n || eos.Committed["0"] != n/2 || eos.Committed["1"] != n/2 {
		t.Errorf("consume-transform-produce: %+v, want %d processed and offsets %d/%d", eos, n, n/2, n/2)
	}
	want := []string{"c1", "c2"}
	for i := range n {
		want = append(want, fmt.Sprintf("t-%02d", i))
	}
	sort.Strings(want)
	var rc, ru struct{ Values []string }
	ev.get("read_committed", "", &rc)
	ev.get("read_uncommitted", "", &ru)
	sort.Strings(rc.Values)
	if fmt.Sprint(rc.Values) != fmt.Sprint(want) {
		t.Errorf("read_committed saw %v\nwant %v", rc.Values, want)
	}
	sort.Strings(ru.Values)
	if wantAll := sortedCopy(append(want, "a1", "a2")); fmt.Sprint(ru.Values) != fmt.Sprint(wantAll) {
		t.Errorf("read_uncommitted saw %v\nwant %v", ru.Values, wantAll)
	}
	// The franz-go view agrees.
	if got := values(consumeAll(t, tb.addr, "pyt-out", len(want), readCommitted)); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("franz-go read_committed saw %v", got)
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
