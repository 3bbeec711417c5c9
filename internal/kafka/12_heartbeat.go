package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/server"
)

func handleHeartbeat(h *Handler, _ context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.HeartbeatRequest)
	resp := r.ResponseKind().(*kmsg.HeartbeatResponse)
	resp.ErrorCode = groupErrorCode(h.groups.Heartbeat(r.Group, r.MemberID, r.InstanceID, r.Generation))
	return server.Respond(resp), nil
}
