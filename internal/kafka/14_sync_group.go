package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/group"
	"github.com/chronik-streaming/chronik/internal/server"
)

func handleSyncGroup(h *Handler, ctx context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.SyncGroupRequest)
	resp := r.ResponseKind().(*kmsg.SyncGroupResponse)
	sr := group.SyncRequest{GroupID: r.Group, MemberID: r.MemberID, InstanceID: r.InstanceID, GenerationID: r.Generation, ProtocolType: r.ProtocolType, ProtocolName: r.Protocol}
	size := 0
	if len(r.GroupAssignment) > 0 {
		sr.Assignments = make(map[string][]byte, len(r.GroupAssignment))
		for _, a := range r.GroupAssignment {
			sr.Assignments[a.MemberID] = append([]byte(nil), a.MemberAssignment...)
			size += len(a.MemberAssignment)
		}
	}
	if size > maxGroupMetadataBytes*16 {
		resp.ErrorCode = groupErrorCode(group.ErrInconsistentGroupProtocol)
		return server.Respond(resp), nil
	}
	res := h.groups.Sync(ctx, sr)
	resp.ErrorCode = groupErrorCode(res.Err)
	if res.Err == nil {
		pt, pn := res.ProtocolType, res.ProtocolName
		resp.ProtocolType, resp.Protocol = &pt, &pn
		resp.MemberAssignment = res.Assignment
	}
	if resp.MemberAssignment == nil {
		resp.MemberAssignment = []byte{}
	}
	return server.Respond(resp), nil
}
