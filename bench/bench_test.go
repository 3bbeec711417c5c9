package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

func quick(mode Mode) Options {
	return Options{
		Mode:       mode,
		KfakeOnly:  true,
		Topic:      "bench-test",
		Partitions: 3,
		RecordSize: 256,
		Records:    3000,
		Linger:     time.Millisecond,
	}
}

func runQuick(t *testing.T, o Options) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Targets) != 1 || res.Targets[0].Target != "kfake" {
		t.Fatalf("targets: %+v", res.Targets)
	}
	return res
}

func TestProduceKfake(t *testing.T) {
	for _, tc := range []struct{ acks, codec string }{
		{"all", "none"}, {"1", "lz4"}, {"0", "zstd"}, {"all", "snappy"}, {"all", "gzip"},
	} {
		t.Run(tc.acks+"/"+tc.codec, func(t *testing.T) {
			o := quick(ModeProduce)
			o.Acks, o.Compression = tc.acks, tc.codec
			o.Producers = 2
			res := runQuick(t, o)
			m := res.Targets[0].Median
			if m.Partitions != 3 {
				t.Errorf("partitions %d", m.Partitions)
			}
			if m.Produce == nil || m.Produce.Records != 3000 || m.Produce.Bytes != 3000*256 {
				t.Fatalf("produce: %+v", m.Produce)
			}
			if m.Produce.RecordsPerSec <= 0 || m.Produce.MBPerSec <= 0 {
				t.Fatalf("rates: %+v", m.Produce)
			}
			l := m.ProduceLatency
			if l == nil || l.Count != 3000 || l.P50 <= 0 || l.P50 > l.P99 || l.P99 > l.P999 || l.P999 > l.Max {
				t.Fatalf("latency: %+v", l)
			}
			if m.Consume != nil || m.E2ELatency != nil {
				t.Fatal("produce mode reported consume figures")
			}
		})
	}
}

func TestConsumeKfake(t *testing.T) {
	o := quick(ModeConsume)
	res := runQuick(t, o)
	c := res.Targets[0].Median.Consume
	if c == nil || c.Records != 3000 || c.Bytes != 3000*256 || c.RecordsPerSec <= 0 {
		t.Fatalf("consume: %+v", c)
	}
}

func TestE2EKfakeRunsMedian(t *testing.T) {
	o := quick(ModeE2E)
	o.Runs = 3
	o.Compression = "snappy"
	res := runQuick(t, o)
	tr := res.Targets[0]
	if len(tr.Runs) != 3 {
		t.Fatalf("runs: %d", len(tr.Runs))
	}
	var rates []float64
	for _, r := range tr.Runs {
		if r.Produce == nil || r.Consume == nil || r.E2ELatency == nil {
			t.Fatalf("missing figures: %+v", r)
		}
		if r.Consume.Records != r.Produce.Records {
			t.Fatalf("consumed %d of %d", r.Consume.Records, r.Produce.Records)
		}
		if r.E2ELatency.Count != 3000 || r.E2ELatency.P50 <= 0 {
			t.Fatalf("e2e: %+v", r.E2ELatency)
		}
		rates = append(rates, r.Produce.RecordsPerSec)
	}
	slices.Sort(rates)
	if got := tr.Median.Produce.RecordsPerSec; got != rates[1] {
		t.Fatalf("median %v, runs %v", got, rates)
	}

	var buf bytes.Buffer
	if err := res.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back Result
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Targets[0].Median.E2ELatency == nil || back.Scenario.Mode != "e2e" {
		t.Fatalf("json round trip lost data: %s", buf.String())
	}
	buf.Reset()
	if err := res.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"e2e p99.9", "median", "prod rec/s", "cons MB/s"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, buf.String())
		}
	}
	t.Log("\n" + buf.String())
}

func TestDurationMode(t *testing.T) {
	o := quick(ModeProduce)
	o.Records = 0
	o.Duration = 300 * time.Millisecond
	res := runQuick(t, o)
	p := res.Targets[0].Median.Produce
	if p.Records == 0 || p.Seconds < 0.3 || p.Seconds > 10 {
		t.Fatalf("duration run: %+v", p)
	}
}

func TestOptionsValidation(t *testing.T) {
	bad := []Options{
		{Mode: "nope", KfakeOnly: true},
		{Acks: "2", KfakeOnly: true},
		{Compression: "brotli", KfakeOnly: true},
		{Records: -1, KfakeOnly: true},
		{}, // no brokers and not kfake-only
	}
	for _, o := range bad {
		if err := o.normalize(); err == nil {
			t.Errorf("%+v: expected error", o)
		}
	}
	o := Options{Brokers: []string{"x:1"}}
	if err := o.normalize(); err != nil {
		t.Fatal(err)
	}
	if o.Mode != ModeProduce || o.Partitions != 6 || o.RecordSize != 1024 || o.Acks != "all" || o.Compression != "none" || o.Records != DefaultRecords || o.Runs != 1 {
		t.Fatalf("defaults: %+v", o)
	}
}

func TestHistogram(t *testing.T) {
	h := NewHistogram()
	if h.Latency() != (Latency{}) {
		t.Fatal("empty histogram")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var vals []time.Duration
	for i := 0; i < 200_000; i++ {
		v := time.Duration(rng.ExpFloat64() * float64(2*time.Millisecond))
		vals = append(vals, v)
		h.Record(v)
	}
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		exact := vals[int(q*float64(len(vals)-1))]
		got := h.Quantile(q)
		if d := float64(got-exact) / float64(exact); d < -0.01 || d > 0.01 {
			t.Errorf("q%v: got %v exact %v (%.2f%%)", q, got, exact, d*100)
		}
	}
	// Bucket mapping is monotone and bucketHigh is the bucket's upper bound.
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 1000, 1 << 20, 1<<40 + 12345, 1<<63 + 1} {
		i := bucketOf(v)
		if bucketHigh(i) < v || (i > 0 && bucketHigh(i-1) >= v) {
			t.Errorf("v=%d bucket %d high %d prevhigh %d", v, i, bucketHigh(i), bucketHigh(i-1))
		}
	}
	if bucketOf(^uint64(0)) >= len(h.counts) {
		t.Fatal("max value out of range")
	}
}

func TestRateLimit(t *testing.T) {
	o := quick(ModeProduce)
	o.Records = 2000
	o.Rate = 10000 // 2000 records should take ~200ms
	o.Producers = 2
	res := runQuick(t, o)
	p := res.Targets[0].Median.Produce
	if p.Seconds < 0.18 || p.RecordsPerSec > 11000 {
		t.Fatalf("rate not applied: %+v", p)
	}
	if res.Scenario.Rate != 10000 {
		t.Fatalf("scenario rate %v", res.Scenario.Rate)
	}
}

// TestBrokersAndBaseline runs against an external cluster (a kfake standing
// in for a broker) plus the in-process kfake baseline. The second run finds
// the topic and its records already there.
func TestBrokersAndBaseline(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var logs []string
	o := quick(ModeConsume)
	o.KfakeOnly = false
	o.Kfake = true
	o.Brokers = c.ListenAddrs()
	o.Runs = 2
	o.Logf = func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Targets) != 2 || res.Targets[0].Target != "brokers" || res.Targets[1].Target != "kfake" {
		t.Fatalf("targets: %+v", res.Targets)
	}
	for _, tr := range res.Targets {
		if tr.Median.Consume == nil || tr.Median.Consume.Records != 3000 {
			t.Fatalf("%s: %+v", tr.Target, tr.Median.Consume)
		}
	}
	// brokers: fill once (run 1); kfake: fresh cluster, fill every run.
	fills := 0
	for _, l := range logs {
		if strings.HasPrefix(l, "filling") {
			fills++
		}
	}
	if fills != 3 {
		t.Errorf("fills = %d, want 3; logs:\n%s", fills, strings.Join(logs, "\n"))
	}
	var buf bytes.Buffer
	res.WriteText(&buf)
	if !strings.Contains(buf.String(), "brokers/kfake consume throughput") {
		t.Errorf("no comparison line:\n%s", buf.String())
	}
}
