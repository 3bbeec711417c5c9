package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Result is the outcome of Run.
type Result struct {
	Scenario Scenario       `json:"scenario"`
	Targets  []TargetResult `json:"targets"`
}

// Scenario echoes the normalized options.
type Scenario struct {
	Mode        string  `json:"mode"`
	Topic       string  `json:"topic"`
	Partitions  int     `json:"partitions"`
	RecordSize  int     `json:"record_size"`
	Records     int64   `json:"records,omitempty"`
	Duration    string  `json:"duration,omitempty"`
	Acks        string  `json:"acks"`
	Compression string  `json:"compression"`
	Producers   int     `json:"producers"`
	Rate        float64 `json:"rate,omitempty"`
	LingerMs    float64 `json:"linger_ms"`
	BatchBytes  int     `json:"batch_bytes"`
	Runs        int     `json:"runs"`
}

// TargetResult holds the runs against one target ("brokers" or "kfake").
type TargetResult struct {
	Target  string   `json:"target"`
	Brokers []string `json:"brokers,omitempty"`
	Runs    []Stats  `json:"runs"`
	// Median is the per-metric median over Runs: every figure is the
	// median of that figure, so they need not come from the same run.
	Median Stats `json:"median"`
}

// Stats are the figures of one run. Nil sections do not apply to the mode.
type Stats struct {
	Partitions     int         `json:"partitions"`
	Produce        *Throughput `json:"produce,omitempty"`
	ProduceLatency *Latency    `json:"produce_latency_ms,omitempty"`
	Consume        *Throughput `json:"consume,omitempty"`
	E2ELatency     *Latency    `json:"e2e_latency_ms,omitempty"`
}

// Throughput counts acknowledged (produce) or received (consume) records.
type Throughput struct {
	Records       int64   `json:"records"`
	Bytes         int64   `json:"bytes"`
	Errors        int64   `json:"errors,omitempty"`
	Seconds       float64 `json:"seconds"`
	RecordsPerSec float64 `json:"records_per_sec"`
	// MBPerSec is in MiB (2^20 bytes) of record values per second.
	MBPerSec float64 `json:"mb_per_sec"`
}

// Latency percentiles in milliseconds.
type Latency struct {
	Count uint64  `json:"count"`
	Mean  float64 `json:"mean"`
	Min   float64 `json:"min"`
	P50   float64 `json:"p50"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
}

func (t *Throughput) String() string {
	return fmt.Sprintf("%.0f rec/s, %.2f MB/s (%d records in %.2fs)", t.RecordsPerSec, t.MBPerSec, t.Records, t.Seconds)
}

func (l *Latency) String() string {
	return fmt.Sprintf("p50 %s p99 %s p99.9 %s max %s ms", f3(l.P50), f3(l.P99), f3(l.P999), f3(l.Max))
}

func f3(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

func (s Stats) oneLine() string {
	var parts []string
	if s.Produce != nil {
		parts = append(parts, "produce "+s.Produce.String())
	}
	if s.ProduceLatency != nil {
		parts = append(parts, "latency "+s.ProduceLatency.String())
	}
	if s.Consume != nil {
		parts = append(parts, "consume "+s.Consume.String())
	}
	if s.E2ELatency != nil {
		parts = append(parts, "e2e "+s.E2ELatency.String())
	}
	return strings.Join(parts, "; ")
}

// WriteJSON writes r as indented JSON.
func (r Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes a human-readable table of the medians (and the
// individual runs when there are several).
func (r Result) WriteText(w io.Writer) error {
	s := r.Scenario
	amount := fmt.Sprintf("%d records", s.Records)
	if s.Duration != "" {
		if s.Records > 0 {
			amount += " or " + s.Duration
		} else {
			amount = s.Duration
		}
	}
	rate := ""
	if s.Rate > 0 {
		rate = fmt.Sprintf(" rate=%g/s", s.Rate)
	}
	fmt.Fprintf(w, "scenario: %s topic=%s partitions=%d record-size=%d %s acks=%s compression=%s producers=%d%s linger=%gms batch-bytes=%d runs=%d\n",
		s.Mode, s.Topic, s.Partitions, s.RecordSize, amount, s.Acks, s.Compression, s.Producers, rate, s.LingerMs, s.BatchBytes, s.Runs)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := []string{"target", "run"}
	show := r.sections()
	if show.produce {
		header = append(header, "prod rec/s", "prod MB/s", "lat p50", "lat p99", "lat p99.9")
	}
	if show.consume {
		header = append(header, "cons rec/s", "cons MB/s")
	}
	if show.e2e {
		header = append(header, "e2e p50", "e2e p99", "e2e p99.9")
	}
	fmt.Fprintln(tw, strings.Join(header, "\t")+"\t")
	row := func(target, run string, st Stats) {
		cols := []string{target, run}
		if show.produce {
			cols = append(cols, tpCols(st.Produce)...)
			cols = append(cols, latCols(st.ProduceLatency)...)
		}
		if show.consume {
			cols = append(cols, tpCols(st.Consume)...)
		}
		if show.e2e {
			cols = append(cols, latCols(st.E2ELatency)...)
		}
		fmt.Fprintln(tw, strings.Join(cols, "\t")+"\t")
	}
	for _, t := range r.Targets {
		if len(t.Runs) > 1 {
			for i, st := range t.Runs {
				row(t.Target, fmt.Sprint(i+1), st)
			}
		}
		row(t.Target, "median", t.Median)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "(MB = 2^20 bytes of record values; latencies in ms)")
	if len(r.Targets) == 2 {
		a, b := r.Targets[0], r.Targets[1]
		ratio := func(what string, x, y *Throughput) {
			if x != nil && y != nil && y.RecordsPerSec > 0 {
				fmt.Fprintf(w, "%s/%s %s throughput: %.2fx\n", a.Target, b.Target, what, x.RecordsPerSec/y.RecordsPerSec)
			}
		}
		ratio("produce", a.Median.Produce, b.Median.Produce)
		ratio("consume", a.Median.Consume, b.Median.Consume)
	}
	return nil
}

type sections struct{ produce, consume, e2e bool }

func (r Result) sections() sections {
	var s sections
	for _, t := range r.Targets {
		for _, st := range append([]Stats{t.Median}, t.Runs...) {
			s.produce = s.produce || st.Produce != nil
			s.consume = s.consume || st.Consume != nil
			s.e2e = s.e2e || st.E2ELatency != nil
		}
	}
	return s
}

func tpCols(t *Throughput) []string {
	if t == nil {
		return []string{"-", "-"}
	}
	return []string{fmt.Sprintf("%.0f", t.RecordsPerSec), fmt.Sprintf("%.2f", t.MBPerSec)}
}

func latCols(l *Latency) []string {
	if l == nil {
		return []string{"-", "-", "-"}
	}
	return []string{f3(l.P50), f3(l.P99), f3(l.P999)}
}
