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
	resp.Topics = make([]kmsg.TxnOffsetCommitResponseTopic, len(r.Topics))
	for ti, rt := range r.Topics {
		st := &resp.Topics[ti]
		*st = kmsg.NewTxnOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.TxnOffsetCommitResponseTopicPartition, len(rt.Partitions))
		for pi, rp := range rt.Partitions {
			st.Partitions[pi] = kmsg.NewTxnOffsetCommitResponseTopicPartition()
			st.Partitions[pi].Partition = rp.Partition
		}
	}
	// setAll answers code for every partition (an error of the request).
	setAll := func(code int16) {
		for ti := range resp.Topics {
			for pi := range resp.Topics[ti].Partitions {
				resp.Topics[ti].Partitions[pi].ErrorCode = code
			}
		}
	}
	switch {
	case r.Group == "":
		setAll(kerr.InvalidGroupID.Code)
		return server.Respond(resp), nil
	case h.txns == nil:
		setAll(kerr.CoordinatorNotAvailable.Code)
		return server.Respond(resp), nil
	}

	// Checked and stored while the transaction cannot end, so that no
	// abort slips between the checks and the pending write.
	var groupCode int16
	err := h.txns.TxnOffsetCommit(r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Group, r.Version >= 5, func() error {
		member, instance, generation := "", (*string)(nil), int32(-1)
		if r.Version >= 3 {
			member, instance, generation = r.MemberID, r.InstanceID, r.Generation
		}
		if groupCode = groupErrorCode(h.groups.ValidateTxnCommit(r.Group, member, instance, generation)); groupCode != 0 {
			return nil
		}
		h.storeTxnOffsets(r, resp)
		return nil
	})
	switch {
	case err != nil:
		code := txn.ErrorCode(err, int16(kmsg.TxnOffsetCommit), r.Version)
		if code == -1 {
			h.logger.Error("TxnOffsetCommit failed", "transactional_id", r.TransactionalID, "err", err)
		}
		setAll(code)
	case groupCode != 0:
		setAll(groupCode)
	}
	return server.Respond(resp), nil
}

// storeTxnOffsets stores the request's offsets as pending in the producer's
// transaction, answering per partition.
func (h *Handler) storeTxnOffsets(r *kmsg.TxnOffsetCommitRequest, resp *kmsg.TxnOffsetCommitResponse) {
	now := time.Now()
	commits := map[offsets.TP]offsets.Committed{}
	var stored []*int16
	for ti, rt := range r.Topics {
		for pi, rp := range rt.Partitions {
			sp := &resp.Topics[ti].Partitions[pi]
			if rp.Metadata != nil && len(*rp.Metadata) > maxOffsetMetadataBytes {
				sp.ErrorCode = kerr.OffsetMetadataTooLarge.Code
				continue
			}
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
	if len(commits) == 0 {
		return
	}
	if err := h.offsets.PutPendingTxnOffsets(r.ProducerID, r.Group, commits); err != nil {
		h.logger.Error("storing transactional offsets failed", "group", r.Group, "err", err)
		for _, c := range stored {
			*c = kerr.KafkaStorageError.Code
		}
	}
}
