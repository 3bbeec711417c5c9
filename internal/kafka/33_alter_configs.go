package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/server"
	"github.com/chronik-streaming/chronik/internal/topics"
)

// handleAlterConfigs is the legacy, non-incremental AlterConfigs: the
// configs listed for a resource replace its whole set of explicitly set
// configs. See alterConfigs.
func handleAlterConfigs(h *Handler, _ context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.AlterConfigsRequest)
	resp := r.ResponseKind().(*kmsg.AlterConfigsResponse)
	reqs := make([]alterRequest, 0, len(r.Resources))
	for _, rr := range r.Resources {
		ar := alterRequest{typ: rr.ResourceType, name: rr.ResourceName}
		for _, c := range rr.Configs {
			if c.Value == nil {
				ar.nulls = append(ar.nulls, c.Name)
				continue
			}
			ar.ops = append(ar.ops, topics.ConfigOp{Name: c.Name, Op: topics.ConfigSet, Value: *c.Value})
		}
		reqs = append(reqs, ar)
	}
	for i, res := range h.alterConfigs(reqs, true, r.ValidateOnly) {
		sr := kmsg.NewAlterConfigsResponseResource()
		sr.ResourceType = r.Resources[i].ResourceType
		sr.ResourceName = r.Resources[i].ResourceName
		sr.ErrorCode, sr.ErrorMessage = res.code, res.msg
		resp.Resources = append(resp.Resources, sr)
	}
	return server.Respond(resp), nil
}
