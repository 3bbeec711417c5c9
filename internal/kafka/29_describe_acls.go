package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/server"
)

// noAuthorizer is Kafka's message for ACL requests to a broker without an
// authorizer; Chronik has none (yet), so the ACL APIs answer as such a
// Kafka broker does: SECURITY_DISABLED.
const noAuthorizer = "No Authorizer is configured on the broker"

func handleDescribeACLs(_ *Handler, _ context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.DescribeACLsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeACLsResponse)
	resp.ErrorCode = kerr.SecurityDisabled.Code
	msg := noAuthorizer
	resp.ErrorMessage = &msg
	resp.Resources = []kmsg.DescribeACLsResponseResource{}
	return server.Respond(resp), nil
}
