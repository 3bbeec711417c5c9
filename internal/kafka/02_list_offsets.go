package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/server"
	"github.com/chronik-streaming/chronik/internal/topics"
)

// Special timestamps of ListOffsets and the versions that introduced them.
const (
	tsLatest          = -1
	tsEarliest        = -2
	tsMaxTimestamp    = -3 // v7, KIP-734
	tsEarliestLocal   = -4 // v8, KIP-405
	tsLatestTiered    = -5 // v9, KIP-1005
	tsEarliestPending = -6 // v11, KIP-1023
)

func handleListOffsets(h *Handler, _ context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.ListOffsetsRequest)
	resp := r.ResponseKind().(*kmsg.ListOffsetsResponse)
	for _, rt := range r.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			p, err := h.topics.Partition(rt.Topic, rp.Partition)
			if err != nil {
				sp.ErrorCode = errorCode(err)
			} else if code := checkLeaderEpoch(p, rp.CurrentLeaderEpoch); code != 0 {
				sp.ErrorCode = code
			} else {
				h.listOffset(r, &rp, p, &sp)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return server.Respond(resp), nil
}

func (h *Handler) listOffset(r *kmsg.ListOffsetsRequest, rp *kmsg.ListOffsetsRequestTopicPartition, p *topics.Partition, sp *kmsg.ListOffsetsResponseTopicPartition) {
	l := p.Log
	offset, ts := int64(-1), int64(-1)
	epoch := l.LeaderEpoch()
	switch rp.Timestamp {
	case tsLatest:
		offset = l.HighWatermark()
		if r.IsolationLevel == isolationReadCommitted {
			offset = l.LastStableOffset()
		}
	case tsEarliest:
		offset = p.LogStartOffset() // the bucket's, when tiered
	case tsEarliestLocal:
		offset = l.LogStartOffset()
	case tsMaxTimestamp:
		offset, ts = l.MaxTimestamp()
	case tsLatestTiered:
		// KIP-1005: the highest offset in object storage, -1 for none.
		offset, epoch = -1, -1
		if remote := p.Remote(); remote != nil && remote.EndOffset() > 0 {
			offset = remote.EndOffset() - 1
		}
	case tsEarliestPending:
		// Nothing is pending: a segment is uploaded whole once closed.
		offset, epoch = -1, -1
	default:
		if rp.Timestamp < 0 {
			sp.ErrorCode = kerr.InvalidRequest.Code
			return
		}
		found := false
		if remote := p.Remote(); remote != nil && remote.StartOffset() >= 0 && remote.StartOffset() < l.LogStartOffset() {
			ctx, cancel := context.WithTimeout(context.Background(), remoteReadTimeout)
			o, t, ok, err := remote.OffsetForTimestamp(ctx, rp.Timestamp)
			cancel()
			if err != nil {
				sp.ErrorCode = errorCode(err)
				return
			}
			if ok {
				offset, ts, found = o, t, true
			}
		}
		if !found {
			o, t, ok, err := l.OffsetForTimestamp(rp.Timestamp)
			if err != nil {
				sp.ErrorCode = errorCode(err)
				return
			}
			if ok {
				offset, ts = o, t
			}
		}
		// Found records must be visible: never past the high watermark.
		if offset >= l.HighWatermark() {
			offset, ts = -1, -1
		}
	}
	if offset < 0 {
		epoch = -1
	}
	if r.Version == 0 {
		sp.OldStyleOffsets = []int64{}
		if offset >= 0 && rp.MaxNumOffsets > 0 {
			sp.OldStyleOffsets = append(sp.OldStyleOffsets, offset)
		}
		return
	}
	sp.Offset, sp.Timestamp, sp.LeaderEpoch = offset, ts, epoch
}
