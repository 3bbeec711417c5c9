package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/batch"
	"github.com/chronik-streaming/chronik/internal/compress"
	"github.com/chronik-streaming/chronik/internal/server"
	"github.com/chronik-streaming/chronik/internal/topics"
	"github.com/chronik-streaming/chronik/internal/txn"
)

// magicOffset is where the magic byte sits in both a record batch and a
// legacy message (offset int64, size int32, crc uint32, then magic).
const magicOffset = 16

func handleProduce(h *Handler, ctx context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.ProduceRequest)
	resp := r.ResponseKind().(*kmsg.ProduceResponse)
	acksOK := r.Acks == 0 || r.Acks == 1 || r.Acks == -1

	type pending struct {
		p    *topics.Partition
		resp *kmsg.ProduceResponseTopicPartition
		next int64 // the offset after the appended batch
	}
	var waits []pending
	failed := false

	resp.Topics = make([]kmsg.ProduceResponseTopic, len(r.Topics))
	for ti, rt := range r.Topics {
		st := &resp.Topics[ti]
		*st = kmsg.NewProduceResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		name, topicErr := h.resolveTopic(r.Version >= 13, rt.Topic, rt.TopicID)
		st.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		for pi, rp := range rt.Partitions {
			sp := &st.Partitions[pi]
			*sp = kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			fail := func(code int16, err error) {
				failed = true
				sp.ErrorCode = code
				sp.BaseOffset = -1
				if r.Version >= 8 && err != nil {
					sp.ErrorMessage = errorMessage(err)
				}
			}
			if !acksOK {
				fail(kerr.InvalidRequiredAcks.Code, fmt.Errorf("acks must be -1, 0 or 1, not %d", r.Acks))
				continue
			}
			if topicErr != nil {
				fail(errorCode(topicErr), topicErr)
				continue
			}
			p, err := h.topics.Partition(name, rp.Partition)
			if err != nil {
				fail(errorCode(err), err)
				continue
			}
			records := rp.Records
			if r.Version < 3 && len(records) > magicOffset && records[magicOffset] < 2 {
				// Produce v0-v2 carry message sets of magic 0 or 1: stored
				// as one record batch v2, as Kafka up-converts them.
				if records, err = batch.ConvertLegacy(records, time.Now().UnixMilli()); err != nil {
					fail(kerr.CorruptMessage.Code, err)
					continue
				}
			}
			bh, code, err := checkProducedBatch(records, r.Version)
			if err != nil {
				fail(code, err)
				continue
			}
			if bh.IsTransactional() {
				if err := h.joinTransaction(r.TransactionID, bh, name, rp.Partition, r.Version); err != nil {
					fail(txn.ErrorCode(err, int16(kmsg.Produce), r.Version), err)
					continue
				}
			}
			if codec := p.Topic.StorageCodec(); codec >= 0 {
				// compression.type names a codec: store batches with it,
				// as Kafka does (the only produce path that touches records).
				if records, err = batch.Recompress(records, codec); err != nil {
					fail(kerr.CorruptMessage.Code, err)
					continue
				}
			}
			res, err := p.Log.Append(records)
			if err != nil {
				h.logAppendError(name, rp.Partition, err)
				fail(errorCode(err), err)
				continue
			}
			if h.storage != nil {
				h.storage.StorageRecovered()
			}
			if h.metrics != nil {
				h.metrics.Produced(name, rp.Partition, int64(len(rp.Records)), int64(bh.NumRecords))
			}
			sp.BaseOffset = res.BaseOffset
			sp.LogAppendTime = res.LogAppendTime
			sp.LogStartOffset = res.LogStartOffset
			waits = append(waits, pending{p: p, resp: sp, next: res.LastOffset + 1})
		}
	}

	// The Reply outlives the request's frame (the server may reuse it):
	// take what it needs now.
	version, timeout := r.Version, time.Duration(max(r.TimeoutMillis, 0))*time.Millisecond
	metrics := h.metrics
	if r.Acks == 0 {
		if failed {
			return nil, server.ErrCloseConnection // as Kafka: the client then refreshes metadata
		}
		return nil, nil
	}
	return func() kmsg.Response {
		// Acknowledge only what is durable under the fsync policy: one
		// group commit serves all partitions and pipelined requests.
		wctx, cancel := context.WithTimeout(ctx, timeout+time.Millisecond)
		defer cancel()
		var start time.Time
		if metrics != nil {
			start = time.Now()
		}
		for _, w := range waits {
			if err := w.p.Log.WaitDurable(wctx, w.next); err != nil {
				code := errorCode(err)
				if errors.Is(err, context.DeadlineExceeded) {
					code = kerr.RequestTimedOut.Code
				}
				w.resp.ErrorCode = code
				if version >= 8 {
					w.resp.ErrorMessage = errorMessage(err)
				}
			}
		}
		if metrics != nil && len(waits) > 0 {
			metrics.ProduceDurableWait(time.Since(start))
		}
		return resp
	}, nil
}

// checkProducedBatch checks what the log does not: that a produce carries
// exactly one record batch of magic 2 that a client may write.
func checkProducedBatch(b []byte, version int16) (batch.Header, int16, error) {
	h, err := batch.ParseHeader(b)
	switch {
	case errors.Is(err, batch.ErrBadMagic):
		// Produce v3+ must carry magic 2 (older versions were converted).
		return h, kerr.InvalidRecord.Code, fmt.Errorf("produce v%d accepts only record batches of magic 2: %w", version, err)
	case err != nil:
		return h, kerr.CorruptMessage.Code, err
	case h.Size() > int64(len(b)):
		return h, kerr.CorruptMessage.Code, fmt.Errorf("record batch length %d does not match the %d bytes sent", h.Size(), len(b))
	case h.Size() < int64(len(b)):
		return h, kerr.InvalidRecord.Code, errors.New("a produce request must carry exactly one record batch per partition")
	case h.IsControl():
		return h, kerr.InvalidRecord.Code, errors.New("clients may not write control batches")
	case h.Codec() == compress.Zstd && version < 7:
		return h, kerr.UnsupportedCompressionType.Code, fmt.Errorf("zstd needs produce v7 or later; this request is v%d", version)
	}
	return h, 0, nil
}

// joinTransaction ties a transactional batch to its transaction before it
// is appended (KIP-890). Produce v12+ comes from transactions V2 clients,
// which skip AddPartitionsToTxn: the partition is added here. Older
// versions must have added it: verified, so that a batch of a transaction
// already aborted (a zombie, a retry after a timeout) cannot start a
// transaction no marker will ever end. As Kafka, a request without a
// transactional id is not checked.
func (h *Handler) joinTransaction(transactionalID *string, bh batch.Header, topic string, partition int32, version int16) error {
	if transactionalID == nil || *transactionalID == "" || h.txns == nil {
		return nil
	}
	tp := txn.TP{Topic: topic, Partition: partition}
	if version >= 12 {
		return h.txns.AddPartitions(*transactionalID, bh.ProducerID, bh.ProducerEpoch, []txn.TP{tp})
	}
	return h.txns.VerifyPartition(*transactionalID, bh.ProducerID, bh.ProducerEpoch, tp)
}

// resolveTopic finds a topic's name by name, or by id on versions that
// address topics by id.
func (h *Handler) resolveTopic(byID bool, name string, id [16]byte) (string, error) {
	if !byID {
		return name, nil
	}
	t, ok := h.topics.GetByID(id)
	if !ok {
		return "", kerr.UnknownTopicID
	}
	return t.Name, nil
}

func (h *Handler) logAppendError(topic string, partition int32, err error) {
	if errorCode(err) == kerr.KafkaStorageError.Code {
		h.logger.Error("append failed", "topic", topic, "partition", partition, "err", err)
		if h.storage != nil {
			h.storage.StorageFailed(err)
		}
		return
	}
	h.logger.Debug("append refused", "topic", topic, "partition", partition, "err", err)
}
