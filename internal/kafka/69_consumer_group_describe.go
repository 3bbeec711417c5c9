package kafka

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/group"
	"github.com/chronik-streaming/chronik/internal/server"
)

// handleConsumerGroupDescribe serves ConsumerGroupDescribe v0-v1 (KIP-848):
// unknown groups, and groups that are not consumer-protocol groups, get
// GROUP_ID_NOT_FOUND; v1 adds the member type (1 = consumer protocol).
func handleConsumerGroupDescribe(h *Handler, _ context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.ConsumerGroupDescribeRequest)
	resp := r.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
	h.ensureTopicLookup()
	for _, id := range r.Groups {
		g := kmsg.NewConsumerGroupDescribeResponseGroup()
		g.Group = id
		if r.IncludeAuthorizedOperations {
			g.AuthorizedOperations = groupAllOps
		}
		if id == "" {
			g.ErrorCode = kerr.InvalidGroupID.Code
			resp.Groups = append(resp.Groups, g)
			continue
		}
		d := h.groups.DescribeConsumerGroup(id)
		if d.Err != nil {
			g.ErrorCode = groupErrorCode(d.Err)
			if !errors.Is(d.Err, group.ErrCoordinatorNotAvailable) {
				g.ErrorMessage = errorMessage(d.Err)
			}
			resp.Groups = append(resp.Groups, g)
			continue
		}
		g.State, g.Epoch, g.AssignmentEpoch, g.AssignorName = d.State, d.Epoch, d.AssignmentEpoch, d.AssignorName
		g.Members = make([]kmsg.ConsumerGroupDescribeResponseGroupMember, 0, len(d.Members))
		for _, m := range d.Members {
			gm := kmsg.NewConsumerGroupDescribeResponseGroupMember()
			gm.MemberID, gm.InstanceID, gm.RackID, gm.MemberEpoch = m.MemberID, m.InstanceID, m.RackID, m.MemberEpoch
			gm.ClientID, gm.ClientHost = m.ClientID, m.ClientHost
			gm.SubscribedTopics, gm.SubscribedTopicRegex = m.SubscribedTopicNames, m.SubscribedTopicRegex
			gm.Assignment.TopicPartitions = describedAssignment(m.Assignment)
			gm.TargetAssignment.TopicPartitions = describedAssignment(m.TargetAssignment)
			gm.MemberType = 1 // consumer protocol (classic members do not join consumer groups here)
			g.Members = append(g.Members, gm)
		}
		resp.Groups = append(resp.Groups, g)
	}
	return server.Respond(resp), nil
}

func describedAssignment(tps []group.TopicPartitions) []kmsg.AssignmentTopicPartition {
	out := make([]kmsg.AssignmentTopicPartition, 0, len(tps))
	for _, t := range tps {
		at := kmsg.NewAssignmentTopicPartition()
		at.TopicID, at.Topic, at.Partitions = t.TopicID, t.Name, t.Partitions
		out = append(out, at)
	}
	return out
}
