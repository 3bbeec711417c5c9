package metrics

import (
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// dataCounters are one series set of the topic byte and record counters:
// a topic's, or with PerPartition one partition's.
type dataCounters struct {
	bytesIn, recordsIn, bytesOut, recordsOut prometheus.Counter
}

// topicEntry caches a topic's counters: the topic's own without
// PerPartition, else one set per partition, indexed by partition.
type topicEntry struct {
	topic dataCounters
	mu    sync.Mutex // guards growing parts
	parts atomic.Pointer[[]*dataCounters]
}

// topicCache maps topic names to their cached counters. Reads (every
// produced and fetched partition) are one atomic load and a map lookup;
// the map is copied on the rare insert or delete, so reads take no lock
// and allocate nothing.
type topicCache struct {
	mu sync.Mutex
	m  atomic.Pointer[map[string]*topicEntry]
}

// Produced records a successful append of a batch of records to a
// partition (kafka.Metrics): bytes as the client sent them.
func (m *Metrics) Produced(topic string, partition int32, bytes, records int64) {
	if m == nil {
		return
	}
	c := m.data(topic, partition)
	c.bytesIn.Add(float64(bytes))
	c.recordsIn.Add(float64(records))
}

// Fetched records record batches sent to a consumer from a partition
// (kafka.Metrics).
func (m *Metrics) Fetched(topic string, partition int32, bytes, records int64) {
	if m == nil {
		return
	}
	c := m.data(topic, partition)
	c.bytesOut.Add(float64(bytes))
	c.recordsOut.Add(float64(records))
}

// TopicDeleted drops a deleted topic's series, so that deleted topics do
// not linger in every scrape (kafka.Metrics).
func (m *Metrics) TopicDeleted(topic string) {
	if m == nil {
		return
	}
	m.topics.mu.Lock()
	defer m.topics.mu.Unlock()
	if old := m.topics.m.Load(); old != nil {
		if _, ok := (*old)[topic]; ok {
			next := make(map[string]*topicEntry, len(*old))
			for k, v := range *old {
				if k != topic {
					next[k] = v
				}
			}
			m.topics.m.Store(&next)
		}
	}
	match := prometheus.Labels{"topic": topic}
	for _, v := range []*prometheus.CounterVec{m.bytesIn, m.recordsIn, m.bytesOut, m.recordsOut} {
		v.DeletePartialMatch(match)
	}
}

// data returns the counters a partition's data is recorded on.
func (m *Metrics) data(topic string, partition int32) *dataCounters {
	e := m.topicEntry(topic)
	if !m.perPartition {
		return &e.topic
	}
	if parts := e.parts.Load(); parts != nil && partition >= 0 && int(partition) < len(*parts) {
		if c := (*parts)[partition]; c != nil {
			return c
		}
	}
	return m.partitionCounters(e, topic, partition)
}

func (m *Metrics) topicEntry(topic string) *topicEntry {
	if cur := m.topics.m.Load(); cur != nil {
		if e, ok := (*cur)[topic]; ok {
			return e
		}
	}
	m.topics.mu.Lock()
	defer m.topics.mu.Unlock()
	cur := m.topics.m.Load()
	if cur != nil {
		if e, ok := (*cur)[topic]; ok {
			return e
		}
	}
	e := &topicEntry{}
	if !m.perPartition {
		e.topic = dataCounters{
			bytesIn:    m.bytesIn.WithLabelValues(topic),
			recordsIn:  m.recordsIn.WithLabelValues(topic),
			bytesOut:   m.bytesOut.WithLabelValues(topic),
			recordsOut: m.recordsOut.WithLabelValues(topic),
		}
	}
	next := make(map[string]*topicEntry, 1)
	if cur != nil {
		next = make(map[string]*topicEntry, len(*cur)+1)
		for k, v := range *cur {
			next[k] = v
		}
	}
	next[topic] = e
	m.topics.m.Store(&next)
	return e
}

// partitionCounters creates (or finds, after losing a race) a partition's
// counters, growing the topic's slice copy-on-write.
func (m *Metrics) partitionCounters(e *topicEntry, topic string, partition int32) *dataCounters {
	p := strconv.Itoa(int(partition))
	c := &dataCounters{
		bytesIn:    m.bytesIn.WithLabelValues(topic, p),
		recordsIn:  m.recordsIn.WithLabelValues(topic, p),
		bytesOut:   m.bytesOut.WithLabelValues(topic, p),
		recordsOut: m.recordsOut.WithLabelValues(topic, p),
	}
	if partition < 0 || partition > 1<<20 {
		return c // not cached; the handlers never record such partitions
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var cur []*dataCounters
	if old := e.parts.Load(); old != nil {
		cur = *old
	}
	if int(partition) < len(cur) && cur[partition] != nil {
		return cur[partition]
	}
	next := make([]*dataCounters, max(len(cur), int(partition)+1))
	copy(next, cur)
	next[partition] = c
	e.parts.Store(&next)
	return c
}
