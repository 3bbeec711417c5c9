package test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKill9LosesNothingAcknowledged produces with acks=all from an
// idempotent producer, kills the broker with SIGKILL mid-stream, restarts it
// and checks that every acknowledged record is there exactly once, at the
// offset it was acknowledged with, and that nothing appears twice.
func TestKill9LosesNothingAcknowledged(t *testing.T) {
	skipIfShort(t)
	for _, fsync := range []string{"always", "interval"} {
		t.Run("fsync="+fsync, func(t *testing.T) {
			dir := t.TempDir()
			pb := startProcBroker(t, dir, "--fsync", fsync)
			cl := newClient(t, pb.addr, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DefaultProduceTopic("crash"),
				kgo.AllowAutoTopicCreation(), kgo.ProducerLinger(time.Millisecond), kgo.RecordRetries(2), kgo.RecordDeliveryTimeout(5*time.Second))

			type ack struct {
				partition int32
				offset    int64
			}
			var mu sync.Mutex
			acked := map[string]ack{}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ctx.Err() == nil; i++ {
					v := fmt.Sprintf("record-%07d", i)
					cl.Produce(ctx, &kgo.Record{Key: []byte(v), Value: []byte(v)}, func(r *kgo.Record, err error) {
						if err == nil {
							mu.Lock()
							acked[string(r.Value)] = ack{r.Partition, r.Offset}
							mu.Unlock()
						}
					})
					if i%200 == 0 {
						time.Sleep(time.Millisecond)
					}
				}
			}()
			// Kill once a good number of records are acknowledged.
			deadline := time.Now().Add(30 * time.Second)
			for time.Now().Before(deadline) {
				mu.Lock()
				n := len(acked)
				mu.Unlock()
				if n > 5000 {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			pb.kill()
			cancel()
			wg.Wait()
			cl.Close()
			mu.Lock()
			defer mu.Unlock()
			if len(acked) < 1000 {
				t.Fatalf("only %d records acknowledged before the kill", len(acked))
			}

			pb.start()
			end := newClient(t, pb.addr)
			total := consumeUntilEnd(t, end, "crash")
			seen := map[string]bool{}
			for _, r := range total {
				v := string(r.Value)
				if seen[v] {
					t.Fatalf("%s appears twice", v)
				}
				seen[v] = true
				if a, ok := acked[v]; ok && (a.partition != r.Partition || a.offset != r.Offset) {
					t.Fatalf("%s acknowledged at %d/%d, found at %d/%d", v, a.partition, a.offset, r.Partition, r.Offset)
				}
			}
			for v, a := range acked {
				if !seen[v] {
					t.Fatalf("acknowledged record %s (%d/%d) lost; %d acknowledged, %d recovered", v, a.partition, a.offset, len(acked), len(total))
				}
			}
			t.Logf("%d acknowledged, %d recovered", len(acked), len(total))
		})
	}
}

// consumeUntilEnd reads a whole topic from the start up to its end offsets.
func consumeUntilEnd(t *testing.T, cl *kgo.Client, topic string) []*kgo.Record {
	t.Helper()
	ctx := waitContext(t, 60*time.Second)
	admEnd := endOffsets(t, cl, topic)
	want := int64(0)
	for _, o := range admEnd {
		want += o
	}
	c := newClient(t, cl.OptValue(kgo.SeedBrokers).([]string)[0], kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var out []*kgo.Record
	for int64(len(out)) < want {
		fs := c.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records", len(out), want)
		}
		out = append(out, fs.Records()...)
	}
	return out
}

// TestCorruptTailIsTruncated damages the end of a segment while the broker
// is down: on start the torn tail is cut and logged; earlier records and
// other partitions are intact and producing resumes.
func TestCorruptTailIsTruncated(t *testing.T) {
	skipIfShort(t)
	dir := t.TempDir()
	pb := startProcBroker(t, dir)
	cl := newClient(t, pb.addr, kgo.DefaultProduceTopic("torn"), kgo.AllowAutoTopicCreation(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	adm := newClient(t, pb.addr)
	createTopic(t, kadmClient(adm), "torn", 2, nil)
	for i := 0; i < 20; i++ {
		r := &kgo.Record{Partition: int32(i % 2), Value: []byte(fmt.Sprintf("v%02d", i))}
		if err := cl.ProduceSync(testContext(t), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cl.Close()
	adm.Close()
	pb.kill()

	seg := filepath.Join(dir, "torn-0", "00000000000000000000.log")
	st, err := os.Stat(seg)
	if err != nil {
		t.Fatal(err)
	}
	// Flip a byte inside the last batch and append half a batch of junk.
	f, err := os.OpenFile(seg, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{0xff}, st.Size()-3)
	f.WriteAt([]byte{0, 0, 0, 0, 0, 0, 0, 99, 0, 0, 1, 0}, st.Size())
	f.Close()

	pb.start()
	c := newClient(t, pb.addr)
	offs := endOffsets(t, c, "torn")
	if offs[0] != 9 || offs[1] != 10 {
		t.Fatalf("end offsets after recovery %v, want partition 0 cut to 9 and partition 1 at 10", offs)
	}
	got := consumeUntilEnd(t, c, "torn")
	if len(got) != 19 {
		t.Fatalf("recovered %d records, want 19", len(got))
	}
	cl = newClient(t, pb.addr, kgo.DefaultProduceTopic("torn"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	r := &kgo.Record{Partition: 0, Value: []byte("after")}
	if err := cl.ProduceSync(testContext(t), r).FirstErr(); err != nil || r.Offset != 9 {
		t.Fatalf("produce after recovery: offset %d, %v", r.Offset, err)
	}
}

// TestKill9MidTransaction kills the broker, three times, while a
// transactional producer commits transaction after transaction over three
// partitions. After the restarts, a read_committed consumer sees every
// transaction whose commit was acknowledged, and of every other
// transaction all of it or none, each record once.
func TestKill9MidTransaction(t *testing.T) {
	skipIfShort(t)
	dir := t.TempDir()
	if d := os.Getenv("CHRONIK_TEST_KEEP_DIR"); d != "" {
		dir = d
	}
	pb := startProcBroker(t, dir, "--fsync", "always")
	createTopic(t, kadmClient(newClient(t, pb.addr)), "txk", 3, nil)

	var mu sync.Mutex
	committed := map[int]bool{}
	next := 0 // first transaction number of the next round
	for round := 0; round < 3; round++ {
		if round > 0 {
			pb.start()
		}
		// A new producer re-initialises the transactional id, which
		// aborts whatever the killed broker left open.
		p := txnProducer(t, pb.addr, "killer", "txk", kgo.TransactionTimeout(20*time.Second),
			kgo.RecordRetries(2), kgo.RecordDeliveryTimeout(5*time.Second), kgo.RequestRetries(2))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan int)
		go func(first int) {
			n := first
			defer func() { done <- n }()
			for ; ctx.Err() == nil; n++ {
				if p.BeginTransaction() != nil {
					return
				}
				var failed atomic.Bool
				for i := 0; i < 3; i++ {
					p.Produce(ctx, &kgo.Record{Partition: int32(i), Value: []byte(fmt.Sprintf("%d-%d", n, i))},
						func(_ *kgo.Record, err error) {
							if err != nil {
								failed.Store(true)
							}
						})
				}
				// EndTransaction does not flush: records still buffered
				// would silently move into the next transaction.
				if err := p.Flush(ctx); err != nil || failed.Load() {
					return
				}
				if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
					return
				}
				mu.Lock()
				committed[n] = true
				mu.Unlock()
			}
		}(next)
		target := len(committed) + 20 + rand.IntN(20)
		waitFor(t, 30*time.Second, "committed transactions", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(committed) >= target
		})
		pb.kill()
		cancel()
		next = <-done + 1
		p.Close()
	}

	pb.start()
	// Re-initialising the transactional id aborts whatever it left open.
	q := txnProducer(t, pb.addr, "killer", "txk")
	produceTxn(t, q, 3, true, "final-0", "final-1", "final-2")

	c := newClient(t, pb.addr, kgo.ConsumeTopics("txk"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), readCommitted)
	seen := map[string]int{}
	finals := 0
	ctx := waitContext(t, 60*time.Second)
	for finals < 3 {
		fs := c.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read_committed consumer never reached the final transaction (%d records)", len(seen))
		}
		fs.EachRecord(func(r *kgo.Record) {
			v := string(r.Value)
			if strings.HasPrefix(v, "final-") {
				finals++
				return
			}
			seen[v]++
		})
	}
	perTxn := map[string]int{}
	for v, n := range seen {
		if n != 1 {
			t.Fatalf("record %s seen %d times", v, n)
		}
		perTxn[strings.SplitN(v, "-", 2)[0]]++
	}
	for txn, n := range perTxn {
		if n != 3 {
			t.Fatalf("transaction %s is partial under read_committed: %d of 3 records", txn, n)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for n := range committed {
		if perTxn[fmt.Sprint(n)] != 3 {
			if os.Getenv("CHRONIK_TEST_DEBUG_TXN") != "" {
				u := newClient(t, pb.addr, kgo.ConsumeTopics("txk"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
				all := map[string]string{}
				uctx := waitContext(t, 10*time.Second)
				for len(all) < len(committed)*3 && uctx.Err() == nil {
					u.PollFetches(uctx).EachRecord(func(r *kgo.Record) { all[string(r.Value)] = fmt.Sprintf("%d/%d", r.Partition, r.Offset) })
				}
				for k := n - 3; k < n+3; k++ {
					t.Logf("txn %d uncommitted view: %s %s %s", k, all[fmt.Sprintf("%d-0", k)], all[fmt.Sprintf("%d-1", k)], all[fmt.Sprintf("%d-2", k)])
				}
			}
			t.Fatalf("acknowledged transaction %d lost (%d transactions acknowledged, %d visible)", n, len(committed), len(perTxn))
		}
	}
	t.Logf("%d transactions acknowledged, %d visible after the kill", len(committed), len(perTxn))
}
