package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/server"
	"github.com/chronik-streaming/chronik/internal/txn"
)

// handleAddPartitionsToTxn adds partitions to a producer's transaction
// (client versions v0-v3; v4+ is the broker-to-coordinator form, not
// advertised). As in Kafka, when some partitions are unknown none is added:
// those get UNKNOWN_TOPIC_OR_PARTITION and the others OPERATION_NOT_ATTEMPTED.
func handleAddPartitionsToTxn(h *Handler, _ context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.AddPartitionsToTxnRequest)
	resp := r.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)

	var parts []txn.TP
	unknown := map[txn.TP]bool{}
	for _, rt := range r.Topics {
		for _, p := range rt.Partitions {
			tp := txn.TP{Topic: rt.Topic, Partition: p}
			if _, err := h.topics.Partition(rt.Topic, p); err != nil {
				unknown[tp] = true
				continue
			}
			parts = append(parts, tp)
		}
	}
	var code int16
	switch {
	case len(unknown) > 0:
		code = kerr.OperationNotAttempted.Code
	case h.txns == nil:
		code = kerr.CoordinatorNotAvailable.Code
	default:
		err := h.txns.AddPartitions(r.TransactionalID, r.ProducerID, r.ProducerEpoch, parts)
		code = txn.ErrorCode(err, int16(kmsg.AddPartitionsToTxn), r.Version)
		if code == -1 {
			h.logger.Error("AddPartitionsToTxn failed", "transactional_id", r.TransactionalID, "err", err)
		}
	}
	for _, rt := range r.Topics {
		st := kmsg.NewAddPartitionsToTxnResponseTopic()
		st.Topic = rt.Topic
		for _, p := range rt.Partitions {
			sp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
			sp.Partition = p
			sp.ErrorCode = code
			if unknown[txn.TP{Topic: rt.Topic, Partition: p}] {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return server.Respond(resp), nil
}
