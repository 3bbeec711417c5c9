package kafka

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/offsets"
	"github.com/chronik-streaming/chronik/internal/server"
	"github.com/chronik-streaming/chronik/internal/txn"
)

// handleTxnOffsetCommit stores a group's offsets as pending in the
// producer's transaction: they become committed offsets when the
// transaction commits and are dropped when it aborts.
func handleTxnOffsetCommit(h *Handler, _ context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.TxnOffsetCommitRequest)
	resp := r.ResponseKind().(*kmsg.TxnOffsetCommitResponse)

	// An error for the whole request (every partition gets it).
	var code int16
	switch {
	case r.Group == "":
		code = kerr.InvalidGroupID.Code
	case h.txns == nil:
		code = kerr.CoordinatorNotAvailable.Code
	default:
		var err error
		if r.Version >= 5 {
			// Transactions V2 clients skip AddOffsetsToTxn: the group
			// joins the transaction with its first offsets (KIP-890).
			err = h.txns.AddOffsets(r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Group)
		}
		if err == nil {
			err = h.txns.ValidateTxnOffsetCommit(r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Group)
		}
		if code = txn.ErrorCode(err, int16(kmsg.TxnOffsetCommit), r.Version); code == -1 {
			h.logger.Error("TxnOffsetCommit validation failed", "transactional_id", r.TransactionalID, "err", err)
		}
		if code == 0 {
			member, instance, generation := "", (*string)(nil), int32(-1)
			if r.Version >= 3 {
				member, instance, generation = r.MemberID, r.InstanceID, r.Generation
			}
			code = groupErrorCode(h.groups.ValidateTxnCommit(r.Group, member, instance, generation))
		}
	}

	now := time.Now()
	commits := map[offsets.TP]offsets.Committed{}
	var stored []*int16
	resp.Topics = make([]kmsg.TxnOffsetCommitResponseTopic, len(r.Topics))
	for ti, rt := range r.Topics {
		st := &resp.Topics[ti]
		*st = kmsg.NewTxnOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.TxnOffsetCommitResponseTopicPartition, len(rt.Partitions))
		for pi, rp := range rt.Partitions {
			sp := &st.Partitions[pi]
			*sp = kmsg.NewTxnOffsetCommitResponseTopicPartition()
			sp.Partition = rp.Partition
			switch {
			case code != 0:
				sp.ErrorCode = code
			case rp.Metadata != nil && len(*rp.Metadata) > maxOffsetMetadataBytes:
				sp.ErrorCode = kerr.OffsetMetadataTooLarge.Code
			default:
				if _, err := h.topics.Partition(rt.Topic, rp.Partition); err != nil {
					sp.ErrorCode = errorCode(err)
					continue
				}
				c := offsets.Committed{Offset: rp.Offset, LeaderEpoch: rp.LeaderEpoch, CommitTime: now}
				if r.Version < 2 {
					c.LeaderEpoch = -1
				}
				if rp.Metadata != nil {
					c.Metadata = *rp.Metadata
				}
				commits[offsets.TP{Topic: rt.Topic, Partition: rp.Partition}] = c
				stored = append(stored, &sp.ErrorCode)
			}
		}
	}
	if len(commits) > 0 {
		if err := h.offsets.PutPendingTxnOffsets(r.ProducerID, r.Group, commits); err != nil {
			h.logger.Error("storing transactional offsets failed", "group", r.Group, "err", err)
			for _, c := range stored {
				*c = kerr.KafkaStorageError.Code
			}
		}
	}
	return server.Respond(resp), nil
}
