package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/server"
	"github.com/chronik-streaming/chronik/internal/txn"
)

// handleAddOffsetsToTxn adds a consumer group's offsets to a producer's
// transaction (the offsets themselves come with TxnOffsetCommit).
func handleAddOffsetsToTxn(h *Handler, _ context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.AddOffsetsToTxnRequest)
	resp := r.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	switch {
	case r.Group == "":
		resp.ErrorCode = kerr.InvalidGroupID.Code
	case h.txns == nil:
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
	default:
		err := h.txns.AddOffsets(r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Group)
		resp.ErrorCode = txn.ErrorCode(err, int16(kmsg.AddOffsetsToTxn), r.Version)
		if resp.ErrorCode == -1 {
			h.logger.Error("AddOffsetsToTxn failed", "transactional_id", r.TransactionalID, "err", err)
		}
	}
	return server.Respond(resp), nil
}
