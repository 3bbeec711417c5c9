package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// SearchOptions describe the search benchmarks (chronik bench search).
type SearchOptions struct {
	Brokers    []string
	AdminURL   string // the broker's HTTP address, e.g. http://127.0.0.1:3000
	Topic      string // created with chronik.search.enabled=true if missing
	Partitions int
	// Freshness: records/s of 1 KiB JSON for Duration; every SampleEvery-th
	// record is a sample whose time from acknowledgement to searchable is
	// measured.
	Rate        float64
	Duration    time.Duration
	SampleEvery int
	// Query latency: the topic is filled to Records records (untimed
	// beyond the indexing rate it reports), then each query of the mix
	// runs QueryRounds times.
	Records     int64
	QueryRounds int
	Logf        func(format string, args ...any)
}

func (o *SearchOptions) logf(format string, args ...any) {
	if o.Logf != nil {
		o.Logf(format, args...)
	}
}

// vocabulary is the words message texts are made of: a few common ones and
// a long tail, so queries hit both many and few records.
var vocabulary = func() []string {
	common := []string{"error", "timeout", "connection", "refused", "request", "served", "user", "login", "payment", "order",
		"cache", "miss", "retry", "upstream", "database", "query", "slow", "disk", "memory", "shutdown"}
	r := rand.New(rand.NewPCG(1, 2))
	words := append([]string(nil), common...)
	for len(words) < 5000 {
		n := 4 + r.IntN(6)
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('a' + r.IntN(26))
		}
		words = append(words, string(b))
	}
	return words
}()

var levels = []string{"debug", "info", "info", "info", "warn", "error"}

// jsonRecord is a ~1 KiB log-like JSON record.
func jsonRecord(r *rand.Rand, seq int64, sample bool, now time.Time) []byte {
	var msg strings.Builder
	for msg.Len() < 700 {
		w := vocabulary[r.IntN(20)]
		if r.IntN(3) > 0 {
			w = vocabulary[r.IntN(len(vocabulary))]
		}
		msg.WriteString(w)
		msg.WriteByte(' ')
	}
	v := map[string]any{
		"seq": seq, "sample": sample, "ts": now.UTC().Format(time.RFC3339Nano),
		"level": levels[r.IntN(len(levels))], "service": fmt.Sprintf("svc-%d", r.IntN(20)),
		"user":       map[string]any{"id": r.IntN(100000), "name": fmt.Sprintf("user%d", r.IntN(100000))},
		"latency_ms": r.IntN(5000), "msg": strings.TrimSpace(msg.String()),
	}
	b, _ := json.Marshal(v)
	return b
}

func (o *SearchOptions) ensureTopic(ctx context.Context) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(o.Brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	t := "true"
	resp, err := adm.CreateTopic(ctx, int32(o.Partitions), -1, map[string]*string{"chronik.search.enabled": &t}, o.Topic)
	if err == nil {
		err = resp.Err
	}
	if errors.Is(err, kerr.TopicAlreadyExists) {
		return nil // a second run queries what the first one filled
	}
	return err
}

type searchAnswer struct {
	Total uint64
	Hits  []struct {
		Value *struct{ Data string }
	}
	Error string
}

func (o *SearchOptions) search(ctx context.Context, params url.Values) (searchAnswer, error) {
	var a searchAnswer
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		strings.TrimSuffix(o.AdminURL, "/")+"/api/v1/topics/"+url.PathEscape(o.Topic)+"/search?"+params.Encode(), nil)
	if err != nil {
		return a, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return a, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &a); err != nil || resp.StatusCode != 200 {
		return a, fmt.Errorf("search %v: HTTP %d %s", params, resp.StatusCode, body)
	}
	return a, nil
}

// FreshnessResult is the time from produce acknowledgement to searchable.
type FreshnessResult struct {
	Rate     float64 `json:"rate"`
	Samples  int     `json:"samples"`
	Missing  int     `json:"missing"`
	Produced int64   `json:"produced"`
	Latency
}

// Freshness produces o.Rate records/s for o.Duration and measures, for every
// sample record, the time from its acknowledgement until a search finds it.
func Freshness(ctx context.Context, o SearchOptions) (FreshnessResult, error) {
	if err := o.ensureTopic(ctx); err != nil {
		return FreshnessResult{}, err
	}
	// Measure from the moment the topic's indexers run (the broker picks
	// new searchable topics up within a second).
	if err := o.waitIndexing(ctx); err != nil {
		return FreshnessResult{}, err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(o.Brokers...), kgo.DefaultProduceTopic(o.Topic), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return FreshnessResult{}, err
	}
	defer cl.Close()
	run := time.Now().UnixNano() // samples of this run only
	var (
		mu    sync.Mutex
		acked = map[int64]time.Time{}
		found = map[int64]time.Time{}
	)
	pollCtx, stopPoll := context.WithCancel(ctx)
	pollDone := make(chan error, 1)
	go func() {
		// One poller asks for the samples it has not seen yet, oldest
		// first: ~50 searches/s whatever the sample rate.
		lo := int64(0)
		for pollCtx.Err() == nil {
			a, err := o.search(pollCtx, url.Values{"q": {fmt.Sprintf("sample:true AND run:%d AND seq:>=%d", run, lo)},
				"sort": {"oldest"}, "limit": {"1000"}})
			now := time.Now()
			if err != nil {
				if pollCtx.Err() != nil {
					break
				}
				pollDone <- err
				return
			}
			mu.Lock()
			for _, h := range a.Hits {
				var v struct{ Seq int64 }
				if h.Value != nil && json.Unmarshal([]byte(h.Value.Data), &v) == nil {
					if _, ok := found[v.Seq]; !ok {
						found[v.Seq] = now
					}
				}
			}
			for {
				if _, ok := found[lo]; !ok {
					break
				}
				lo += int64(o.SampleEvery)
			}
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
		pollDone <- nil
	}()

	r := rand.New(rand.NewPCG(uint64(run), 7))
	interval := time.Duration(float64(time.Second) / o.Rate)
	start := time.Now()
	var seq int64
	var produceErr error
	var wg sync.WaitGroup
	for time.Since(start) < o.Duration && produceErr == nil {
		next := start.Add(time.Duration(seq) * interval)
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		sample := seq%int64(o.SampleEvery) == 0
		v := jsonRecord(r, seq, sample, time.Now())
		if sample {
			v = append(v[:len(v)-1], fmt.Sprintf(`,"run":%d}`, run)...)
		}
		s := seq
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Value: v}, func(_ *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				produceErr = err
				return
			}
			if sample {
				mu.Lock()
				acked[s] = time.Now()
				mu.Unlock()
			}
		})
		seq++
	}
	wg.Wait()
	if produceErr != nil {
		stopPoll()
		return FreshnessResult{}, produceErr
	}
	// Give the last samples time to show up.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(found)
		mu.Unlock()
		if n >= len(acked) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopPoll()
	if err := <-pollDone; err != nil {
		return FreshnessResult{}, err
	}
	h := NewHistogram()
	res := FreshnessResult{Rate: o.Rate, Produced: seq}
	mu.Lock()
	for s, at := range acked {
		f, ok := found[s]
		if !ok {
			res.Missing++
			continue
		}
		h.Record(max(f.Sub(at), 0))
		res.Samples++
	}
	mu.Unlock()
	res.Latency = h.Latency()
	return res, nil
}

// QueryMix is the benchmark's query mix, one of each kind users write.
var QueryMix = []string{
	"timeout",                                 // a common word in the text
	`"connection refused"`,                    // a phrase
	"level:error",                             // a JSON field
	"level:error AND service:svc-3",           // boolean AND of fields
	"(retry OR upstream) AND NOT level:debug", // boolean with negation
	"user.id:[1000 TO 1999]",                  // numeric range
	"latency_ms:>=4990",                       // one-sided range, few hits
	"service:svc-1*",                          // prefix
	vocabulary[4321],                          // a rare word
}

// QueryResult is the latency of each query of the mix and of all of them.
type QueryResult struct {
	Records     int64              `json:"records"`
	IndexRate   float64            `json:"index_records_per_s"`
	PerQuery    map[string]Latency `json:"per_query"`
	All         Latency            `json:"all"`
	QueryRounds int                `json:"rounds"`
}

// QueryLatency fills the topic to o.Records records (reporting how fast
// the index caught up), then runs each query of QueryMix o.QueryRounds
// times, one at a time, 20 hits each, sorted by relevance.
func QueryLatency(ctx context.Context, o SearchOptions) (QueryResult, error) {
	res := QueryResult{QueryRounds: o.QueryRounds, PerQuery: map[string]Latency{}}
	if err := o.ensureTopic(ctx); err != nil {
		return res, err
	}
	a, err := o.search(ctx, url.Values{"limit": {"1"}})
	if err != nil {
		return res, err
	}
	have := int64(a.Total)
	start := time.Now()
	if have < o.Records {
		o.logf("producing %d records", o.Records-have)
		cl, err := kgo.NewClient(kgo.SeedBrokers(o.Brokers...), kgo.DefaultProduceTopic(o.Topic))
		if err != nil {
			return res, err
		}
		r := rand.New(rand.NewPCG(3, 4))
		var perr error
		var mu sync.Mutex
		for s := have; s < o.Records && perr == nil; s++ {
			cl.Produce(ctx, &kgo.Record{Value: jsonRecord(r, s, false, time.Now())}, func(_ *kgo.Record, err error) {
				if err != nil {
					mu.Lock()
					perr = err
					mu.Unlock()
				}
			})
		}
		if err := cl.Flush(ctx); err != nil {
			perr = err
		}
		cl.Close()
		if perr != nil {
			return res, perr
		}
		o.logf("produced in %v; waiting for the index", time.Since(start).Round(time.Second))
		for {
			a, err := o.search(ctx, url.Values{"limit": {"1"}})
			if err != nil {
				return res, err
			}
			if int64(a.Total) >= o.Records {
				break
			}
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			time.Sleep(time.Second)
		}
		res.IndexRate = float64(o.Records-have) / time.Since(start).Seconds()
		o.logf("indexed at %.0f records/s", res.IndexRate)
	}
	res.Records = o.Records
	all := NewHistogram()
	per := map[string]*Histogram{}
	for round := 0; round < o.QueryRounds; round++ {
		for _, q := range QueryMix {
			t := time.Now()
			if _, err := o.search(ctx, url.Values{"q": {q}, "limit": {"20"}}); err != nil {
				return res, err
			}
			d := time.Since(t)
			all.Record(d)
			if per[q] == nil {
				per[q] = NewHistogram()
			}
			per[q].Record(d)
		}
	}
	for q, h := range per {
		res.PerQuery[q] = h.Latency()
	}
	res.All = all.Latency()
	return res, nil
}

// waitIndexing waits until the broker reports an index for the topic.
func (o *SearchOptions) waitIndexing(ctx context.Context) error {
	for ctx.Err() == nil {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(o.AdminURL, "/")+"/api/v1/search/status", nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		var st struct{ Partitions []struct{ Topic string } }
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			return err
		}
		n := 0
		for _, p := range st.Partitions {
			if p.Topic == o.Topic {
				n++
			}
		}
		if n >= o.Partitions {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return ctx.Err()
}
