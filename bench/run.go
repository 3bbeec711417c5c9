package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// stallTimeout bounds how long a consumer may see no new records before
// the run fails instead of hanging.
var stallTimeout = 30 * time.Second

// ensureTopic creates the topic if it is missing and returns its partition
// count.
func ensureTopic(ctx context.Context, o *Options, addrs []string) (int, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ClientID("chronik-bench-admin"))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	tds, err := adm.ListTopics(ctx, o.Topic)
	if err != nil {
		return 0, fmt.Errorf("listing topics: %w", err)
	}
	if tds.Has(o.Topic) && tds[o.Topic].Err == nil {
		n := len(tds[o.Topic].Partitions)
		if n != o.Partitions {
			o.logf("topic %q exists with %d partitions (not %d); using it as is", o.Topic, n, o.Partitions)
		}
		return n, nil
	}
	_, err = adm.CreateTopic(ctx, int32(o.Partitions), int16(o.ReplicationFactor), nil, o.Topic)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return 0, fmt.Errorf("creating topic %q: %w", o.Topic, err)
	}
	o.logf("created topic %q with %d partitions", o.Topic, o.Partitions)
	// Wait until every partition has a leader in metadata. A fresh client
	// per check: franz-go caches metadata responses for a few seconds.
	deadline := time.Now().Add(15 * time.Second)
	for {
		tds, err := listTopic(ctx, addrs, o.Topic)
		if err == nil && tds.Has(o.Topic) && tds[o.Topic].Err == nil {
			td := tds[o.Topic]
			ready := len(td.Partitions) > 0
			for _, p := range td.Partitions {
				if p.Err != nil || p.Leader < 0 {
					ready = false
				}
			}
			if ready {
				return len(td.Partitions), nil
			}
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("topic %q not ready after creation (last error: %v)", o.Topic, err)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func listTopic(ctx context.Context, addrs []string, topic string) (kadm.TopicDetails, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ClientID("chronik-bench-admin"))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	return kadm.NewClient(cl).ListTopics(ctx, topic)
}

// payloads is a pool of random upper-case payloads of one size, or of
// ~1 KiB log-like JSON records (which carry no send time).
type payloads struct {
	size int
	json bool
	pool [][]byte
	bufs sync.Pool // *[]byte of len size
}

func newPayloads(size int, asJSON bool) *payloads {
	rng := rand.New(rand.NewPCG(42, uint64(size)))
	p := &payloads{size: size, json: asJSON, pool: make([][]byte, 1024)}
	if asJSON {
		now := time.Now()
		for i := range p.pool {
			p.pool[i] = jsonRecord(rng, int64(i), false, now)
		}
		return p
	}
	for i := range p.pool {
		b := make([]byte, size)
		for j := range b {
			b[j] = 'A' + byte(rng.IntN(26))
		}
		p.pool[i] = b
	}
	p.bufs.New = func() any { b := make([]byte, size); return &b }
	return p
}

// get returns a value buffer for record i stamped with now.
func (p *payloads) get(i int64, now time.Time) *[]byte {
	if p.json {
		b := p.pool[i%int64(len(p.pool))]
		return &b // never written to, so shared
	}
	bp := p.bufs.Get().(*[]byte)
	b := *bp
	copy(b, p.pool[i%int64(len(p.pool))])
	if len(b) >= 8 {
		binary.BigEndian.PutUint64(b, uint64(now.UnixNano()))
	}
	return bp
}

// put returns a buffer from get.
func (p *payloads) put(bp *[]byte) {
	if !p.json {
		p.bufs.Put(bp)
	}
}

// sentAt extracts the send time from a record.
func sentAt(r *kgo.Record) time.Time {
	if len(r.Value) >= 8 {
		return time.Unix(0, int64(binary.BigEndian.Uint64(r.Value)))
	}
	return r.Timestamp
}

// produce writes records with o.Producers clients until count records were
// attempted or dur elapsed (zero means unbounded), waits for every promise,
// and returns throughput of acknowledged records plus the latency
// histogram.
func produce(ctx context.Context, o *Options, addrs []string, count int64, dur time.Duration) (Throughput, *Histogram, error) {
	return produceWith(ctx, o, addrs, count, dur, nil)
}

// produceWith is produce calling onStart (if set) just before the clock
// starts.
func produceWith(ctx context.Context, o *Options, addrs []string, count int64, dur time.Duration, onStart func()) (Throughput, *Histogram, error) {
	clients := make([]*kgo.Client, o.Producers)
	for i := range clients {
		cl, err := kgo.NewClient(producerOpts(o, addrs)...)
		if err != nil {
			for _, c := range clients[:i] {
				c.Close()
			}
			return Throughput{}, nil, err
		}
		clients[i] = cl
	}
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	// Connect before the clock starts.
	for _, c := range clients {
		if err := c.Ping(ctx); err != nil {
			return Throughput{}, nil, fmt.Errorf("connecting: %w", err)
		}
	}

	if count <= 0 {
		count = math.MaxInt64
	}
	var (
		pl       = newPayloads(o.RecordSize, o.JSON)
		hist     = NewHistogram()
		claimed  atomic.Int64
		acked    atomic.Int64
		failed   atomic.Int64
		errOnce  sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if onStart != nil {
		onStart()
	}
	perProducer := o.Rate / float64(len(clients))
	start := time.Now()
	var deadline time.Time
	if dur > 0 {
		deadline = start.Add(dur)
	}
	for _, cl := range clients {
		wg.Add(1)
		go func(cl *kgo.Client) {
			defer wg.Done()
			var sent int64
			for pctx.Err() == nil {
				i := claimed.Add(1)
				if i > count {
					break
				}
				now := time.Now()
				if !deadline.IsZero() && now.After(deadline) {
					break
				}
				if perProducer > 0 {
					// Pace by schedule: sleep while ahead of it; after a
					// coarse sleep the loop catches up in a burst.
					if due := start.Add(time.Duration(float64(sent) / perProducer * float64(time.Second))); now.Before(due) {
						select {
						case <-time.After(due.Sub(now)):
						case <-pctx.Done():
						}
						now = time.Now()
					}
					sent++
				}
				bp := pl.get(i, now)
				cl.Produce(pctx, &kgo.Record{Topic: o.Topic, Value: *bp}, func(_ *kgo.Record, err error) {
					hist.Record(time.Since(now))
					pl.put(bp)
					if err != nil {
						failed.Add(1)
						errOnce.Do(func() { firstErr = err })
						if !errors.Is(err, context.Canceled) {
							cancel() // fail fast: the numbers are meaningless now
						}
						return
					}
					acked.Add(1)
				})
			}
			cl.Flush(ctx)
		}(cl)
	}
	wg.Wait()
	elapsed := time.Since(start)
	n := acked.Load()
	tp := throughput(n, n*int64(o.RecordSize), failed.Load(), elapsed)
	if firstErr != nil {
		return tp, hist, fmt.Errorf("%d produce errors, first: %w", failed.Load(), firstErr)
	}
	if err := ctx.Err(); err != nil {
		return tp, hist, err
	}
	return tp, hist, nil
}

// listRange lists the topic's log start and end offsets.
func listRange(ctx context.Context, o *Options, addrs []string) (start, end kadm.ListedOffsets, err error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ClientID("chronik-bench-admin"))
	if err != nil {
		return nil, nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if start, err = adm.ListStartOffsets(ctx, o.Topic); err == nil {
		err = start.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("listing start offsets: %w", err)
	}
	if end, err = adm.ListEndOffsets(ctx, o.Topic); err == nil {
		err = end.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("listing end offsets: %w", err)
	}
	return start, end, nil
}

func available(start, end kadm.ListedOffsets) int64 {
	var n int64
	end.Each(func(e kadm.ListedOffset) {
		s, _ := start.Lookup(e.Topic, e.Partition)
		n += e.Offset - s.Offset
	})
	return n
}

// fillTopic makes sure the topic holds at least o.Records records,
// producing the shortfall (untimed), and returns how many records the
// consume phase should read.
func fillTopic(ctx context.Context, o *Options, addrs []string) (int64, error) {
	start, end, err := listRange(ctx, o, addrs)
	if err != nil {
		return 0, err
	}
	have := available(start, end)
	if o.Records == 0 { // duration only: read what is there
		if have == 0 {
			return 0, fmt.Errorf("topic %q is empty: pass --records to fill it or run produce first", o.Topic)
		}
		return have, nil
	}
	if have < o.Records {
		o.logf("filling topic %q with %d records (untimed)", o.Topic, o.Records-have)
		if _, _, err := produce(ctx, o, addrs, o.Records-have, 0); err != nil {
			return 0, fmt.Errorf("filling topic: %w", err)
		}
	}
	return o.Records, nil
}

// consumer reads records and counts them until want() is reached.
type consumer struct {
	cl      *kgo.Client
	records atomic.Int64
	bytes   atomic.Int64
	e2e     *Histogram // nil unless measuring end-to-end latency
}

func newConsumer(addrs []string, o *Options, offsets map[string]map[int32]kgo.Offset, e2e bool) (*consumer, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(addrs...),
		kgo.ClientID("chronik-bench-consumer"),
		kgo.FetchMaxWait(500 * time.Millisecond),
	}
	if offsets != nil {
		opts = append(opts, kgo.ConsumePartitions(offsets))
	} else {
		opts = append(opts, kgo.ConsumeTopics(o.Topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	c := &consumer{cl: cl}
	if e2e {
		c.e2e = NewHistogram()
	}
	return c, nil
}

// run polls until want() records were received, ctx ends, or no record
// arrives for stallTimeout. It returns the time the last needed record
// arrived.
func (c *consumer) run(ctx context.Context, want func() int64) (time.Time, error) {
	last := time.Now()
	lastProgress := last
	for {
		if c.records.Load() >= want() {
			return last, nil
		}
		if err := ctx.Err(); err != nil {
			return last, err
		}
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := c.cl.PollFetches(pctx)
		cancel()
		now := time.Now()
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) && ferr == nil {
				ferr = err
			}
		})
		if ferr != nil {
			return last, fmt.Errorf("fetch: %w", ferr)
		}
		var n, b int64
		fs.EachRecord(func(r *kgo.Record) {
			n++
			b += int64(len(r.Value))
			if c.e2e != nil {
				c.e2e.Record(now.Sub(sentAt(r)))
			}
		})
		if n > 0 {
			c.records.Add(n)
			c.bytes.Add(b)
			last, lastProgress = now, now
		} else if now.Sub(lastProgress) > stallTimeout {
			return last, fmt.Errorf("consumer stalled: %d of %d records after %s without progress", c.records.Load(), want(), stallTimeout)
		}
	}
}

// consumeFromStart reads want records from the start of the topic.
func consumeFromStart(ctx context.Context, o *Options, addrs []string, want int64) (Throughput, error) {
	c, err := newConsumer(addrs, o, nil, false)
	if err != nil {
		return Throughput{}, err
	}
	defer c.cl.Close()
	if err := c.cl.Ping(ctx); err != nil {
		return Throughput{}, fmt.Errorf("connecting: %w", err)
	}
	cctx := ctx
	if o.Duration > 0 {
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	start := time.Now()
	last, err := c.run(cctx, func() int64 { return want })
	if err != nil && !(o.Duration > 0 && errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil) {
		return Throughput{}, err
	}
	if err != nil { // duration elapsed
		last = time.Now()
	}
	return throughput(c.records.Load(), c.bytes.Load(), 0, last.Sub(start)), nil
}

// e2e produces while a consumer positioned at the current end offsets reads
// the same records back.
func e2e(ctx context.Context, o *Options, addrs []string) (Stats, error) {
	_, end, err := listRange(ctx, o, addrs)
	if err != nil {
		return Stats{}, err
	}
	c, err := newConsumer(addrs, o, end.KOffsets(), true)
	if err != nil {
		return Stats{}, err
	}
	defer c.cl.Close()
	if err := c.cl.Ping(ctx); err != nil {
		return Stats{}, fmt.Errorf("connecting: %w", err)
	}

	var (
		target    atomic.Int64 // records to wait for; known once producing ends
		cstart    time.Time
		cdone     = make(chan struct{})
		clast     time.Time
		cerr      error
		cctx, stp = context.WithCancel(ctx)
	)
	defer stp()
	target.Store(math.MaxInt64)
	// The consumer is already polling when the first record is sent, so its
	// startup does not inflate end-to-end latency.
	go func() {
		defer close(cdone)
		clast, cerr = c.run(cctx, target.Load)
	}()
	ptp, phist, perr := produceWith(ctx, o, addrs, o.Records, o.Duration, func() {
		cstart = time.Now()
	})
	if perr != nil {
		stp()
		<-cdone
		return Stats{}, perr
	}
	target.Store(ptp.Records)
	<-cdone
	if cerr != nil {
		return Stats{}, cerr
	}
	ctp := throughput(c.records.Load(), c.bytes.Load(), 0, clast.Sub(cstart))
	return Stats{
		Produce:        &ptp,
		ProduceLatency: latencyPtr(phist),
		Consume:        &ctp,
		E2ELatency:     latencyPtr(c.e2e),
	}, nil
}
