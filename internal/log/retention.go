package log

import (
	"errors"
	"fmt"
	"time"
)

// Maintain does the periodic work of a log; the caller runs it every few
// seconds (or minutes):
//
//   - rolls the active segment when it is not empty and older than
//     segment.ms, so that it can expire;
//   - deletes the oldest closed segments (never the active one, never data
//     at or above the high watermark) whose largest timestamp is older than
//     retention.ms, then as many more as needed to bring the log under
//     retention.bytes, moving the log start offset forward;
//   - forgets idempotent producers idle for producer.id.expiration.ms;
//   - checkpoints the recovery point if it moved.
//
// Errors are logged, not returned: maintenance retries on its next run.
func (l *Log) Maintain(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.isClosed() {
		return
	}
	cfg := l.config()

	if s := l.active(); cfg.segmentMs() > 0 && s.size > 0 && now.Sub(s.rollBase).Milliseconds() >= cfg.segmentMs() {
		if err := l.roll(now); err != nil {
			l.logger.Error("time-based roll failed", "dir", l.dir, "err", err)
		}
	}

	// cleanup.policy=compact alone keeps every segment (Clean compacts
	// them); after a failed swap nothing is deleted until a restart.
	if !cfg.retentionApplies() || l.cleanerBroken {
		// no retention
	} else if n := l.deletableSegments(now, cfg); n > 0 {
		l.deleteOldest(n)
	}

	if n := l.producers.expire(now.UnixMilli(), cfg.ProducerIDExpirationMs); n > 0 {
		l.logger.Debug("expired idle producers", "dir", l.dir, "count", n)
	}
	l.checkpointRecoveryPoint()
}

// deletableSegments returns how many of the oldest segments retention
// allows deleting (mu held).
func (l *Log) deletableSegments(now time.Time, cfg Config) int {
	l.state.RLock()
	defer l.state.RUnlock()
	hw := l.hw.Load()
	closed := len(l.segs) - 1
	// A segment may go only if everything in it is below the high
	// watermark: its successor starts at or below it.
	limit := 0
	for limit < closed && l.segs[limit+1].base <= hw {
		limit++
	}
	if cfg.RemoteStorage {
		// Only segments the bucket holds may go from local disk.
		up := l.tieredUpTo.Load()
		for limit > 0 && l.segs[limit-1].next > up {
			limit--
		}
	}
	retentionMs, retentionBytes := cfg.localRetention()
	n := 0
	if retentionMs >= 0 {
		cutoff := now.UnixMilli() - retentionMs
		for n < limit && l.segmentTime(l.segs[n]) < cutoff {
			n++
		}
	}
	if retentionBytes >= 0 {
		excess := l.size.Load() - retentionBytes
		for _, s := range l.segs[:n] {
			excess -= s.size
		}
		for n < limit && excess >= l.segs[n].size && excess > 0 {
			excess -= l.segs[n].size
			n++
		}
	}
	return n
}

// segmentTime is the largest timestamp in a segment, or its file's
// modification time when it holds no timestamps (as Kafka).
func (l *Log) segmentTime(s *segment) int64 {
	if s.maxTS >= 0 {
		return s.maxTS
	}
	if st, err := s.log.Stat(); err == nil {
		return st.ModTime().UnixMilli()
	}
	return l.nowMs()
}

// deleteOldest removes the n oldest segments and moves the log start offset
// to the next one's base (mu held).
func (l *Log) deleteOldest(n int) {
	l.state.Lock()
	gone := append([]*segment(nil), l.segs[:n]...)
	l.segs = append([]*segment(nil), l.segs[n:]...)
	newStart := max(l.logStart.Load(), l.segs[0].base)
	l.logStart.Store(newStart)
	var freed int64
	for _, s := range gone {
		freed += s.size
	}
	l.size.Add(-freed)
	epochChanged := l.epochs.truncateFromStart(newStart)
	lines := l.epochs.lines()
	l.state.Unlock()

	// Make the new start durable before the files go, so that a crash in
	// between cannot resurrect a shorter log start.
	if err := writeOffsetCheckpoint(l.dir, logStartFile, newStart, true); err != nil {
		l.logger.Warn("cannot write log start checkpoint", "dir", l.dir, "err", err)
	}
	if epochChanged {
		l.writeEpochCheckpoint(lines)
	}
	// The flusher syncs only the active segment, but it may still hold one
	// that was active when its round began.
	l.flushMu.Lock()
	for _, s := range gone {
		if err := errors.Join(s.close(), s.remove(l.dir)); err != nil {
			l.logger.Warn("cannot delete segment", "dir", l.dir, "base", s.base, "err", err)
		}
		l.logger.Info("deleted segment", "dir", l.dir, "base", s.base, "size", s.size)
	}
	l.flushMu.Unlock()
	if err := syncDir(l.dir); err != nil {
		l.logger.Warn("cannot sync directory", "dir", l.dir, "err", err)
	}
}

// DeleteRecordsBefore moves the log start offset forward to offset, as
// Kafka's DeleteRecords does: records below it can no longer be read (a
// fetch there is out of range), whole segments below it are deleted, and the
// new start is checkpointed before any file goes. offset -1 means the high
// watermark; beyond the high watermark is ErrOffsetOutOfRange. It returns
// the log start offset after the call (the "low watermark").
func (l *Log) DeleteRecordsBefore(offset int64) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.isClosed() {
		return -1, ErrClosed
	}
	hw := l.hw.Load()
	if offset == -1 {
		offset = hw
	}
	if offset < 0 || offset > hw {
		return l.logStart.Load(), fmt.Errorf("%w: %d is beyond the high watermark %d", ErrOffsetOutOfRange, offset, hw)
	}
	if offset <= l.logStart.Load() {
		return l.logStart.Load(), nil
	}
	l.state.Lock()
	l.logStart.Store(offset)
	n := 0
	for n < len(l.segs)-1 && l.segs[n+1].base <= offset {
		n++
	}
	l.state.Unlock()
	if n > 0 {
		l.deleteOldest(n) // checkpoints the start and trims leader epochs too
		return offset, nil
	}
	l.state.Lock()
	epochChanged := l.epochs.truncateFromStart(offset)
	lines := l.epochs.lines()
	l.state.Unlock()
	if err := writeOffsetCheckpoint(l.dir, logStartFile, offset, true); err != nil {
		return offset, fmt.Errorf("%w: checkpoint log start: %v", ErrStorage, err)
	}
	if epochChanged {
		l.writeEpochCheckpoint(lines)
	}
	return offset, nil
}
