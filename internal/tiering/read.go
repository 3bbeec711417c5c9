package tiering

import (
	"context"
	"fmt"

	"github.com/chronik-streaming/chronik/internal/batch"
	plog "github.com/chronik-streaming/chronik/internal/log"
	"github.com/chronik-streaming/chronik/internal/tier"
	"github.com/chronik-streaming/chronik/internal/topics"
)

// StartOffset implements topics.RemoteLog. Until the manifest is loaded
// it is 0: anything below the local log may be remote, and a read there
// answers a retriable error rather than "out of range" (which would send
// consumers past data they have not read).
func (rp *remotePartition) StartOffset() int64 {
	m := rp.manifest.Load()
	if m == nil {
		return 0
	}
	if len(m.Segments) == 0 {
		return -1
	}
	return max(m.LogStartOffset, m.Segments[0].BaseOffset)
}

// EndOffset implements topics.RemoteLog.
func (rp *remotePartition) EndOffset() int64 {
	m := rp.manifest.Load()
	if m == nil || len(m.Segments) == 0 {
		return -1
	}
	return manifestEnd(m)
}

// segmentFor returns the index of the remote segment holding offset, or of
// the first one after it (a gap), or -1.
func segmentFor(m *tier.Manifest, offset int64) int {
	for i, s := range m.Segments {
		if s.NextOffset > offset {
			return i
		}
	}
	return -1
}

// Read implements topics.RemoteLog: it downloads the segment holding offset
// (or takes it from the cache), checks it, and reads from it; a sequential
// reader near the end of a segment has the next one fetched ahead.
func (rp *remotePartition) Read(ctx context.Context, offset int64, maxBytes int32, minOne, committed bool) ([]byte, []plog.AbortedTxn, error) {
	m := rp.manifest.Load()
	if m == nil {
		return nil, nil, fmt.Errorf("%w: the partition's manifest is not loaded yet", topics.ErrRemoteUnavailable)
	}
	i := segmentFor(m, offset)
	if i < 0 || offset < rp.StartOffset() {
		return nil, nil, plog.ErrOffsetOutOfRange
	}
	seg := m.Segments[i]
	rp.m.stats.RemoteReads.Add(1)
	cached, err := rp.m.store.Fetch(ctx, rp.topicID, rp.index, seg)
	if err != nil {
		rp.m.stats.RemoteReadErrors.Add(1)
		rp.logger.Warn("remote read failed", "offset", offset, "segment", seg.BaseOffset, "err", err)
		return nil, nil, fmt.Errorf("%w: segment %d: %v", topics.ErrRemoteUnavailable, seg.BaseOffset, err)
	}
	defer cached.Release()
	r, err := plog.OpenSegmentReader(seg.BaseOffset, seg.NextOffset, cached.Paths[tier.KindLog], cached.Paths[tier.KindIndex], "")
	if err != nil {
		rp.m.stats.RemoteReadErrors.Add(1)
		return nil, nil, fmt.Errorf("%w: segment %d: %v", topics.ErrRemoteUnavailable, seg.BaseOffset, err)
	}
	defer r.Close()
	records, err := r.Read(max(offset, seg.BaseOffset), maxBytes, minOne)
	if err != nil {
		rp.m.stats.RemoteReadErrors.Add(1)
		return nil, nil, fmt.Errorf("%w: segment %d: %v", topics.ErrRemoteUnavailable, seg.BaseOffset, err)
	}
	rp.m.stats.RemoteReadBytes.Add(int64(len(records)))

	// Read-ahead: a consumer that reached this segment's end moves on to
	// the next one.
	upper := lastNext(records)
	if i+1 < len(m.Segments) && (upper >= seg.NextOffset || len(records) == 0 || upper-seg.BaseOffset > (seg.NextOffset-seg.BaseOffset)/2) {
		rp.m.store.Prefetch(rp.topicID, rp.index, m.Segments[i+1])
	}
	var aborted []plog.AbortedTxn
	if committed && upper > offset {
		// Markers of transactions with data here may be in this or a
		// later segment, remote or local.
		for _, s := range m.Segments[i:] {
			for _, a := range s.Aborted {
				if a.LastOffset >= offset && a.FirstOffset < upper {
					aborted = append(aborted, plog.AbortedTxn{ProducerID: a.ProducerID, FirstOffset: a.FirstOffset, LastOffset: a.LastOffset})
				}
			}
		}
		aborted = append(aborted, rp.p.Log.AbortedTransactions(offset, upper)...)
	}
	return records, aborted, nil
}

// lastNext returns the offset after the last whole batch in b.
func lastNext(b []byte) int64 {
	next := int64(-1)
	it := batch.NewIterator(b)
	for it.Next() {
		next = it.Header().NextOffset()
	}
	return next
}

// OffsetForTimestamp implements topics.RemoteLog.
func (rp *remotePartition) OffsetForTimestamp(ctx context.Context, ts int64) (int64, int64, bool, error) {
	m := rp.manifest.Load()
	if m == nil {
		return -1, -1, false, nil
	}
	start := rp.StartOffset()
	for _, seg := range m.Segments {
		if seg.NextOffset <= start || seg.MaxTimestamp < ts {
			continue
		}
		cached, err := rp.m.store.Fetch(ctx, rp.topicID, rp.index, seg)
		if err != nil {
			return -1, -1, false, fmt.Errorf("%w: segment %d: %v", topics.ErrRemoteUnavailable, seg.BaseOffset, err)
		}
		r, err := plog.OpenSegmentReader(seg.BaseOffset, seg.NextOffset, cached.Paths[tier.KindLog], cached.Paths[tier.KindIndex], "")
		if err != nil {
			cached.Release()
			return -1, -1, false, fmt.Errorf("%w: segment %d: %v", topics.ErrRemoteUnavailable, seg.BaseOffset, err)
		}
		off, t, found, err := r.OffsetForTimestamp(ts)
		r.Close()
		cached.Release()
		if err != nil || found {
			return off, t, found, err
		}
	}
	return -1, -1, false, nil
}
