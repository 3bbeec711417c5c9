package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/server"
	"github.com/chronik-streaming/chronik/internal/txn"
)

// handleEndTxn commits or aborts a producer's transaction. v5+ is
// transactions V2 (KIP-890): the completion bumps the epoch, and the
// producer id and epoch for the next transaction are returned.
func handleEndTxn(h *Handler, ctx context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.EndTxnRequest)
	resp := r.ResponseKind().(*kmsg.EndTxnResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if h.txns == nil {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return server.Respond(resp), nil
	}
	pid, epoch, err := h.txns.EndTxn(ctx, r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Commit, r.Version >= 5)
	resp.ErrorCode = txn.ErrorCode(err, int16(kmsg.EndTxn), r.Version)
	if err == nil && r.Version >= 5 {
		resp.ProducerID, resp.ProducerEpoch = pid, epoch
	}
	if resp.ErrorCode == -1 {
		h.logger.Error("EndTxn failed", "transactional_id", r.TransactionalID, "err", err)
	}
	return server.Respond(resp), nil
}
