package kafka

import (
	"context"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/server"
)

// handleDescribeLogDirs reports the one log directory, the data directory:
// per partition its size on disk, an offset lag of 0 (the leader's log is
// the only replica) and is_future false; v4+ add the volume's total and
// usable bytes. Null topics (v0-v1: null; the field is nullable) ask for
// every partition; partitions that do not exist are left out, as Kafka
// does.
func handleDescribeLogDirs(h *Handler, _ context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.DescribeLogDirsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeLogDirsResponse)

	dir := kmsg.NewDescribeLogDirsResponseDir()
	ld, err := h.topics.LogDir()
	dir.Dir = ld.Path
	dir.TotalBytes, dir.UsableBytes = ld.TotalBytes, ld.UsableBytes
	if err != nil {
		dir.ErrorCode = kerr.KafkaStorageError.Code
		dir.TotalBytes, dir.UsableBytes = -1, -1
		resp.Dirs = []kmsg.DescribeLogDirsResponseDir{dir}
		return server.Respond(resp), nil
	}

	var want map[string]map[int32]bool // nil: everything
	if r.Topics != nil {
		want = map[string]map[int32]bool{}
		for _, rt := range r.Topics {
			if want[rt.Topic] == nil {
				want[rt.Topic] = map[int32]bool{}
			}
			for _, p := range rt.Partitions {
				want[rt.Topic][p] = true
			}
		}
	}
	for _, t := range h.topics.List() {
		if want != nil && want[t.Name] == nil {
			continue
		}
		st := kmsg.NewDescribeLogDirsResponseDirTopic()
		st.Topic = t.Name
		for _, p := range h.topics.Partitions(t) {
			if want != nil && !want[t.Name][p.Index] {
				continue
			}
			sp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
			sp.Partition = p.Index
			sp.Size = p.Log.Size()
			sp.OffsetLag = 0
			st.Partitions = append(st.Partitions, sp)
		}
		if len(st.Partitions) == 0 {
			continue
		}
		sort.Slice(st.Partitions, func(i, j int) bool { return st.Partitions[i].Partition < st.Partitions[j].Partition })
		dir.Topics = append(dir.Topics, st)
	}
	resp.Dirs = []kmsg.DescribeLogDirsResponseDir{dir}
	return server.Respond(resp), nil
}
