package kafka

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/server"
	"github.com/chronik-streaming/chronik/internal/txn"
)

func handleInitProducerID(h *Handler, ctx context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.InitProducerIDRequest)
	resp := r.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if r.TransactionalID != nil {
		if h.txns == nil {
			resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
			return server.Respond(resp), nil
		}
		pid, epoch := r.ProducerID, r.ProducerEpoch
		if r.Version < 3 { // no producer id/epoch in the request
			pid, epoch = -1, -1
		}
		timeout := time.Duration(r.TransactionTimeoutMillis) * time.Millisecond
		id, ep, err := h.txns.InitProducerID(ctx, *r.TransactionalID, timeout, pid, epoch)
		resp.ErrorCode = txn.ErrorCode(err, int16(kmsg.InitProducerID), r.Version)
		if err == nil {
			resp.ProducerID, resp.ProducerEpoch = id, ep
		} else if resp.ErrorCode == -1 {
			h.logger.Error("InitProducerId failed", "transactional_id", *r.TransactionalID, "err", err)
		}
		return server.Respond(resp), nil
	}
	// Without a transactional id Kafka always hands out a fresh id (the
	// producer bumps its own epoch when it must, KIP-360).
	id, err := h.producerIDs.Next()
	if err != nil {
		h.logger.Error("allocating a producer id failed", "err", err)
		resp.ErrorCode = kerr.KafkaStorageError.Code
		return server.Respond(resp), nil
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return server.Respond(resp), nil
}
