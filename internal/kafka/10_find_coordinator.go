package kafka

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/server"
)

// Coordinator key types.
const (
	coordinatorGroup       = 0
	coordinatorTransaction = 1
)

// handleFindCoordinator answers with this node for every group and
// transactional id: on a single node it coordinates everything. (librdkafka
// also reads this API's presence as "the broker supports LZ4".)
func handleFindCoordinator(h *Handler, _ context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.FindCoordinatorRequest)
	resp := r.ResponseKind().(*kmsg.FindCoordinatorResponse)
	answer := func(key string) (code int16, msg *string) {
		switch {
		case r.CoordinatorType != coordinatorGroup && r.CoordinatorType != coordinatorTransaction:
			return kerr.InvalidRequest.Code, errorMessage(fmt.Errorf("unsupported coordinator type %d", r.CoordinatorType))
		case key == "" && r.CoordinatorType == coordinatorGroup:
			return kerr.InvalidGroupID.Code, errorMessage(fmt.Errorf("the group id is empty"))
		}
		return 0, nil
	}
	if r.Version < 4 {
		resp.ErrorCode, resp.ErrorMessage = answer(r.CoordinatorKey)
		resp.NodeID, resp.Host, resp.Port = -1, "", -1
		if resp.ErrorCode == 0 {
			resp.NodeID, resp.Host, resp.Port = h.broker.NodeID, h.broker.Host, h.broker.Port
		}
		return server.Respond(resp), nil
	}
	for _, key := range r.CoordinatorKeys {
		c := kmsg.NewFindCoordinatorResponseCoordinator()
		c.Key = key
		c.ErrorCode, c.ErrorMessage = answer(key)
		c.NodeID, c.Host, c.Port = -1, "", -1
		if c.ErrorCode == 0 {
			c.NodeID, c.Host, c.Port = h.broker.NodeID, h.broker.Host, h.broker.Port
		}
		resp.Coordinators = append(resp.Coordinators, c)
	}
	return server.Respond(resp), nil
}
