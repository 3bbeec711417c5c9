package metrics

import (
	"fmt"
	"log/slog"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// PartitionLog is one partition's log, as seen at scrape time.
type PartitionLog struct {
	Topic          string
	Partition      int32
	SizeBytes      int64 // bytes of all its segments on disk
	LogStartOffset int64 // the first offset still held
	LogEndOffset   int64 // the high watermark: the offset after the last record consumers can read
}

// LogStatsFunc returns every partition's log stats. It runs on each scrape.
type LogStatsFunc func() []PartitionLog

// GroupLag is a consumer group's lag on one partition: the log end offset
// minus the group's committed offset.
type GroupLag struct {
	Group     string
	Topic     string
	Partition int32
	Lag       int64 // records
}

// GroupLagFunc returns the lag of every group on every partition it has
// committed. It runs on each scrape.
type GroupLagFunc func() []GroupLag

// SearchLag is how far a topic's search index is behind its log.
type SearchLag struct {
	Topic   string
	Records int64   // records appended but not yet indexed
	Seconds float64 // how long the index has been behind: since it last caught up (0 when caught up)
}

// SearchLagFunc returns the indexing lag of every indexed topic. It runs on
// each scrape.
type SearchLagFunc func() []SearchLag

// SetLogStats sets the source of the log gauges; nil exports none. Safe
// to call while scrapes run.
func (m *Metrics) SetLogStats(f LogStatsFunc) {
	if f == nil {
		m.logStats.Store(nil)
		return
	}
	m.logStats.Store(&f)
}

// SetGroupLag sets the source of the consumer group lag gauge; nil exports
// none. Safe to call while scrapes run.
func (m *Metrics) SetGroupLag(f GroupLagFunc) {
	if f == nil {
		m.groupLag.Store(nil)
		return
	}
	m.groupLag.Store(&f)
}

// SetSearchLag sets the source of the search indexing lag gauges; nil
// exports none. Safe to call while scrapes run.
func (m *Metrics) SetSearchLag(f SearchLagFunc) {
	if f == nil {
		m.searchLag.Store(nil)
		return
	}
	m.searchLag.Store(&f)
}

// stateCollector exports, at scrape time, what the domain packages hold:
// log sizes and offsets, consumer group lag, search indexing lag.
type stateCollector struct {
	m                               *Metrics
	logSize, logStart, logEnd       *prometheus.Desc
	groupLag                        *prometheus.Desc
	searchLagRecords, searchLagSecs *prometheus.Desc
}

func newStateCollector(m *Metrics) *stateCollector {
	partLabels := []string{"topic", "partition"}
	sizeLabels, lagLabels := []string{"topic"}, []string{"group", "topic"}
	if m.perPartition {
		sizeLabels, lagLabels = partLabels, []string{"group", "topic", "partition"}
	}
	c := &stateCollector{
		m: m,
		logSize: prometheus.NewDesc(prometheus.BuildFQName(namespace, "log", "size_bytes"),
			"Bytes of the partition logs on disk, summed per topic unless per-partition metrics are on.", sizeLabels, nil),
		groupLag: prometheus.NewDesc(prometheus.BuildFQName(namespace, "consumer_group", "lag"),
			"Records between a consumer group's committed offsets and the log end offsets, summed per topic unless per-partition metrics are on.", lagLabels, nil),
		searchLagRecords: prometheus.NewDesc(prometheus.BuildFQName(namespace, "search", "index_lag_records"),
			"Records appended to a topic but not yet searchable.", []string{"topic"}, nil),
		searchLagSecs: prometheus.NewDesc(prometheus.BuildFQName(namespace, "search", "index_lag_seconds"),
			"How long a topic's search index has been behind its log, since it last caught up (0 when caught up; the largest over its partitions).", []string{"topic"}, nil),
	}
	if m.perPartition {
		c.logStart = prometheus.NewDesc(prometheus.BuildFQName(namespace, "log", "start_offset"),
			"The first offset a partition log still holds.", partLabels, nil)
		c.logEnd = prometheus.NewDesc(prometheus.BuildFQName(namespace, "log", "end_offset"),
			"A partition log's high watermark: the offset after the last record consumers can read.", partLabels, nil)
	}
	return c
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.logSize, c.logStart, c.logEnd, c.groupLag, c.searchLagRecords, c.searchLagSecs} {
		if d != nil {
			ch <- d
		}
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	c.collectLogs(ch)
	c.collectGroupLag(ch)
	c.collectSearchLag(ch)
}

// call runs a callback; a panicking one (a bug) costs its series, not the
// broker: the registry collects in goroutines of its own.
func call[T any](name string, f func() []T) (out []T) {
	defer func() {
		if r := recover(); r != nil {
			slog.Error("metrics callback panicked; its series are left out of this scrape", "callback", name, "panic", fmt.Sprint(r))
			out = nil
		}
	}()
	return f()
}

type topicPartition struct {
	topic     string
	partition int32
}

func (c *stateCollector) collectLogs(ch chan<- prometheus.Metric) {
	f := c.m.logStats.Load()
	if f == nil {
		return
	}
	parts := call("log stats", *f)
	if !c.m.perPartition {
		sizes := map[string]int64{}
		for _, p := range parts {
			sizes[p.Topic] += p.SizeBytes
		}
		for t, n := range sizes {
			ch <- prometheus.MustNewConstMetric(c.logSize, prometheus.GaugeValue, float64(n), t)
		}
		return
	}
	seen := make(map[topicPartition]bool, len(parts))
	for _, p := range parts {
		k := topicPartition{p.Topic, p.Partition}
		if seen[k] {
			continue // a duplicate would fail the whole gather
		}
		seen[k] = true
		pl := strconv.Itoa(int(p.Partition))
		ch <- prometheus.MustNewConstMetric(c.logSize, prometheus.GaugeValue, float64(p.SizeBytes), p.Topic, pl)
		ch <- prometheus.MustNewConstMetric(c.logStart, prometheus.GaugeValue, float64(p.LogStartOffset), p.Topic, pl)
		ch <- prometheus.MustNewConstMetric(c.logEnd, prometheus.GaugeValue, float64(p.LogEndOffset), p.Topic, pl)
	}
}

func (c *stateCollector) collectGroupLag(ch chan<- prometheus.Metric) {
	f := c.m.groupLag.Load()
	if f == nil {
		return
	}
	lags := call("group lag", *f)
	type key struct {
		group, topic string
		partition    int32
	}
	sums := map[key]int64{}
	for _, l := range lags {
		k := key{l.Group, l.Topic, l.Partition}
		if !c.m.perPartition {
			k.partition = 0
		}
		sums[k] += l.Lag
	}
	for k, n := range sums {
		if c.m.perPartition {
			ch <- prometheus.MustNewConstMetric(c.groupLag, prometheus.GaugeValue, float64(n), k.group, k.topic, strconv.Itoa(int(k.partition)))
		} else {
			ch <- prometheus.MustNewConstMetric(c.groupLag, prometheus.GaugeValue, float64(n), k.group, k.topic)
		}
	}
}

func (c *stateCollector) collectSearchLag(ch chan<- prometheus.Metric) {
	f := c.m.searchLag.Load()
	if f == nil {
		return
	}
	seen := map[string]bool{}
	for _, l := range call("search lag", *f) {
		if seen[l.Topic] {
			continue
		}
		seen[l.Topic] = true
		ch <- prometheus.MustNewConstMetric(c.searchLagRecords, prometheus.GaugeValue, float64(l.Records), l.Topic)
		ch <- prometheus.MustNewConstMetric(c.searchLagSecs, prometheus.GaugeValue, l.Seconds, l.Topic)
	}
}
