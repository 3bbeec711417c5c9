package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/group"
	"github.com/chronik-streaming/chronik/internal/server"
)

func handleLeaveGroup(h *Handler, _ context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.LeaveGroupRequest)
	resp := r.ResponseKind().(*kmsg.LeaveGroupResponse)
	var members []group.LeaveMember
	if r.Version < 3 {
		members = []group.LeaveMember{{MemberID: r.MemberID}}
	} else {
		for _, m := range r.Members {
			lm := group.LeaveMember{MemberID: m.MemberID, InstanceID: m.InstanceID}
			if m.Reason != nil {
				lm.Reason = *m.Reason
			}
			members = append(members, lm)
		}
	}
	per, err := h.groups.Leave(r.Group, members)
	resp.ErrorCode = groupErrorCode(err)
	if r.Version < 3 {
		if err == nil && len(per) == 1 {
			resp.ErrorCode = groupErrorCode(per[0])
		}
		return server.Respond(resp), nil
	}
	for i, m := range r.Members {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID = m.MemberID, m.InstanceID
		if err == nil && i < len(per) {
			rm.ErrorCode = groupErrorCode(per[i])
		}
		resp.Members = append(resp.Members, rm)
	}
	return server.Respond(resp), nil
}
