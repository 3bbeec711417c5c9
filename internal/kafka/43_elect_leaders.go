package kafka

import (
	"context"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/server"
)

// handleElectLeaders: on one node every partition is led by its only (and
// preferred) replica, so an election is never needed. Named partitions are
// answered ELECTION_NOT_NEEDED, or UNKNOWN_TOPIC_OR_PARTITION when they do
// not exist; null topics (every partition) are answered, as Kafka's
// controller does, with only the partitions that needed an election: none.
// Election types are 0 (preferred) and 1 (unclean); others are
// INVALID_REQUEST.
func handleElectLeaders(h *Handler, _ context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.ElectLeadersRequest)
	resp := r.ResponseKind().(*kmsg.ElectLeadersResponse)
	if r.Version >= 1 && r.ElectionType != 0 && r.ElectionType != 1 {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return server.Respond(resp), nil
	}
	if r.Topics == nil {
		resp.Topics = []kmsg.ElectLeadersResponseTopic{}
		return server.Respond(resp), nil
	}
	// One result per topic and partition, however often they are named.
	byTopic := map[string]map[int32]bool{}
	var order []string
	for _, rt := range r.Topics {
		if byTopic[rt.Topic] == nil {
			byTopic[rt.Topic] = map[int32]bool{}
			order = append(order, rt.Topic)
		}
		for _, p := range rt.Partitions {
			byTopic[rt.Topic][p] = true
		}
	}
	for _, name := range order {
		st := kmsg.NewElectLeadersResponseTopic()
		st.Topic = name
		parts := make([]int32, 0, len(byTopic[name]))
		for p := range byTopic[name] {
			parts = append(parts, p)
		}
		sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
		_, known := h.topics.Get(name)
		for _, p := range parts {
			sp := kmsg.NewElectLeadersResponseTopicPartition()
			sp.Partition = p
			switch _, err := h.topics.Partition(name, p); {
			case !known:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				sp.ErrorMessage = errorMessage(fmt.Errorf("no such topic as %s", name))
			case err != nil:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				sp.ErrorMessage = errorMessage(fmt.Errorf("no such partition as %s-%d", name, p))
			default:
				sp.ErrorCode = kerr.ElectionNotNeeded.Code
				sp.ErrorMessage = errorMessage(fmt.Errorf("leader election not needed for topic partition: %s-%d is led by its only replica", name, p))
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return server.Respond(resp), nil
}
