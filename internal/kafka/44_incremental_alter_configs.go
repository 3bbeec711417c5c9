package kafka

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/server"
	"github.com/chronik-streaming/chronik/internal/topics"
)

// handleIncrementalAlterConfigs applies SET, DELETE, APPEND and SUBTRACT
// operations per resource. See alterConfigs.
func handleIncrementalAlterConfigs(h *Handler, _ context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.IncrementalAlterConfigsRequest)
	resp := r.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	reqs := make([]alterRequest, 0, len(r.Resources))
	for _, rr := range r.Resources {
		ar := alterRequest{typ: rr.ResourceType, name: rr.ResourceName}
		for _, c := range rr.Configs {
			op := topics.ConfigOpType(c.Op)
			switch {
			case op < topics.ConfigSet || op > topics.ConfigSubtract:
				ar.badOps = append(ar.badOps, fmt.Sprintf("%d (%s)", int8(c.Op), c.Name))
			case op != topics.ConfigDelete && c.Value == nil:
				ar.nulls = append(ar.nulls, c.Name)
			}
			v := ""
			if c.Value != nil {
				v = *c.Value
			}
			ar.ops = append(ar.ops, topics.ConfigOp{Name: c.Name, Op: op, Value: v})
		}
		reqs = append(reqs, ar)
	}
	for i, res := range h.alterConfigs(reqs, false, r.ValidateOnly) {
		sr := kmsg.NewIncrementalAlterConfigsResponseResource()
		sr.ResourceType = r.Resources[i].ResourceType
		sr.ResourceName = r.Resources[i].ResourceName
		sr.ErrorCode, sr.ErrorMessage = res.code, res.msg
		resp.Resources = append(resp.Resources, sr)
	}
	return server.Respond(resp), nil
}
