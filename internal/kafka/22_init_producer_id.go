package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/server"
)

func handleInitProducerID(h *Handler, _ context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.InitProducerIDRequest)
	resp := r.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if r.TransactionalID != nil {
		// The transaction coordinator is not built yet; FindCoordinator is
		// not advertised, so well-behaved clients never get here.
		h.logger.Warn("InitProducerId with a transactional id refused: transactions are not supported yet", "transactional_id", *r.TransactionalID)
		resp.ErrorCode = kerr.InvalidRequest.Code
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
