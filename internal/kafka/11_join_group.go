package kafka

import (
	"context"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/group"
	"github.com/chronik-streaming/chronik/internal/server"
)

// maxGroupMetadataBytes bounds what one member may store in the coordinator
// (protocol metadata, assignments): Kafka caps it by the request size, a
// single node caps it so a client bug cannot fill memory.
const maxGroupMetadataBytes = 1 << 20

func handleJoinGroup(h *Handler, ctx context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.JoinGroupRequest)
	resp := r.ResponseKind().(*kmsg.JoinGroupResponse)
	rebalance := r.RebalanceTimeoutMillis
	if r.Version == 0 {
		rebalance = r.SessionTimeoutMillis // v0 has none: Kafka uses the session timeout
	}
	jr := group.JoinRequest{
		GroupID:              r.Group,
		MemberID:             r.MemberID,
		InstanceID:           r.InstanceID,
		ClientID:             clientID(req),
		ClientHost:           clientHost(req),
		SessionTimeout:       time.Duration(r.SessionTimeoutMillis) * time.Millisecond,
		RebalanceTimeout:     time.Duration(rebalance) * time.Millisecond,
		ProtocolType:         r.ProtocolType,
		RequireKnownMemberID: r.Version >= 4,
		// KIP-814: from v9 a static leader may be told to skip assigning.
		SupportSkippingAssignment: r.Version >= 9,
	}
	if r.Reason != nil {
		jr.Reason = *r.Reason
	}
	size := 0
	for _, p := range r.Protocols {
		jr.Protocols = append(jr.Protocols, group.Protocol{Name: p.Name, Metadata: append([]byte(nil), p.Metadata...)})
		size += len(p.Metadata)
	}
	resp.Generation = -1
	resp.MemberID = r.MemberID
	if r.Group == "" {
		resp.ErrorCode = groupErrorCode(group.ErrInvalidGroupID)
		return server.Respond(resp), nil
	}
	if size > maxGroupMetadataBytes {
		resp.ErrorCode = groupErrorCode(group.ErrInconsistentGroupProtocol)
		return server.Respond(resp), nil
	}
	// Kafka parks JoinGroup until the rebalance's join phase completes; the
	// connection waits with it, as Kafka's does.
	res := h.groups.Join(ctx, jr)
	resp.ErrorCode = groupErrorCode(res.Err)
	resp.Generation = res.GenerationID
	resp.MemberID = res.MemberID
	resp.LeaderID = res.LeaderID
	resp.SkipAssignment = res.SkipAssignment
	if res.Err == nil {
		pt, pn := res.ProtocolType, res.ProtocolName
		resp.ProtocolType, resp.Protocol = &pt, &pn
	}
	for _, m := range res.Members {
		jm := kmsg.NewJoinGroupResponseMember()
		jm.MemberID, jm.InstanceID, jm.ProtocolMetadata = m.MemberID, m.InstanceID, m.Metadata
		resp.Members = append(resp.Members, jm)
	}
	return server.Respond(resp), nil
}

func clientID(req *server.Request) string {
	if req.Header.ClientID != nil {
		return *req.Header.ClientID
	}
	return ""
}

// clientHost is how Kafka shows a member's host: "/" and its address.
func clientHost(req *server.Request) string {
	if req.Remote == nil {
		return ""
	}
	host := req.Remote.String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return "/" + host
}
