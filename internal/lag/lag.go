// Package lag computes consumer group lag on the broker: for each partition
// a group has committed, the log end offset (high watermark) minus the
// committed offset. The CLI, the metrics and the console read it from here.
package lag

import (
	"sort"

	"github.com/chronik-streaming/chronik/internal/offsets"
	"github.com/chronik-streaming/chronik/internal/topics"
)

// Partition is one partition's lag for a group.
type Partition struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Committed int64  `json:"committed_offset"`
	LogEnd    int64  `json:"log_end_offset"`
	Lag       int64  `json:"lag"`
}

// Group returns the lag of every partition the group has committed, sorted
// by topic and partition. Partitions of deleted topics are left out.
func Group(store *offsets.Store, tm *topics.Manager, group string) []Partition {
	var out []Partition
	for tp, c := range store.FetchGroup(group) {
		p, err := tm.Partition(tp.Topic, tp.Partition)
		if err != nil {
			continue
		}
		end := p.Log.HighWatermark()
		out = append(out, Partition{Topic: tp.Topic, Partition: tp.Partition, Committed: c.Offset, LogEnd: end, Lag: max(end-c.Offset, 0)})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out
}

// Total sums the lag of partitions.
func Total(parts []Partition) int64 {
	var n int64
	for _, p := range parts {
		n += p.Lag
	}
	return n
}
