package kafka

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/group"
	"github.com/chronik-streaming/chronik/internal/server"
	"github.com/chronik-streaming/chronik/internal/topics"
)

func init() {
	// The consumer group protocol's errors (KIP-848).
	groupCodes[group.ErrFencedMemberEpoch] = kerr.FencedMemberEpoch.Code
	groupCodes[group.ErrUnreleasedInstanceID] = kerr.UnreleasedInstanceID.Code
	groupCodes[group.ErrUnsupportedAssignor] = kerr.UnsupportedAssignor.Code
	groupCodes[group.ErrStaleMemberEpoch] = kerr.StaleMemberEpoch.Code
	groupCodes[group.ErrInvalidRegularExpression] = kerr.InvalidRegularExpression.Code
	groupCodes[group.ErrInvalidRequest] = kerr.InvalidRequest.Code
	groupCodes[group.ErrUnsupportedVersion] = kerr.UnsupportedVersion.Code
}

// topicLookup shows the topics manager to the group coordinator.
type topicLookup struct{ m *topics.Manager }

// NewTopicLookup returns the group.TopicLookup of a topics manager: the
// broker gives it to the coordinator (Coordinator.SetTopicLookup).
func NewTopicLookup(m *topics.Manager) group.TopicLookup { return topicLookup{m} }

func (l topicLookup) Topics() []group.TopicInfo {
	ts := l.m.List()
	out := make([]group.TopicInfo, 0, len(ts))
	for _, t := range ts {
		out = append(out, group.TopicInfo{Name: t.Name, ID: t.ID, Partitions: int32(len(l.m.Partitions(t)))})
	}
	return out
}

// ensureTopicLookup installs the topic lookup if the broker has not.
func (h *Handler) ensureTopicLookup() {
	h.groups.SetTopicLookupIfUnset(NewTopicLookup(h.topics))
}

// handleConsumerGroupHeartbeat serves ConsumerGroupHeartbeat v0-v1
// (KIP-848). v1 requires the client to generate its member id.
func handleConsumerGroupHeartbeat(h *Handler, _ context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.ConsumerGroupHeartbeatRequest)
	resp := r.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
	h.ensureTopicLookup()
	hr := group.ConsumerHeartbeatRequest{
		GroupID:              r.Group,
		MemberID:             r.MemberID,
		MemberEpoch:          r.MemberEpoch,
		InstanceID:           r.InstanceID,
		RackID:               r.RackID,
		RebalanceTimeoutMs:   r.RebalanceTimeoutMillis,
		SubscribedTopicNames: r.SubscribedTopicNames,
		SubscribedTopicRegex: r.SubscribedTopicRegex,
		ServerAssignor:       r.ServerAssignor,
		ClientID:             clientID(req),
		ClientHost:           clientHost(req),
		RequireMemberID:      r.Version >= 1,
	}
	if r.Version < 1 {
		hr.SubscribedTopicRegex = nil // not in v0
	}
	if r.Topics != nil {
		hr.Topics = make([]group.TopicPartitions, 0, len(r.Topics))
		for _, t := range r.Topics {
			hr.Topics = append(hr.Topics, group.TopicPartitions{TopicID: t.TopicID, Partitions: t.Partitions})
		}
	}
	res := h.groups.ConsumerHeartbeat(hr)
	if res.Err != nil {
		resp.ErrorCode = groupErrorCode(res.Err)
		resp.ErrorMessage = heartbeatErrorMessage(res.Err)
		return server.Respond(resp), nil
	}
	id := res.MemberID
	resp.MemberID = &id
	resp.MemberEpoch = res.MemberEpoch
	resp.HeartbeatIntervalMillis = int32(res.HeartbeatInterval.Milliseconds())
	if res.Assignment != nil {
		a := kmsg.NewConsumerGroupHeartbeatResponseAssignment()
		a.Topics = make([]kmsg.ConsumerGroupHeartbeatResponseAssignmentTopic, 0, len(res.Assignment))
		for _, t := range res.Assignment {
			at := kmsg.NewConsumerGroupHeartbeatResponseAssignmentTopic()
			at.TopicID, at.Partitions = t.TopicID, t.Partitions
			a.Topics = append(a.Topics, at)
		}
		resp.Assignment = &a
	}
	return server.Respond(resp), nil
}

// heartbeatErrorMessage is the message sent with an error: the
// coordinator's explanation when it gave one.
func heartbeatErrorMessage(err error) *string {
	if errors.Is(err, group.ErrCoordinatorNotAvailable) {
		return nil
	}
	return errorMessage(err)
}
