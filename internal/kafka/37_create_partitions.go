package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/server"
)

func handleCreatePartitions(h *Handler, _ context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.CreatePartitionsRequest)
	resp := r.ResponseKind().(*kmsg.CreatePartitionsResponse)
	seen := map[string]int{}
	for _, rt := range r.Topics {
		seen[rt.Topic]++
	}
	for _, rt := range r.Topics {
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		var err error
		switch {
		case seen[rt.Topic] > 1:
			st.ErrorCode = kerr.InvalidRequest.Code
			err = fmt.Errorf("topic %s appears more than once in the request", rt.Topic)
		case rt.Assignment != nil && !h.assignmentIsLocal(rt.Assignment):
			st.ErrorCode = kerr.InvalidReplicaAssignment.Code
			err = errors.New("every new partition must have exactly this broker as its replica")
		default:
			err = h.topics.AddPartitions(rt.Topic, rt.Count, r.ValidateOnly)
			st.ErrorCode = errorCode(err)
		}
		st.ErrorMessage = errorMessage(err)
		resp.Topics = append(resp.Topics, st)
	}
	return server.Respond(resp), nil
}

func (h *Handler) assignmentIsLocal(as []kmsg.CreatePartitionsRequestTopicAssignment) bool {
	for _, a := range as {
		if len(a.Replicas) != 1 || a.Replicas[0] != h.broker.NodeID {
			return false
		}
	}
	return true
}
