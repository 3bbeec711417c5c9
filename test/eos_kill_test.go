package test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// eosTransform runs consume-transform-produce with a GroupTransactSession
// until ctx ends: every input record is written to out as "t-<value>" in
// the transaction that commits its offset. onCommit hears each committed
// transaction's size. pause is spent inside each transaction, so that a
// kill lands in one.
func eosTransform(ctx context.Context, addr, txnID, group, in, out string, pause time.Duration, onCommit func(int)) error {
	sess, err := kgo.NewGroupTransactSession(
		kgo.SeedBrokers(addr), kgo.TransactionalID(txnID), kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(in), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.DefaultProduceTopic(out),
		kgo.TransactionTimeout(4*time.Second), kgo.SessionTimeout(3*time.Second),
		kgo.HeartbeatInterval(300*time.Millisecond), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.FetchMaxWait(200*time.Millisecond), kgo.RetryTimeout(20*time.Second),
	)
	if err != nil {
		return err
	}
	defer sess.Close()
	for ctx.Err() == nil {
		fs := sess.PollRecords(ctx, 10)
		recs := fs.Records()
		if len(recs) == 0 {
			continue
		}
		if err := sess.Begin(); err != nil {
			return err
		}
		for _, r := range recs {
			sess.Produce(ctx, &kgo.Record{Value: append([]byte("t-"), r.Value...), Partition: r.Partition}, nil)
		}
		time.Sleep(pause)
		committed, err := sess.End(ctx, kgo.TryCommit)
		if err != nil && ctx.Err() == nil {
			return err
		}
		if committed {
			onCommit(len(recs))
		}
	}
	return nil
}

// TestEOSMemberProcess is the killed member of TestEOSMemberKilled, run as
// a child process of the test binary.
func TestEOSMemberProcess(t *testing.T) {
	addr := os.Getenv("CHRONIK_TEST_EOS_MEMBER")
	if addr == "" {
		t.Skip("child process of TestEOSMemberKilled")
	}
	err := eosTransform(context.Background(), addr, "eosk-child", "eosk-g", "eosk-in", "eosk-out", 50*time.Millisecond,
		func(n int) { fmt.Printf("committed %d\n", n) })
	t.Fatal(err)
}

// TestEOSMemberKilled: two members of a group run consume-transform-produce
// exactly once; one, in a child process, is killed with SIGKILL in the
// middle of its transactions. The other takes over its partitions once its
// session expires and its open transaction is aborted by the timeout, and
// the output holds every input record exactly once under read_committed.
func TestEOSMemberKilled(t *testing.T) {
	skipIfShort(t)
	tb := startBroker(t, "", fastGroups)
	adm := tb.admin()
	createTopic(t, adm, "eosk-in", 4, nil)
	createTopic(t, adm, "eosk-out", 4, nil)
	const n = 400
	in := tb.client(kgo.DefaultProduceTopic("eosk-in"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var rs []*kgo.Record
	for i := range n {
		rs = append(rs, &kgo.Record{Value: fmt.Appendf(nil, "%03d", i), Partition: int32(i % 4)})
	}
	if err := in.ProduceSync(testContext(t), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	child := exec.Command(os.Args[0], "-test.run", "^TestEOSMemberProcess$", "-test.v")
	child.Env = append(os.Environ(), "CHRONIK_TEST_EOS_MEMBER="+tb.addr)
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = child.Stdout
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	childCommits := make(chan struct{}, 1000)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "committed ") {
				childCommits <- struct{}{}
			}
		}
	}()

	// The surviving member, in this process.
	var done atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- eosTransform(ctx, tb.addr, "eosk-parent", "eosk-g", "eosk-in", "eosk-out", 50*time.Millisecond,
			func(k int) { done.Add(int64(k)) })
	}()
	defer cancel()

	// Kill the child after a few of its commits, mid-transaction.
	for i := 0; i < 3; i++ {
		select {
		case <-childCommits:
		case err := <-errc:
			t.Fatalf("surviving member: %v", err)
		case <-time.After(60 * time.Second):
			t.Fatal("the child member committed nothing")
		}
	}
	time.Sleep(20 * time.Millisecond)
	_ = child.Process.Signal(syscall.SIGKILL)

	// Everything ends up processed once: the group's committed offsets
	// reach the input's end and the output holds each record once.
	end := endOffsets(t, in, "eosk-in")
	waitFor(t, 90*time.Second, "group offsets at the input's end", func() bool {
		select {
		case err := <-errc:
			t.Fatalf("surviving member: %v", err)
		default:
		}
		offs, err := adm.FetchOffsets(testContext(t), "eosk-g")
		if err != nil {
			return false
		}
		for p, want := range end {
			if o, ok := offs.Lookup("eosk-in", p); !ok || o.At != want {
				return false
			}
		}
		return true
	})
	cancel()
	got := values(consumeAll(t, tb.addr, "eosk-out", n, readCommitted))
	seen := map[string]int{}
	for _, v := range got {
		seen[v]++
	}
	for i := range n {
		if v := fmt.Sprintf("t-%03d", i); seen[v] != 1 {
			t.Fatalf("output holds %s %d times (%d records, survivor committed %d)", v, seen[v], len(got), done.Load())
		}
	}
	if len(got) != n {
		t.Fatalf("output holds %d records, want %d", len(got), n)
	}
}
