package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/server"
)

// handleCreateACLs answers every creation SECURITY_DISABLED (no authorizer).
func handleCreateACLs(_ *Handler, _ context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.CreateACLsRequest)
	resp := r.ResponseKind().(*kmsg.CreateACLsResponse)
	for range r.Creations {
		res := kmsg.NewCreateACLsResponseResult()
		res.ErrorCode = kerr.SecurityDisabled.Code
		msg := noAuthorizer
		res.ErrorMessage = &msg
		resp.Results = append(resp.Results, res)
	}
	return server.Respond(resp), nil
}
