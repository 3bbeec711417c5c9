package log

import (
	"github.com/chronik-streaming/chronik/internal/batch"
)

// OffsetForTimestamp returns the offset and timestamp of the first record
// (in offset order) whose timestamp is >= ts, among the records below the
// high watermark, as Kafka's ListOffsets does: the first segment whose max
// timestamp reaches ts is searched from its time index, batch headers are
// scanned to the first batch whose max timestamp reaches ts, and that
// batch's records are decoded to pick the exact record. found is false when
// no record qualifies (ListOffsets then answers offset -1).
func (l *Log) OffsetForTimestamp(ts int64) (offset int64, timestamp int64, found bool, err error) {
	l.state.RLock()
	defer l.state.RUnlock()
	if l.isClosed() {
		return -1, -1, false, ErrClosed
	}
	for i := l.segmentIndexLocked(l.logStart.Load()); i < len(l.segs); i++ {
		s := l.segs[i]
		limit := l.readLimitLocked(s)
		if limit <= 0 {
			if s.size == 0 && s.base < l.hwSeg.base {
				continue // a closed segment left empty by the cleaner
			}
			break
		}
		if s.maxTS < ts {
			continue
		}
		start := int64(0)
		if rel, ok := s.timeIndex.lookupBefore(ts); ok {
			pos, ok, err := s.find(s.base+int64(rel), limit)
			if err != nil {
				return -1, -1, false, l.readError(s, err)
			}
			if ok {
				start = pos
			}
		}
		var hit *batch.Header
		var hitPos int64
		next := start
		for {
			hit = nil
			_, err := s.walk(next, limit, func(pos int64, h batch.Header) bool {
				if h.MaxTimestamp >= ts && h.NextOffset() > l.logStart.Load() {
					hit, hitPos = &h, pos
					return true
				}
				return false
			})
			if err != nil {
				return -1, -1, false, l.readError(s, err)
			}
			if hit == nil {
				break
			}
			off, rts, ok, err := l.recordAtOrAfter(s, hitPos, *hit, func(_ int64, t int64) bool { return t >= ts })
			if err != nil {
				return -1, -1, false, err
			}
			if ok {
				return off, rts, true, nil
			}
			next = hitPos + hit.Size() // the header's max timestamp overstated its records
		}
	}
	return -1, -1, false, nil
}

// recordAtOrAfter decodes the batch at pos and returns the first record at
// or after the log start offset that match accepts.
func (l *Log) recordAtOrAfter(s *segment, pos int64, h batch.Header, match func(off, ts int64) bool) (int64, int64, bool, error) {
	b, err := s.readBatchAt(pos, h)
	if err != nil {
		return 0, 0, false, l.readError(s, err)
	}
	recs, err := batch.Records(b)
	if err != nil {
		// Appends do not decompress, so a producer can store records that
		// do not decode. Answer with the batch itself rather than failing
		// every lookup that reaches it.
		l.logger.Warn("cannot decode batch records, using the batch header", "file", s.log.Name(), "offset", h.BaseOffset, "err", err)
		off := max(h.BaseOffset, l.logStart.Load())
		if match(off, h.MaxTimestamp) {
			return off, h.MaxTimestamp, true, nil
		}
		return 0, 0, false, nil
	}
	start := l.logStart.Load()
	for i := range recs {
		off := h.BaseOffset + int64(recs[i].OffsetDelta)
		ts := h.Timestamp(&recs[i])
		if off >= start && match(off, ts) {
			return off, ts, true, nil
		}
	}
	return 0, 0, false, nil
}

// MaxTimestamp returns the offset and timestamp of the record with the
// largest timestamp in the log (the first one on ties), for ListOffsets -3
// (KIP-734); (-1, -1) when the log holds no timestamped record. It uses each
// segment's max timestamp, so under FsyncAlways it may name a record
// written but not yet below the high watermark.
func (l *Log) MaxTimestamp() (offset int64, timestamp int64) {
	l.state.RLock()
	defer l.state.RUnlock()
	if l.isClosed() {
		return -1, -1
	}
	var best *segment
	for _, s := range l.segs {
		if s.maxTS >= 0 && (best == nil || s.maxTS > best.maxTS) {
			best = s
		}
	}
	if best == nil {
		return -1, -1
	}
	pos, ok, err := best.find(best.maxTSOffset, best.size)
	if err != nil || !ok {
		return best.maxTSOffset, best.maxTS
	}
	var h batch.Header
	if _, err := best.walk(pos, best.size, func(_ int64, hh batch.Header) bool { h = hh; return true }); err != nil {
		return best.maxTSOffset, best.maxTS
	}
	off, ts, ok, err := l.recordAtOrAfter(best, pos, h, func(_ int64, t int64) bool { return t == best.maxTS })
	if err != nil || !ok {
		return best.maxTSOffset, best.maxTS
	}
	return off, ts
}
