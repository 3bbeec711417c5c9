package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/offsets"
	"github.com/chronik-streaming/chronik/internal/server"
)

// handleOffsetDelete removes committed offsets of a group, except for topics
// its live members subscribe to (GROUP_SUBSCRIBED_TO_TOPIC), as Kafka does.
func handleOffsetDelete(h *Handler, _ context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.OffsetDeleteRequest)
	resp := r.ResponseKind().(*kmsg.OffsetDeleteResponse)
	committed := h.offsets.FetchGroup(r.Group)
	if len(committed) == 0 && !h.groups.Describe(r.Group).Exists {
		resp.ErrorCode = kerr.GroupIDNotFound.Code
		return server.Respond(resp), nil
	}
	subscribed := h.subscribedTopics(r.Group)
	var del []offsets.TP
	for _, rt := range r.Topics {
		st := kmsg.NewOffsetDeleteResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetDeleteResponseTopicPartition()
			sp.Partition = rp.Partition
			switch {
			case subscribed[rt.Topic]:
				sp.ErrorCode = kerr.GroupSubscribedToTopic.Code
			default:
				if _, err := h.topics.Partition(rt.Topic, rp.Partition); err != nil {
					sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				} else {
					del = append(del, offsets.TP{Topic: rt.Topic, Partition: rp.Partition})
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if len(del) > 0 {
		if err := h.offsets.DeleteOffsets(r.Group, del); err != nil {
			h.logger.Error("deleting offsets failed", "group", r.Group, "err", err)
			resp.ErrorCode = kerr.KafkaStorageError.Code
		}
	}
	return server.Respond(resp), nil
}

// subscribedTopics decodes the consumer-protocol subscriptions of a group's
// members.
func (h *Handler) subscribedTopics(groupID string) map[string]bool {
	out := map[string]bool{}
	d := h.groups.Describe(groupID)
	for _, t := range d.SubscribedTopics { // consumer-protocol groups (KIP-848)
		out[t] = true
	}
	if d.ProtocolType != "consumer" {
		return out
	}
	for _, m := range d.Members {
		var md kmsg.ConsumerMemberMetadata
		if err := md.ReadFrom(m.Metadata); err != nil {
			continue
		}
		for _, t := range md.Topics {
			out[t] = true
		}
	}
	return out
}
