// Package bench is Chronik's load generator: it produces and/or consumes
// records with franz-go against a set of brokers (or an in-process kfake
// cluster used as a baseline) and reports throughput and latency.
//
// Three modes exist:
//   - produce: N producer clients write records; reports records/s, MB/s and
//     per-record produce latency (Produce call to promise callback).
//   - consume: makes sure the topic holds enough records (producing the
//     missing ones, untimed), then reads them from the start; reports
//     records/s and MB/s.
//   - e2e: a consumer positioned at the current end offsets runs while the
//     producers write; additionally reports end-to-end latency (timestamp
//     embedded in the record vs. receive time).
//
// MB means 2^20 bytes (as in kafka-producer-perf-test) and counts record
// value bytes only.
package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Mode selects the scenario.
type Mode string

// Modes.
const (
	ModeProduce Mode = "produce"
	ModeConsume Mode = "consume"
	ModeE2E     Mode = "e2e"
)

// Defaults used when the corresponding Options field is zero.
const (
	DefaultTopic      = "chronik-bench"
	DefaultPartitions = 6
	DefaultRecordSize = 1024
	DefaultRecords    = 500_000
	DefaultLinger     = 10 * time.Millisecond // franz-go's default
	DefaultBatchBytes = 1_000_012             // Kafka's max.message.bytes default
)

// Options describes one benchmark scenario.
type Options struct {
	Mode    Mode
	Brokers []string
	Topic   string
	// Partitions is used when the topic has to be created (and for kfake).
	Partitions int
	// ReplicationFactor for topic creation; 0 or -1 means broker default.
	ReplicationFactor int
	// RecordSize is the value size in bytes. Values of at least 8 bytes
	// carry the send time (unix ns) in their first 8 bytes, the rest is
	// random upper-case letters (like kafka-producer-perf-test), drawn from
	// a pool of 1024 distinct payloads so batches do not compress
	// unrealistically well.
	RecordSize int
	// Records is the number of records to produce/consume. If both Records
	// and Duration are zero, DefaultRecords is used. If both are set, the
	// run stops at whichever comes first.
	Records  int64
	Duration time.Duration
	// Acks is "all" (or "-1"), "1" or "0".
	Acks string
	// Compression is none|gzip|snappy|lz4|zstd.
	Compression string
	Producers   int
	// Rate caps the total produce rate in records/s (0 = as fast as
	// possible). Unthrottled, produce latency is dominated by time spent
	// in the client's buffer (up to 50000 records); throttle below the
	// saturation throughput to measure broker latency.
	Rate float64
	// Linger is the producer linger (franz-go ProducerLinger).
	Linger time.Duration
	// BatchBytes is the maximum record batch size (ProducerBatchMaxBytes).
	BatchBytes int
	// Kfake additionally runs the scenario against an in-process kfake
	// cluster (one broker, fresh cluster per run) as a baseline.
	Kfake bool
	// KfakeOnly runs against kfake only and ignores Brokers.
	KfakeOnly bool
	// Runs repeats the scenario; the reported figure is the median.
	Runs int
	// JSON produces ~1 KiB log-like JSON records instead of RecordSize
	// random letters (for searchable topics); they carry no send time, so
	// e2e latency is meaningless with it.
	JSON bool
	// Logf, if set, receives progress messages.
	Logf func(format string, args ...any)
}

func (o *Options) logf(format string, args ...any) {
	if o.Logf != nil {
		o.Logf(format, args...)
	}
}

// normalize fills defaults and validates.
func (o *Options) normalize() error {
	switch o.Mode {
	case ModeProduce, ModeConsume, ModeE2E:
	case "":
		o.Mode = ModeProduce
	default:
		return fmt.Errorf("unknown mode %q (want produce, consume or e2e)", o.Mode)
	}
	if o.Topic == "" {
		o.Topic = DefaultTopic
	}
	if o.Partitions <= 0 {
		o.Partitions = DefaultPartitions
	}
	if o.ReplicationFactor == 0 {
		o.ReplicationFactor = -1
	}
	if o.RecordSize <= 0 {
		o.RecordSize = DefaultRecordSize
	}
	if o.Records < 0 || o.Duration < 0 {
		return errors.New("records and duration must not be negative")
	}
	if o.Records == 0 && o.Duration == 0 {
		o.Records = DefaultRecords
	}
	if _, err := ParseAcks(o.Acks); err != nil {
		return err
	}
	if o.Acks == "" {
		o.Acks = "all"
	}
	if _, err := ParseCompression(o.Compression); err != nil {
		return err
	}
	if o.Compression == "" {
		o.Compression = "none"
	}
	if o.Producers <= 0 {
		o.Producers = 1
	}
	if o.Rate < 0 {
		return errors.New("rate must not be negative")
	}
	if o.Linger < 0 {
		return errors.New("linger must not be negative")
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = DefaultBatchBytes
	}
	if o.Runs <= 0 {
		o.Runs = 1
	}
	if !o.KfakeOnly && len(o.Brokers) == 0 {
		return errors.New("no brokers given (use --kfake-only to run against kfake alone)")
	}
	return nil
}

// ParseAcks reads acks as a user gives it: all (-1), 1 or 0.
func ParseAcks(s string) (kgo.Acks, error) {
	switch strings.ToLower(s) {
	case "", "all", "-1":
		return kgo.AllISRAcks(), nil
	case "1", "leader":
		return kgo.LeaderAck(), nil
	case "0", "none":
		return kgo.NoAck(), nil
	}
	return kgo.Acks{}, fmt.Errorf("invalid acks %q (want all, 1 or 0)", s)
}

// ParseCompression reads a batch codec name: none, gzip, snappy, lz4, zstd.
func ParseCompression(s string) (kgo.CompressionCodec, error) {
	switch strings.ToLower(s) {
	case "", "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("invalid compression %q (want none, gzip, snappy, lz4 or zstd)", s)
}

// Run executes the scenario Runs times against each target (the brokers,
// and/or kfake) and returns per-run figures and their medians.
func Run(ctx context.Context, o Options) (Result, error) {
	if err := o.normalize(); err != nil {
		return Result{}, err
	}
	res := Result{Scenario: scenarioOf(o)}
	type target struct {
		name  string
		setup func() ([]string, func(), error)
	}
	var targets []target
	if !o.KfakeOnly {
		targets = append(targets, target{"brokers", func() ([]string, func(), error) {
			return o.Brokers, func() {}, nil
		}})
	}
	if o.Kfake || o.KfakeOnly {
		targets = append(targets, target{"kfake", func() ([]string, func(), error) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1))
			if err != nil {
				return nil, nil, fmt.Errorf("starting kfake: %w", err)
			}
			return c.ListenAddrs(), c.Close, nil
		}})
	}
	// Runs alternate between the targets (broker, kfake, broker, ...) so
	// that a noisy neighbour on a shared machine hits both alike.
	results := make([]TargetResult, len(targets))
	for i := 0; i < o.Runs; i++ {
		for ti, t := range targets {
			tr := &results[ti]
			tr.Target = t.name
			// Start every run from a collected heap (the previous kfake
			// cluster held every record) so runs are comparable.
			runtime.GC()
			addrs, done, err := t.setup()
			if err != nil {
				return res, err
			}
			if t.name == "brokers" {
				tr.Brokers = addrs
			}
			o.logf("%s: run %d/%d (%s, %s)", t.name, i+1, o.Runs, o.Mode, strings.Join(addrs, ","))
			st, err := runOnce(ctx, &o, addrs)
			done()
			if err != nil {
				return res, fmt.Errorf("%s run %d: %w", t.name, i+1, err)
			}
			o.logf("%s: run %d/%d: %s", t.name, i+1, o.Runs, st.oneLine())
			tr.Runs = append(tr.Runs, st)
		}
	}
	for i := range results {
		results[i].Median = median(results[i].Runs)
		res.Targets = append(res.Targets, results[i])
	}
	return res, nil
}

// runOnce runs the scenario once against addrs.
func runOnce(ctx context.Context, o *Options, addrs []string) (Stats, error) {
	parts, err := ensureTopic(ctx, o, addrs)
	if err != nil {
		return Stats{}, err
	}
	var st Stats
	st.Partitions = parts
	switch o.Mode {
	case ModeProduce:
		tp, hist, err := produce(ctx, o, addrs, o.Records, o.Duration)
		if err != nil {
			return st, err
		}
		st.Produce, st.ProduceLatency = &tp, latencyPtr(hist)

	case ModeConsume:
		want, err := fillTopic(ctx, o, addrs)
		if err != nil {
			return st, err
		}
		tp, err := consumeFromStart(ctx, o, addrs, want)
		if err != nil {
			return st, err
		}
		st.Consume = &tp

	case ModeE2E:
		st, err = e2e(ctx, o, addrs)
		st.Partitions = parts
		return st, err
	}
	return st, nil
}

func latencyPtr(h *Histogram) *Latency {
	if h == nil || h.Count() == 0 {
		return nil
	}
	l := h.Latency()
	return &l
}

// producerOpts are the client options shared by every producer.
func producerOpts(o *Options, addrs []string) []kgo.Opt {
	acks, _ := ParseAcks(o.Acks)
	codec, _ := ParseCompression(o.Compression)
	opts := []kgo.Opt{
		kgo.SeedBrokers(addrs...),
		kgo.DefaultProduceTopic(o.Topic),
		kgo.RequiredAcks(acks),
		kgo.ProducerBatchCompression(codec),
		kgo.ProducerLinger(o.Linger),
		kgo.ProducerBatchMaxBytes(int32(o.BatchBytes)),
		kgo.ClientID("chronik-bench"),
	}
	if acks != kgo.AllISRAcks() {
		// Idempotent production requires acks=all.
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	return opts
}

// ParseBrokers splits a comma-separated broker list.
func ParseBrokers(s string) []string {
	var out []string
	for _, b := range strings.Split(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

func scenarioOf(o Options) Scenario {
	s := Scenario{
		Mode:        string(o.Mode),
		Topic:       o.Topic,
		Partitions:  o.Partitions,
		RecordSize:  o.RecordSize,
		Records:     o.Records,
		Acks:        o.Acks,
		Compression: o.Compression,
		Producers:   o.Producers,
		Rate:        o.Rate,
		LingerMs:    ms(o.Linger),
		BatchBytes:  o.BatchBytes,
		Runs:        o.Runs,
	}
	if o.Duration > 0 {
		s.Duration = o.Duration.String()
	}
	return s
}

// median returns the per-metric median of runs (each figure independently).
func median(runs []Stats) Stats {
	if len(runs) == 0 {
		return Stats{}
	}
	if len(runs) == 1 {
		return runs[0]
	}
	m := Stats{Partitions: runs[0].Partitions}
	m.Produce = medianThroughput(runs, func(s Stats) *Throughput { return s.Produce })
	m.Consume = medianThroughput(runs, func(s Stats) *Throughput { return s.Consume })
	m.ProduceLatency = medianLatency(runs, func(s Stats) *Latency { return s.ProduceLatency })
	m.E2ELatency = medianLatency(runs, func(s Stats) *Latency { return s.E2ELatency })
	return m
}

func med(vals []float64) float64 {
	if len(vals) == 0 {
		return 0
	}
	s := slices.Clone(vals)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func collect[T any](runs []Stats, get func(Stats) *T, f func(*T) float64) []float64 {
	var out []float64
	for _, r := range runs {
		if v := get(r); v != nil {
			out = append(out, f(v))
		}
	}
	return out
}

func medianThroughput(runs []Stats, get func(Stats) *Throughput) *Throughput {
	if get(runs[0]) == nil {
		return nil
	}
	c := func(f func(*Throughput) float64) float64 { return med(collect(runs, get, f)) }
	return &Throughput{
		Records:       int64(c(func(t *Throughput) float64 { return float64(t.Records) })),
		Bytes:         int64(c(func(t *Throughput) float64 { return float64(t.Bytes) })),
		Errors:        int64(c(func(t *Throughput) float64 { return float64(t.Errors) })),
		Seconds:       c(func(t *Throughput) float64 { return t.Seconds }),
		RecordsPerSec: c(func(t *Throughput) float64 { return t.RecordsPerSec }),
		MBPerSec:      c(func(t *Throughput) float64 { return t.MBPerSec }),
	}
}

func medianLatency(runs []Stats, get func(Stats) *Latency) *Latency {
	if get(runs[0]) == nil {
		return nil
	}
	c := func(f func(*Latency) float64) float64 { return med(collect(runs, get, f)) }
	return &Latency{
		Count: uint64(c(func(l *Latency) float64 { return float64(l.Count) })),
		Mean:  c(func(l *Latency) float64 { return l.Mean }),
		Min:   c(func(l *Latency) float64 { return l.Min }),
		P50:   c(func(l *Latency) float64 { return l.P50 }),
		P99:   c(func(l *Latency) float64 { return l.P99 }),
		P999:  c(func(l *Latency) float64 { return l.P999 }),
		Max:   c(func(l *Latency) float64 { return l.Max }),
	}
}

func throughput(records, bytes, errs int64, elapsed time.Duration) Throughput {
	sec := elapsed.Seconds()
	t := Throughput{Records: records, Bytes: bytes, Errors: errs, Seconds: sec}
	if sec > 0 {
		t.RecordsPerSec = float64(records) / sec
		t.MBPerSec = float64(bytes) / sec / (1 << 20)
	}
	return t
}

// Validate reports whether o is a usable scenario (after defaults).
func (o Options) Validate() error { return o.normalize() }
