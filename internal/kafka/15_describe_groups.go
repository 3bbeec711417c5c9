package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/group"
	"github.com/chronik-streaming/chronik/internal/server"
)

// Group operations allowed without an authorizer: READ 3, DELETE 6,
// DESCRIBE 8.
const groupAllOps = 1<<3 | 1<<6 | 1<<8

func handleDescribeGroups(h *Handler, _ context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.DescribeGroupsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeGroupsResponse)
	for _, id := range r.Groups {
		g := kmsg.NewDescribeGroupsResponseGroup()
		g.Group = id
		g.AuthorizedOperations = authorizedOpsNotRequested
		if r.IncludeAuthorizedOperations {
			g.AuthorizedOperations = groupAllOps
		}
		d := h.groups.Describe(id)
		g.State, g.ProtocolType, g.Protocol = d.State, d.ProtocolType, d.Protocol
		if d.Err != nil {
			g.ErrorCode = groupErrorCode(d.Err)
		}
		if d.Type == group.TypeConsumer {
			// Kafka 4 does not describe consumer-protocol (KIP-848) groups
			// here: it answers as for a group that does not exist.
			g.ProtocolType = ""
			if r.Version >= 6 {
				g.ErrorCode = kerr.GroupIDNotFound.Code
				msg := "Group " + id + " is not a classic group."
				g.ErrorMessage = &msg
			}
		} else if !d.Exists && r.Version >= 6 {
			// KIP-1043: v6 says so instead of describing a dead group.
			g.ErrorCode = kerr.GroupIDNotFound.Code
			msg := "group " + id + " not found"
			g.ErrorMessage = &msg
		}
		for _, m := range d.Members {
			gm := kmsg.NewDescribeGroupsResponseGroupMember()
			gm.MemberID, gm.InstanceID, gm.ClientID, gm.ClientHost = m.MemberID, m.InstanceID, m.ClientID, m.ClientHost
			gm.ProtocolMetadata, gm.MemberAssignment = m.Metadata, m.Assignment
			if gm.MemberAssignment == nil {
				gm.MemberAssignment = []byte{}
			}
			g.Members = append(g.Members, gm)
		}
		resp.Groups = append(resp.Groups, g)
	}
	return server.Respond(resp), nil
}
