package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/server"
)

// handleDeleteGroups deletes empty groups and their committed offsets.
func handleDeleteGroups(h *Handler, _ context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.DeleteGroupsRequest)
	resp := r.ResponseKind().(*kmsg.DeleteGroupsResponse)
	for _, id := range r.Groups {
		g := kmsg.NewDeleteGroupsResponseGroup()
		g.Group = id
		err := h.groups.Delete(id)
		if err == nil {
			err = h.offsets.DeleteGroup(id)
		}
		g.ErrorCode = groupErrorCode(err)
		resp.Groups = append(resp.Groups, g)
	}
	return server.Respond(resp), nil
}
