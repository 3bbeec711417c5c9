package log

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/chronik-streaming/chronik/internal/batch"
)

// Recovery.
//
// Open lists the segments, then:
//
//   - If the clean-shutdown marker exists and matches the files (log end
//     offset, active segment base and size), every segment is trusted: its
//     indexes are loaded (rebuilt from batch headers if they fail a sanity
//     check) and only the batches after the last offset index entry are
//     walked, to find the segment's end offset.
//   - Otherwise segments below the one holding the recovery point (the
//     offset below which everything was fsynced) are trusted the same way,
//     and every batch of that segment and those after it is checked: length,
//     magic, CRC-32C, record count and increasing offsets. The first torn or
//     corrupt batch is truncated away with everything after it (logged at
//     WARN with the file and position), and the indexes of the scanned
//     segments are rewritten. Segments after the truncation point are
//     deleted.
//
// Then the log start offset, the leader epoch cache and the producer state
// (newest snapshot plus the batch headers after it) are restored, the
// recovered data fsynced, the recovery point checkpointed, and the marker
// removed: from here on a crash means recovery at the next Open.

// errCorrupt marks a scan that stopped at bad data (as opposed to an I/O
// error).
type errCorrupt struct {
	pos int64
	err error
}

func (e *errCorrupt) Error() string { return fmt.Sprintf("at position %d: %v", e.pos, e.err) }
func (e *errCorrupt) Unwrap() error { return e.err }

func (l *Log) load() error {
	swapFrom, err := l.completeSwaps()
	if err != nil {
		return err
	}
	bases, err := l.listDir()
	if err != nil {
		return err
	}
	cfg := l.config()
	now := l.now()

	logStartCkpt, err := readOffsetCheckpoint(l.dir, logStartFile)
	if err != nil && !errors.Is(err, errNoCheckpoint) {
		l.logger.Warn("ignoring log start checkpoint", "dir", l.dir, "err", err)
	}
	recoveryPoint, err := readOffsetCheckpoint(l.dir, recoveryPointFile)
	if err != nil {
		if !errors.Is(err, errNoCheckpoint) {
			l.logger.Warn("ignoring recovery point checkpoint", "dir", l.dir, "err", err)
		}
		recoveryPoint = 0
	}
	marker, markerErr := readCheckpoint(l.dir, cleanShutdownFile)
	var markerVals []int64
	if markerErr == nil && len(marker) == 1 {
		markerVals, _ = parseInts(marker[0], 3)
	}
	clean := markerVals != nil
	if swapFrom >= 0 {
		// A completed swap: recover from the swapped-in segment on.
		clean, markerVals = false, nil
		recoveryPoint = min(recoveryPoint, swapFrom)
	}

	if len(bases) == 0 {
		s, err := openSegment(l.dir, logStartCkpt, true)
		if err != nil {
			return err
		}
		s.rollBase = now
		l.segs = []*segment{s}
		clean = true
		markerVals = nil
	} else {
		for _, b := range bases {
			s, err := openSegment(l.dir, b, false)
			if err != nil {
				return err
			}
			l.segs = append(l.segs, s)
		}
	}

	// Trusted segments.
	start := len(l.segs)
	if !clean {
		start = l.segmentIndexLocked(recoveryPoint)
	}
	for i := 0; i < start; i++ {
		s := l.segs[i]
		ok, err := l.loadTrusted(s, int64(cfg.IndexIntervalBytes))
		if err != nil {
			return err
		}
		if ok {
			if err := s.txn.load(s.base, s.next); errors.Is(err, errBadTxnIndex) {
				l.logger.Warn("recovering segment with a bad transaction index", "file", s.log.Name(), "err", err)
				ok = false
			} else if err != nil {
				return err
			}
		}
		if !ok {
			start = i
			break
		}
	}
	if start == len(l.segs) && markerVals != nil {
		last := l.active()
		if markerVals[0] != last.next || markerVals[1] != last.base || markerVals[2] != last.size {
			l.logger.Warn("clean shutdown marker does not match the log, recovering", "dir", l.dir,
				"marker", marker[0], "end", last.next, "base", last.base, "size", last.size)
			start = min(start-1, l.segmentIndexLocked(recoveryPoint))
		}
	}
	recovered := start < len(l.segs)
	rebuildFrom := int64(math.MaxInt64) // transaction indexes are rebuilt from here
	if recovered {
		rebuildFrom = l.segs[start].base
		l.logger.Info("recovering log", "dir", l.dir, "from_segment", l.segs[start].base, "recovery_point", recoveryPoint)
		if err := l.recoverFrom(start, int64(cfg.IndexIntervalBytes)); err != nil {
			return err
		}
	}

	// Offsets.
	last := l.active()
	leo := last.next
	var total int64
	for _, s := range l.segs {
		total += s.size
	}
	logStart := max(logStartCkpt, l.segs[0].base)
	if logStart > leo {
		logStart = leo
	}
	l.leo.Store(leo)
	l.size.Store(total)
	l.logStart.Store(logStart)
	if last.size > 0 {
		if err := l.setRollBase(last, now); err != nil {
			return err
		}
	} else {
		last.rollBase = now
	}

	if err := l.loadEpochs(logStart, leo); err != nil {
		return err
	}
	if err := l.loadProducers(logStart, leo, now, rebuildFrom); err != nil {
		return err
	}
	l.ongoingTxns = l.producers.ongoing()

	if recovered {
		for _, s := range l.segs[start:] {
			if err := s.txn.rewrite(); err != nil {
				return err
			}
			if err := s.syncAll(); err != nil {
				return err
			}
			l.fsyncs.Add(1)
		}
	}
	for _, s := range l.segs[:len(l.segs)-1] {
		s.releaseIndexes()
	}
	l.syncedOffset.Store(leo)
	l.hwSeg, l.hwPos = last, last.size
	l.hw.Store(leo)
	if recoveryPoint != leo || recovered {
		if err := writeOffsetCheckpoint(l.dir, recoveryPointFile, leo, false); err != nil {
			return err
		}
	}
	l.recoveryCkpt = leo
	if markerErr == nil || !errors.Is(markerErr, errNoCheckpoint) {
		if err := os.Remove(filepath.Join(l.dir, cleanShutdownFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return syncDir(l.dir)
}

// listDir returns the base offsets of the segments in the directory,
// ascending, after removing leftover temporary files and indexes without a
// .log file.
func (l *Log) listDir() ([]int64, error) {
	ents, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, err
	}
	logs := map[int64]bool{}
	var bases []int64
	for _, de := range ents {
		if b, ok := parseBaseOffset(de.Name(), logSuffix); ok && de.Type().IsRegular() {
			logs[b] = true
			bases = append(bases, b)
		}
	}
	for _, de := range ents {
		name := de.Name()
		orphan := false
		for _, suf := range []string{indexSuffix, timeIndexSuffix, txnIndexSuffix} {
			if b, ok := parseBaseOffset(name, suf); ok && !logs[b] {
				orphan = true
			}
		}
		if orphan || strings.HasSuffix(name, tmpSuffix) {
			if err := os.Remove(filepath.Join(l.dir, name)); err != nil {
				return nil, err
			}
		}
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	return bases, nil
}

// loadTrusted loads a segment without checking CRCs: its indexes if sane,
// and the headers after the last index entry. It reports false when the
// segment is not what its indexes and headers say (the caller then recovers
// from it).
func (l *Log) loadTrusted(s *segment, interval int64) (bool, error) {
	size, err := s.fileSize()
	if err != nil {
		return false, err
	}
	if err := s.index.sane(size, math.MaxInt32+1); err != nil {
		l.logger.Warn("rebuilding offset index", "file", s.log.Name(), "reason", err)
		return l.rebuildTrusted(s, size, interval)
	}
	from := int64(0)
	if e, ok := s.index.last(); ok {
		from = int64(e.pos)
	}
	var lastH *batch.Header
	end, err := s.walk(from, size, func(_ int64, h batch.Header) bool {
		lastH = &h
		return false
	})
	if err != nil || end != size {
		if isIOError(err) {
			return false, err
		}
		l.logger.Warn("segment does not end on a batch boundary", "file", s.log.Name(), "position", end, "err", err)
		return false, nil
	}
	s.size = size
	s.next = s.base
	if lastH != nil {
		s.next = lastH.NextOffset()
	}
	if err := s.index.sane(size, s.next-s.base); err != nil {
		l.logger.Warn("rebuilding offset index", "file", s.log.Name(), "reason", err)
		return l.rebuildTrusted(s, size, interval)
	}
	if err := s.timeIndex.sane(s.next - s.base); err != nil {
		l.logger.Warn("rebuilding time index", "file", s.log.Name(), "reason", err)
		return l.rebuildTrusted(s, size, interval)
	}
	if e, ok := s.timeIndex.last(); ok {
		s.maxTS, s.maxTSOffset = e.ts, s.base+int64(e.rel)
	}
	s.bytesSinceIndex = size - from
	return true, nil
}

// rebuildTrusted rebuilds a trusted segment's indexes from its batch
// headers (no CRC check); false if the headers are inconsistent.
func (l *Log) rebuildTrusted(s *segment, size, interval int64) (bool, error) {
	s.resetState()
	_, err := s.walk(0, size, func(pos int64, h batch.Header) bool {
		s.commit(s.plan(pos, h.Size(), h.LastOffset(), h.MaxTimestamp, interval))
		return false
	})
	if err != nil || s.size != size {
		if isIOError(err) {
			return false, err
		}
		return false, nil
	}
	return true, s.writeIndexes()
}

func isIOError(err error) bool {
	if err == nil || errors.Is(err, errPartial) {
		return false
	}
	var ce *errCorrupt
	if errors.As(err, &ce) {
		return false
	}
	for _, e := range []error{batch.ErrTruncated, batch.ErrBadMagic, batch.ErrBadLength, batch.ErrBadCRC, batch.ErrBadCount} {
		if errors.Is(err, e) {
			return false
		}
	}
	return !errors.Is(err, io.ErrUnexpectedEOF)
}

func (s *segment) resetState() {
	s.size, s.next, s.bytesSinceIndex = 0, s.base, 0
	s.maxTS, s.maxTSOffset = batch.NoTimestamp, -1
	s.index.entries = nil
	s.timeIndex.entries = nil
	s.txn.entries = nil
}

// writeIndexes rewrites both index files from memory, with the final time
// index entry.
func (s *segment) writeIndexes() error {
	if te := s.finalTimeEntry(); te != nil {
		s.timeIndex.entries = append(s.timeIndex.entries, *te)
	}
	return errors.Join(s.index.rewrite(s.index.entries), s.timeIndex.rewrite(s.timeIndex.entries))
}

// recoverFrom checks every batch of segments[start:], truncating at the
// first bad one and deleting the segments after it.
func (l *Log) recoverFrom(start int, interval int64) error {
	expect := l.segs[start].base
	if start > 0 {
		expect = max(expect, l.segs[start-1].next)
	}
	for i := start; i < len(l.segs); i++ {
		s := l.segs[i]
		cerr, err := l.recoverSegment(s, expect, interval)
		if err != nil {
			return err
		}
		if cerr != nil {
			l.logger.Warn("truncating corrupt or torn log tail", "file", s.log.Name(),
				"position", cerr.pos, "offset", s.next, "reason", cerr.err)
			if err := s.log.Truncate(cerr.pos); err != nil {
				return err
			}
			if err := l.dropSegments(i + 1); err != nil {
				return err
			}
		}
		if err := s.writeIndexes(); err != nil {
			return err
		}
		expect = s.next
	}
	// An empty last segment that does not continue the previous one is
	// left over from the truncation.
	for n := len(l.segs); n > 1 && l.segs[n-1].size == 0 && l.segs[n-1].base != l.segs[n-2].next; n = len(l.segs) {
		if err := l.dropSegments(n - 1); err != nil {
			return err
		}
	}
	return nil
}

// dropSegments closes and deletes segments[from:].
func (l *Log) dropSegments(from int) error {
	for _, s := range l.segs[from:] {
		l.logger.Warn("deleting segment after truncation point", "file", s.log.Name())
		if err := errors.Join(s.close(), s.remove(l.dir)); err != nil {
			return err
		}
	}
	l.segs = l.segs[:from]
	return nil
}

const recoverChunk = 1 << 20

// recoverSegment rebuilds a segment's state from its file, checking every
// batch. It returns an errCorrupt (with the position to truncate at) when it
// stops at bad data, or an error for I/O failures.
func (l *Log) recoverSegment(s *segment, expect, interval int64) (*errCorrupt, error) {
	size, err := s.fileSize()
	if err != nil {
		return nil, err
	}
	s.resetState()
	buf := make([]byte, recoverChunk)
	var bStart, bEnd int64
	pos := int64(0)
	for pos < size {
		if size-pos < batch.HeaderSize {
			return &errCorrupt{pos, fmt.Errorf("%d trailing bytes, less than a batch header", size-pos)}, nil
		}
		if pos < bStart || pos+batch.HeaderSize > bEnd {
			n := min(int64(len(buf)), size-pos)
			m, err := s.log.ReadAt(buf[:n], pos)
			if int64(m) != n {
				return nil, fmt.Errorf("read %s at %d: %w", s.log.Name(), pos, errors.Join(err, io.ErrUnexpectedEOF))
			}
			bStart, bEnd = pos, pos+n
		}
		h, err := batch.ParseHeader(buf[pos-bStart : bEnd-bStart])
		if err != nil {
			return &errCorrupt{pos, err}, nil
		}
		bsize := h.Size()
		if pos+bsize > size {
			return &errCorrupt{pos, fmt.Errorf("torn batch: %d bytes declared, %d present", bsize, size-pos)}, nil
		}
		var b []byte
		if pos+bsize <= bEnd {
			b = buf[pos-bStart : pos-bStart+bsize]
		} else {
			b = make([]byte, bsize)
			if _, err := s.log.ReadAt(b, pos); err != nil {
				return nil, fmt.Errorf("read %s at %d: %w", s.log.Name(), pos, err)
			}
		}
		if _, err := validateStored(b); err != nil {
			return &errCorrupt{pos, err}, nil
		}
		if h.BaseOffset < expect {
			return &errCorrupt{pos, fmt.Errorf("base offset %d below expected %d", h.BaseOffset, expect)}, nil
		}
		if h.LastOffset()-s.base > math.MaxInt32 || pos > math.MaxInt32 {
			return &errCorrupt{pos, fmt.Errorf("offset %d or position %d out of the segment's range", h.LastOffset(), pos)}, nil
		}
		s.commit(s.plan(pos, bsize, h.LastOffset(), h.MaxTimestamp, interval))
		l.epochs.assignIfNewer(h.PartitionLeaderEpoch, h.BaseOffset)
		expect = h.NextOffset()
		pos += bsize
	}
	return nil, nil
}

// setRollBase sets the active segment's age origin for segment.ms: the max
// timestamp of its first batch (as Kafka), unless that is unset or in the
// future, then now.
func (l *Log) setRollBase(s *segment, now time.Time) error {
	s.rollBase = now
	var first *batch.Header
	_, err := s.walk(0, s.size, func(_ int64, h batch.Header) bool { first = &h; return true })
	if err != nil {
		return err
	}
	if first != nil && first.MaxTimestamp >= 0 && first.MaxTimestamp <= now.UnixMilli() {
		s.rollBase = time.UnixMilli(first.MaxTimestamp)
	}
	return nil
}

// loadEpochs restores the leader epoch cache: the checkpoint merged with
// epochs seen while recovering, cut to [logStart, leo].
func (l *Log) loadEpochs(logStart, leo int64) error {
	recovered := l.epochs.entries
	lines, err := readCheckpoint(l.dir, leaderEpochFile)
	var fromFile []epochEntry
	if err == nil {
		fromFile, err = parseEpochLines(lines)
	}
	if err != nil && !errors.Is(err, errNoCheckpoint) {
		l.logger.Warn("ignoring leader epoch checkpoint", "dir", l.dir, "err", err)
	}
	l.epochs.entries = fromFile
	for _, e := range recovered {
		l.epochs.assignIfNewer(e.epoch, e.start)
	}
	l.epochs.truncateFromEnd(leo)
	l.epochs.truncateFromStart(logStart)
	if last, ok := l.epochs.latest(); ok {
		l.epoch.Store(last.epoch)
	}
	if fmt.Sprint(fromFile) != fmt.Sprint(l.epochs.entries) {
		return writeCheckpoint(l.dir, leaderEpochFile, l.epochs.lines(), false)
	}
	return nil
}

// loadProducers restores idempotent producer state from the newest valid
// snapshot at or below leo, then replays the headers of the batches after
// it (and the markers of control batches). Replayed producers count as seen
// now (for expiry). The transaction indexes of the segments from
// rebuildFrom on (the recovered ones, whose entries were reset) are rebuilt
// from the ABORT markers found there; the snapshot is then taken at or below
// rebuildFrom, so that the transactions ongoing there are known.
func (l *Log) loadProducers(logStart, leo int64, now time.Time, rebuildFrom int64) error {
	offs, err := listSnapshots(l.dir)
	if err != nil {
		return err
	}
	from := logStart
	for i := len(offs) - 1; i >= 0; i-- {
		path := filepath.Join(l.dir, snapshotName(offs[i]))
		if offs[i] > leo {
			os.Remove(path)
			continue
		}
		if offs[i] > rebuildFrom {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		off, ps, err := decodeProducerSnapshot(data)
		if err == nil && off != offs[i] {
			err = fmt.Errorf("%w: offset %d in a file named %d", errBadSnapshot, off, offs[i])
		}
		if err != nil {
			l.logger.Warn("ignoring producer snapshot", "file", path, "err", err)
			os.Remove(path)
			continue
		}
		l.producers = ps
		from = max(off, logStart)
		break
	}
	if from >= leo {
		return nil
	}
	nowMs := now.UnixMilli()
	for i := l.segmentIndexLocked(from); i < len(l.segs); i++ {
		s := l.segs[i]
		pos, ok, err := s.find(from, s.size)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		var ferr error
		if _, err := s.walk(pos, s.size, func(pos int64, h batch.Header) bool {
			if h.BaseOffset < from || !h.HasProducerID() {
				return false
			}
			var m *endMarker
			if h.IsControl() {
				b, err := s.readBatchAt(pos, h)
				if err != nil {
					ferr = err
					return true
				}
				if em, ok := parseEndMarker(b); ok {
					m = &em
				}
			}
			done := l.producers.apply(h, h.BaseOffset, h.LastOffset(), h.MaxTimestamp, nowMs, m)
			if done != nil && done.aborted && h.BaseOffset >= rebuildFrom {
				lso := l.producers.nextIncompleteTxn(h.ProducerID)
				if lso < 0 {
					lso = done.lastOffset + 1
				}
				s.txn.entries = append(s.txn.entries, AbortedTxn{ProducerID: done.producerID,
					FirstOffset: done.firstOffset, LastOffset: done.lastOffset, LastStableOffset: lso})
			}
			return false
		}); err != nil {
			return err
		}
		if ferr != nil {
			return ferr
		}
	}
	return nil
}
