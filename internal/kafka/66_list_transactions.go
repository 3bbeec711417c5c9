package kafka

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/server"
	"github.com/chronik-streaming/chronik/internal/txn"
)

// handleListTransactions lists transactional ids (v0-v1; the v2 pattern
// filter is not advertised).
func handleListTransactions(h *Handler, _ context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.ListTransactionsRequest)
	resp := r.ResponseKind().(*kmsg.ListTransactionsResponse)
	if h.txns == nil {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return server.Respond(resp), nil
	}
	duration := time.Duration(-1)
	if r.Version >= 1 && r.DurationFilterMillis >= 0 {
		duration = time.Duration(r.DurationFilterMillis) * time.Millisecond
	}
	resp.UnknownStateFilters = txn.UnknownStateFilters(r.StateFilters)
	for _, l := range h.txns.List(r.StateFilters, r.ProducerIDFilters, duration) {
		s := kmsg.NewListTransactionsResponseTransactionState()
		s.TransactionalID, s.ProducerID, s.TransactionState = l.TransactionalID, l.ProducerID, l.State
		resp.TransactionStates = append(resp.TransactionStates, s)
	}
	return server.Respond(resp), nil
}
