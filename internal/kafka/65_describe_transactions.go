package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/server"
	"github.com/chronik-streaming/chronik/internal/txn"
)

// handleDescribeTransactions describes transactional ids' current state.
// The groups of a transaction are not listed (Kafka lists their
// __consumer_offsets partitions, which Chronik does not have).
func handleDescribeTransactions(h *Handler, _ context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.DescribeTransactionsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeTransactionsResponse)
	var descs []txn.Description
	if h.txns != nil {
		descs = h.txns.Describe(r.TransactionalIDs)
	} else {
		for _, id := range r.TransactionalIDs {
			descs = append(descs, txn.Description{TransactionalID: id, Err: txn.ErrCoordinatorNotAvailable})
		}
	}
	for _, d := range descs {
		s := kmsg.NewDescribeTransactionsResponseTransactionState()
		s.TransactionalID = d.TransactionalID
		s.ErrorCode = txn.ErrorCode(d.Err, int16(kmsg.DescribeTransactions), r.Version)
		s.ProducerID, s.ProducerEpoch, s.StartTimestamp = -1, -1, -1
		if d.Err == nil {
			s.State = d.State
			s.TimeoutMillis = d.TransactionTimeoutMs
			s.StartTimestamp = d.TransactionStartTimeMs
			s.ProducerID, s.ProducerEpoch = d.ProducerID, d.ProducerEpoch
			byTopic := map[string]int{}
			for _, tp := range d.Partitions {
				i, ok := byTopic[tp.Topic]
				if !ok {
					i = len(s.Topics)
					byTopic[tp.Topic] = i
					t := kmsg.NewDescribeTransactionsResponseTransactionStateTopic()
					t.Topic = tp.Topic
					s.Topics = append(s.Topics, t)
				}
				s.Topics[i].Partitions = append(s.Topics[i].Partitions, tp.Partition)
			}
		}
		resp.TransactionStates = append(resp.TransactionStates, s)
	}
	return server.Respond(resp), nil
}
