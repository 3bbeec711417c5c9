package kafka

import (
	"context"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/server"
	"github.com/chronik-streaming/chronik/internal/topics"
)

// maxDescribeTopicPartitions is Kafka's max.request.partition.size.limit:
// the most partitions one DescribeTopicPartitions response carries.
const maxDescribeTopicPartitions = 2000

// handleDescribeTopicPartitions (KIP-966) pages through topics and their
// partitions as Kafka's broker does: topics in name order from the
// cursor's topic (at the cursor's partition) on, at most
// min(2000, ResponsePartitionLimit) partitions, and a next cursor naming
// the first topic and partition left out. An empty topic list means every
// topic; a named topic that does not exist is UNKNOWN_TOPIC_OR_PARTITION
// (INVALID_TOPIC_EXCEPTION for an invalid name); a cursor topic missing
// from a named list is INVALID_REQUEST for every topic.
func handleDescribeTopicPartitions(h *Handler, _ context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.DescribeTopicPartitionsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeTopicPartitionsResponse)

	all := len(r.Topics) == 0
	from := ""
	if r.Cursor != nil {
		from = r.Cursor.Topic
	}
	set := map[string]bool{}
	if all {
		for _, t := range h.topics.List() {
			if t.Name >= from {
				set[t.Name] = true
			}
		}
	} else {
		for _, rt := range r.Topics {
			if rt.Topic >= from {
				set[rt.Topic] = true
			}
		}
		if r.Cursor != nil && !set[r.Cursor.Topic] {
			// The response has no room for a message: the code alone
			// tells (Kafka: "topic list should contain the cursor topic").
			for _, rt := range r.Topics {
				st := kmsg.NewDescribeTopicPartitionsResponseTopic()
				name := rt.Topic
				st.Topic = &name
				st.ErrorCode = kerr.InvalidRequest.Code
				st.Partitions = []kmsg.DescribeTopicPartitionsResponseTopicPartition{}
				st.AuthorizedOperations = authorizedOpsNotRequested
				resp.Topics = append(resp.Topics, st)
			}
			return server.Respond(resp), nil
		}
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)

	remaining := min(int(r.ResponsePartitionLimit), maxDescribeTopicPartitions)
	node := []int32{h.broker.NodeID}
	for _, name := range names {
		if remaining <= 0 {
			if remaining == 0 {
				resp.NextCursor = &kmsg.DescribeTopicPartitionsResponseNextCursor{Topic: name, Partition: 0}
			}
			break
		}
		st := kmsg.NewDescribeTopicPartitionsResponseTopic()
		topicName := name
		st.Topic = &topicName
		st.AuthorizedOperations = topicAllOps
		st.Partitions = []kmsg.DescribeTopicPartitionsResponseTopicPartition{}
		t, ok := h.topics.Get(name)
		if !ok {
			if all {
				continue
			}
			st.ErrorCode = kerr.UnknownTopicOrPartition.Code
			if topics.ValidateName(name) != nil {
				st.ErrorCode = kerr.InvalidTopicException.Code
			}
			resp.Topics = append(resp.Topics, st)
			continue
		}
		st.TopicID = t.ID
		parts := h.topics.Partitions(t)
		start := 0
		if r.Cursor != nil && name == r.Cursor.Topic {
			start = int(r.Cursor.Partition)
		}
		upper := min(len(parts), start+remaining)
		for i := max(start, 0); i < upper; i++ {
			p := parts[i]
			sp := kmsg.NewDescribeTopicPartitionsResponseTopicPartition()
			sp.Partition = p.Index
			sp.LeaderID = h.broker.NodeID
			sp.LeaderEpoch = p.Log.LeaderEpoch()
			sp.Replicas = node
			sp.ISR = node
			sp.EligibleLeaderReplicas = []int32{}
			sp.LastKnownELR = []int32{}
			sp.OfflineReplicas = []int32{}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
		if upper < len(parts) {
			resp.NextCursor = &kmsg.DescribeTopicPartitionsResponseNextCursor{Topic: name, Partition: int32(upper)}
			break
		}
		remaining -= len(st.Partitions)
	}
	return server.Respond(resp), nil
}
