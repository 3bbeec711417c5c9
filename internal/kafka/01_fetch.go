package kafka

import (
	"context"
	"encoding/binary"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/batch"
	"github.com/chronik-streaming/chronik/internal/compress"
	plog "github.com/chronik-streaming/chronik/internal/log"
	"github.com/chronik-streaming/chronik/internal/server"
	"github.com/chronik-streaming/chronik/internal/topics"
)

const isolationReadCommitted = 1

// fetchTarget is one requested partition, resolved once per request.
type fetchTarget struct {
	req  *kmsg.FetchRequestTopicPartition
	resp *kmsg.FetchResponseTopicPartition
	p    *topics.Partition // nil if it failed to resolve
}

func handleFetch(h *Handler, ctx context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.FetchRequest)
	resp := r.ResponseKind().(*kmsg.FetchResponse)

	// Chronik keeps no fetch sessions: answering session id 0 tells the
	// client to send full requests. An incremental fetch names a session
	// we never created.
	if r.Version >= 7 && (r.SessionID != 0 || r.SessionEpoch > 0) {
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		return server.Respond(resp), nil
	}

	var targets []fetchTarget
	resp.Topics = make([]kmsg.FetchResponseTopic, len(r.Topics))
	for ti := range r.Topics {
		rt := &r.Topics[ti]
		st := &resp.Topics[ti]
		*st = kmsg.NewFetchResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		name, topicErr := h.resolveTopic(r.Version >= 13, rt.Topic, rt.TopicID)
		st.Partitions = make([]kmsg.FetchResponseTopicPartition, len(rt.Partitions))
		for pi := range rt.Partitions {
			rp := &rt.Partitions[pi]
			sp := &st.Partitions[pi]
			*sp = kmsg.NewFetchResponseTopicPartition()
			sp.RecordBatches = []byte{}
			sp.Partition = rp.Partition
			t := fetchTarget{req: rp, resp: sp}
			switch {
			case topicErr != nil:
				sp.ErrorCode = errorCode(topicErr)
			default:
				p, err := h.topics.Partition(name, rp.Partition)
				if err != nil {
					sp.ErrorCode = errorCode(err)
				} else if code := checkLeaderEpoch(p, rp.CurrentLeaderEpoch); code != 0 {
					sp.ErrorCode = code
				} else {
					t.p = p
				}
			}
			targets = append(targets, t)
		}
	}

	deadline := time.Now().Add(time.Duration(r.MaxWaitMillis) * time.Millisecond)
	var waited time.Duration
	for {
		// Take the wake-up channels before reading, so an append that lands
		// between the read and the wait still wakes us.
		var wake []<-chan struct{}
		if r.MaxWaitMillis > 0 {
			for _, t := range targets {
				if t.p != nil {
					wake = append(wake, t.p.Log.Notify())
				}
			}
		}
		bytes, anyErr := h.readFetch(r, targets)
		if bytes >= int(r.MinBytes) || anyErr || r.MaxWaitMillis <= 0 || len(wake) == 0 {
			break
		}
		start := time.Now()
		woke := waitAny(ctx, wake, deadline)
		waited += time.Since(start)
		if !woke {
			break
		}
	}
	if h.metrics != nil {
		h.recordFetch(r, targets, waited)
	}
	return server.Respond(resp), nil
}

// recordFetch reports a fetch's answer and long-poll wait to the metrics.
func (h *Handler) recordFetch(r *kmsg.FetchRequest, targets []fetchTarget, waited time.Duration) {
	if r.MaxWaitMillis > 0 {
		h.metrics.FetchWait(waited)
	}
	for _, t := range targets {
		if t.p == nil || len(t.resp.RecordBatches) == 0 {
			continue
		}
		b := t.resp.RecordBatches
		h.metrics.Fetched(t.p.Topic.Name, t.p.Index, int64(len(b)), countRecords(b))
	}
}

// countRecords counts the records of the whole batches in b from their
// headers, without decoding them: control batches are left out, and a
// legacy message set (Fetch v0-v3) counts its outer messages (a
// compressed wrapper is one). A truncated tail is not counted.
func countRecords(b []byte) int64 {
	// Field offsets of a batch header; a legacy message has its size and
	// magic at the same places.
	const sizeAt, magicAt, attrsAt, numRecordsAt = 8, 16, 21, 57
	var n int64
	for len(b) > magicAt {
		size := int64(binary.BigEndian.Uint32(b[sizeAt:])) + batch.LengthOffset
		if size > int64(len(b)) || size <= magicAt {
			break
		}
		if b[magicAt] >= batch.Magic {
			if size < batch.HeaderSize {
				break
			}
			if binary.BigEndian.Uint16(b[attrsAt:])&batch.AttrControl == 0 {
				n += int64(binary.BigEndian.Uint32(b[numRecordsAt:]))
			}
		} else {
			n++
		}
		b = b[size:]
	}
	return n
}

// remoteReadTimeout bounds a fetch's read from object storage.
const remoteReadTimeout = 10 * time.Second

// readFetch fills every partition's answer and returns the bytes gathered
// and whether any partition carries an error (which ends a long poll).
func (h *Handler) readFetch(r *kmsg.FetchRequest, targets []fetchTarget) (int, bool) {
	remaining := int64(r.MaxBytes)
	if r.Version < 3 || remaining <= 0 {
		remaining = 1<<31 - 1
	}
	total := 0
	anyErr := false
	minOne := true // KIP-74: the first batch of the response comes whole
	for _, t := range targets {
		sp := t.resp
		if t.p == nil {
			anyErr = true
			continue
		}
		l := t.p.Log
		sp.ErrorCode = 0
		// Never null: librdkafka 2.0 reads a null record set as a
		// broken one ("invalid MessageSetSize -1").
		sp.RecordBatches = []byte{}
		limit := int64(t.req.PartitionMaxBytes)
		if limit > remaining {
			limit = remaining
		}
		var (
			res     plog.ReadResult
			aborted []plog.AbortedTxn
			err     error
		)
		committed := r.Version >= 4 && r.IsolationLevel == isolationReadCommitted
		if remote, ok := t.p.ReadsRemote(t.req.FetchOffset); ok {
			// Below the local log, in object storage (tiered storage):
			// a bounded wait, then an error the client retries.
			ctx, cancel := context.WithTimeout(context.Background(), remoteReadTimeout)
			res.Records, aborted, err = remote.Read(ctx, t.req.FetchOffset, int32(max(limit, 0)), minOne, committed)
			cancel()
			res.HighWatermark, res.LastStableOffset = l.HighWatermark(), l.LastStableOffset()
		} else if committed {
			// Only data below the last stable offset, with the aborted
			// transactions overlapping it: the client drops those.
			res, aborted, err = l.ReadCommitted(t.req.FetchOffset, int32(max(limit, 0)), minOne)
		} else {
			res, err = l.Read(t.req.FetchOffset, int32(max(limit, 0)), minOne)
		}
		// The earliest offset a client can read: the bucket's when tiered.
		res.LogStartOffset = t.p.LogStartOffset()
		sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = l.HighWatermark(), l.LastStableOffset(), res.LogStartOffset
		if committed {
			// Never null under read_committed, and never stale: rebuilt
			// on every read of a long poll.
			sp.AbortedTransactions = make([]kmsg.FetchResponseTopicPartitionAbortedTransaction, 0, len(aborted))
			for _, a := range aborted {
				at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
				at.ProducerID, at.FirstOffset = a.ProducerID, a.FirstOffset
				sp.AbortedTransactions = append(sp.AbortedTransactions, at)
			}
		}
		if err != nil {
			if !errors.Is(err, plog.ErrOffsetOutOfRange) {
				h.logger.Error("fetch read failed", "topic", t.p.Topic.Name, "partition", t.p.Index, "err", err)
			}
			sp.ErrorCode = errorCode(err)
			anyErr = true
			continue
		}
		sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = res.HighWatermark, res.LastStableOffset, res.LogStartOffset
		records := res.Records
		if r.Version < 4 && len(records) > 0 {
			// Fetch v0-v3 speak magic 0 (v0-v1) or 1 (v2-v3): down-convert,
			// dropping headers, as Kafka does.
			magic := int8(1)
			if r.Version < 2 {
				magic = 0
			}
			conv, err := batch.DownConvert(records, magic, t.req.FetchOffset)
			switch {
			case errors.Is(err, batch.ErrZstdDownConvert) && len(conv) == 0:
				sp.ErrorCode = kerr.UnsupportedCompressionType.Code
				anyErr = true
				continue
			case err != nil && !errors.Is(err, batch.ErrZstdDownConvert):
				h.logger.Error("down-converting for an old fetch failed", "topic", t.p.Topic.Name, "partition", t.p.Index, "err", err)
				sp.ErrorCode = kerr.UnknownServerError.Code
				anyErr = true
				continue
			}
			records = conv
		} else if r.Version < 10 && hasZstd(records) {
			sp.ErrorCode = kerr.UnsupportedCompressionType.Code
			anyErr = true
			continue
		}
		if len(records) > 0 {
			sp.RecordBatches = records
		}
		n := len(records)
		total += n
		remaining -= int64(n)
		if n > 0 {
			minOne = false
		}
	}
	return total, anyErr
}

// hasZstd reports whether any whole batch in b is zstd-compressed.
func hasZstd(b []byte) bool {
	for {
		h, err := batch.ParseHeader(b)
		if err != nil || h.Size() > int64(len(b)) {
			return false
		}
		if h.Codec() == compress.Zstd {
			return true
		}
		b = b[h.Size():]
	}
}

// checkLeaderEpoch fences a client whose idea of the leader epoch is off
// (KIP-320); -1 means the client does not know or care.
func checkLeaderEpoch(p *topics.Partition, current int32) int16 {
	if current < 0 {
		return 0
	}
	switch e := p.Log.LeaderEpoch(); {
	case current < e:
		return kerr.FencedLeaderEpoch.Code
	case current > e:
		return kerr.UnknownLeaderEpoch.Code
	}
	return 0
}

// waitAny blocks until one channel closes (true), or the deadline passes or
// ctx ends (false).
func waitAny(ctx context.Context, chans []<-chan struct{}, deadline time.Time) bool {
	d := time.Until(deadline)
	if d <= 0 {
		return false
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	if len(chans) == 1 {
		select {
		case <-chans[0]:
			return true
		case <-timer.C:
		case <-ctx.Done():
		}
		return false
	}
	woke := make(chan struct{}, 1)
	done := make(chan struct{})
	defer close(done)
	for _, ch := range chans {
		go func(ch <-chan struct{}) {
			select {
			case <-ch:
				select {
				case woke <- struct{}{}:
				default:
				}
			case <-done:
			}
		}(ch)
	}
	select {
	case <-woke:
		return true
	case <-timer.C:
	case <-ctx.Done():
	}
	return false
}
