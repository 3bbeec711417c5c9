package log

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/batch"
	"github.com/chronik-streaming/chronik/internal/compress"
)

// Log compaction (cleanup.policy=compact), after Kafka's log cleaner.
//
// The log is split at the cleaner checkpoint (cleaner-offset-checkpoint,
// the first dirty offset): the clean section before it has been compacted,
// the dirty section after it has not. The cleanable range ends at the first
// segment that may not be cleaned: the active segment, a segment holding
// data at or above the last stable offset (Kafka's firstUncleanableOffset:
// an undecided transaction is never cleaned), or a segment with records
// younger than min.compaction.lag.ms. Clean runs when the dirty bytes
// (closed cleanable segments only) reach min.cleanable.dirty.ratio of the
// cleanable total, when the first dirty batch is older than
// max.compaction.lag.ms, or when a delete horizon written by an earlier
// pass has passed.
//
// A pass, as Kafka's Cleaner.doClean:
//
//  1. builds a map key -> latest offset over the dirty section (keys are
//     stored as 16-byte SHA-256 prefixes, as Kafka stores MD5s). The map is
//     bounded (Config.CleanerDedupeBufferSize); when the next batch would
//     not fit, only the prefix of the dirty section read so far is cleaned
//     and the checkpoint moves to its end;
//  2. groups the segments from the log start up to that end into groups
//     whose total size fits segment.bytes (small cleaned segments are thus
//     merged on the next pass);
//  3. rewrites each group into one segment: a record is kept when it has a
//     key, no later offset for its key is in the map, and it is not a
//     tombstone whose delete horizon has passed. The data of aborted
//     transactions (known from every segment's .txnindex) is removed and
//     its keys never enter the map, so that an aborted value cannot shadow
//     a committed one. Control batches (markers) are kept
//     whole. A batch whose records are all kept (and that needs no new
//     delete horizon) is copied byte for byte; otherwise it is rebuilt with
//     the same base offset, lastOffsetDelta, producer id, epoch and base
//     sequence, leader epoch and codec (records keep their offset deltas,
//     so offsets are preserved and batches have holes), then recompressed
//     and its CRC recomputed. A batch left without records is dropped,
//     unless it is the last batch of a producer the log still tracks: its
//     header is kept with no records (as Kafka's RETAIN_EMPTY), so the
//     producer's sequence state survives a restart;
//  4. tombstones (null values): the first pass that keeps a batch holding
//     tombstones sets the batch's delete-horizon attribute (bit 6) and
//     stores now + delete.retention.ms in baseTimestamp (KIP-534, Kafka
//     3.x; record timestamp deltas are rebased on it); a later pass after
//     the horizon drops the tombstones.
//
// Crash safety, as Kafka's replaceSegments: the new segment is written to
// <base>.log.cleaned (with .index.cleaned and .timeindex.cleaned) and
// fsynced; a "cleaner-swap" file records "base end" (the offset range it
// replaces); the files (with .txnindex.cleaned, the group's aborted
// transactions, when there are any) are renamed to .swap (the .log rename is the commit
// point) and the directory fsynced; the old segments' files are renamed to
// .deleted, the .swap files to their final names, the directory fsynced,
// and the .deleted files removed. Open (completeSwaps) deletes .cleaned and
// .deleted files and .swap index files without a .log.swap (rolling back
// an uncommitted swap), and completes a committed one: the segments of the
// recorded range are deleted, the .swap files renamed, and the log is
// recovered (CRC-checked, indexes rebuilt) from that segment on.
//
// The map and the new segments are built without holding the log's lock
// (closed segments do not change); only the swap takes it, after checking
// that the segments it replaces are still there.

const (
	cleanerCheckpointFile = "cleaner-offset-checkpoint"
	cleanerSwapFile       = "cleaner-swap"
	cleanedSuffix         = ".cleaned"
	swapSuffix            = ".swap"
	deletedSuffix         = ".deleted"
)

// Defaults of the compaction settings.
const (
	DefaultDeleteRetentionMs       = 24 * 3600 * 1000
	DefaultMinCleanableDirtyRatio  = 0.5
	DefaultCleanerDedupeBufferSize = 32 << 20
	// cleanerEntrySize is what one map entry costs in the dedupe buffer's
	// accounting (a 16-byte hash and an 8-byte offset, as Kafka's
	// SkimpyOffsetMap); the Go map uses about twice that.
	cleanerEntrySize = 24
)

// CleanStats describes one call of Clean.
type CleanStats struct {
	Cleaned          bool    // a pass ran (false: nothing to do)
	DirtyRatio       float64 // dirty / cleanable bytes before the pass
	FirstDirtyOffset int64   // cleaner checkpoint before the pass
	EndOffset        int64   // cleaner checkpoint after the pass
	Partial          bool    // the offset map was full: only a prefix of the dirty section was cleaned
	MapKeys          int     // distinct keys in the offset map

	SegmentsRead, SegmentsWritten int
	BytesRead, BytesWritten       int64
	BatchesRead, BatchesRemoved   int64
	RecordsRead, RecordsRemoved   int64
	TombstonesRemoved             int64
}

// keyHash is the offset map's key: a 16-byte SHA-256 prefix.
type keyHash [16]byte

func hashKey(k []byte) keyHash {
	s := sha256.Sum256(k)
	var h keyHash
	copy(h[:], s[:16])
	return h
}

// cleanPlan is what Clean decided under the log's lock.
type cleanPlan struct {
	segs       []*segment // cleanable closed segments, from the first
	firstDirty int64
	dirtyIdx   int             // index in segs of the first dirty segment
	lastOf     map[int64]int64 // producer id -> last offset of its last data batch
	dirtyBytes int64
	totalBytes int64
	horizonDue bool
	aborted    map[int64][]txnRange // producer id -> aborted transactions (all segments)
}

// isAborted reports whether h is data of an aborted transaction.
func (p *cleanPlan) isAborted(h batch.Header) bool {
	if !h.IsTransactional() || h.IsControl() || !h.HasProducerID() {
		return false
	}
	for _, r := range p.aborted[h.ProducerID] {
		if r.first <= h.BaseOffset && h.BaseOffset <= r.last {
			return true
		}
	}
	return false
}

// Clean compacts the log if it is due (see the comment at the top of
// cleaner.go); it does nothing unless Config.Compact is set. The broker's
// maintenance loop calls it every few seconds; calls are serialised.
// Appends and reads go on during a pass, except for the short swap of each
// rewritten segment.
func (l *Log) Clean(now time.Time) (CleanStats, error) {
	l.cleanMu.Lock()
	defer l.cleanMu.Unlock()
	cfg := l.config()
	if !cfg.Compact {
		return CleanStats{}, nil
	}
	p, err := l.planClean(now, cfg)
	if err != nil || p == nil {
		return CleanStats{}, err
	}
	st := CleanStats{FirstDirtyOffset: p.firstDirty, EndOffset: p.firstDirty}
	if p.totalBytes > 0 {
		st.DirtyRatio = float64(p.dirtyBytes) / float64(p.totalBytes)
	}
	due := p.horizonDue || (p.dirtyBytes > 0 && st.DirtyRatio >= cfg.MinCleanableDirtyRatio)
	if !due && p.dirtyBytes > 0 && cfg.MaxCompactionLagMs > 0 && cfg.MaxCompactionLagMs < math.MaxInt64 {
		ts, err := l.firstBatchTimestamp(p.segs[p.dirtyIdx:], p.firstDirty)
		if err != nil {
			return st, l.cleanError(err)
		}
		due = ts >= 0 && now.UnixMilli()-ts > cfg.MaxCompactionLagMs
	}
	if !due {
		return st, nil
	}
	st.Cleaned = true

	// 1. Offset map over the dirty section.
	m, end, partial, err := l.buildOffsetMap(p, cfg, &st)
	if err != nil {
		return st, l.cleanError(err)
	}
	st.MapKeys, st.Partial, st.EndOffset = len(m), partial, end

	// 2. Groups of segments from the start up to end.
	var todo []*segment
	for _, s := range p.segs {
		if s.base >= end {
			break
		}
		todo = append(todo, s)
	}
	c := &cleanCtx{l: l, m: m, nowMs: now.UnixMilli(), cfg: cfg, lastOf: p.lastOf, plan: p, st: &st, minHorizon: math.MaxInt64}
	for _, g := range groupSegments(todo, cfg.SegmentBytes) {
		if err := c.cleanGroup(g); err != nil {
			return st, l.cleanError(err)
		}
	}
	l.mu.Lock()
	if c.minHorizon != math.MaxInt64 {
		l.cleanHorizon = c.minHorizon
	} else {
		l.cleanHorizon = 0
	}
	l.mu.Unlock()
	if end > p.firstDirty || !fileExists(filepath.Join(l.dir, cleanerCheckpointFile)) {
		if err := writeOffsetCheckpoint(l.dir, cleanerCheckpointFile, end, true); err != nil {
			return st, l.cleanError(err)
		}
	}
	l.logger.Info("cleaned log", "dir", l.dir, "first_dirty", p.firstDirty, "end", end,
		"segments_read", st.SegmentsRead, "segments_written", st.SegmentsWritten,
		"bytes_read", st.BytesRead, "bytes_written", st.BytesWritten,
		"records_removed", st.RecordsRemoved, "tombstones_removed", st.TombstonesRemoved, "partial", partial)
	return st, nil
}

func (l *Log) cleanError(err error) error {
	if errors.Is(err, ErrClosed) {
		return err
	}
	l.logger.Error("log cleaning failed", "dir", l.dir, "err", err)
	if errors.Is(err, ErrStorage) {
		return err
	}
	return fmt.Errorf("%w: clean %s: %w", ErrStorage, l.dir, err)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// CleanerCheckpoint returns the first dirty offset recorded by the cleaner
// (the log start offset when the log was never cleaned).
func (l *Log) CleanerCheckpoint() int64 {
	off, err := readOffsetCheckpoint(l.dir, cleanerCheckpointFile)
	start, leo := l.logStart.Load(), l.leo.Load()
	if err != nil || off < start || off > leo {
		return start
	}
	return off
}

// planClean takes the snapshot Clean works from (mu held briefly). It
// returns nil when there is nothing cleanable.
func (l *Log) planClean(now time.Time, cfg Config) (*cleanPlan, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.isClosed() {
		return nil, ErrClosed
	}
	if l.cleanerBroken {
		return nil, fmt.Errorf("%w: cleaning disabled after a failed segment swap (restart to recover)", ErrStorage)
	}
	p := &cleanPlan{lastOf: map[int64]int64{}, aborted: map[int64][]txnRange{}}
	p.firstDirty = l.CleanerCheckpoint()
	lagCutoff := now.UnixMilli() - cfg.MinCompactionLagMs
	l.state.RLock()
	lso := l.lsoLocked()
	for _, s := range l.segs {
		for _, e := range s.txn.entries {
			p.aborted[e.ProducerID] = append(p.aborted[e.ProducerID], txnRange{first: e.FirstOffset, last: e.LastOffset})
		}
	}
	for _, s := range l.segs[:len(l.segs)-1] {
		if s.base >= l.hwSeg.base || s.next > lso {
			break // at or above the high watermark or the last stable offset
		}
		if cfg.MinCompactionLagMs > 0 && l.segmentTime(s) > lagCutoff {
			break
		}
		p.segs = append(p.segs, s)
	}
	l.state.RUnlock()
	if len(p.segs) == 0 {
		return nil, nil
	}
	p.dirtyIdx = len(p.segs)
	for i, s := range p.segs {
		p.totalBytes += s.size
		if s.next > p.firstDirty {
			p.dirtyBytes += s.size
			if p.dirtyIdx == len(p.segs) {
				p.dirtyIdx = i
			}
		}
	}
	p.horizonDue = l.cleanHorizon > 0 && now.UnixMilli() >= l.cleanHorizon
	for id, e := range l.producers.m {
		if n := len(e.batches); n > 0 {
			p.lastOf[id] = e.batches[n-1].lastOffset
		}
	}
	return p, nil
}

// firstBatchTimestamp returns the max timestamp of the first batch at or
// after off (Kafka's first batch timestamp, for max.compaction.lag.ms).
func (l *Log) firstBatchTimestamp(segs []*segment, off int64) (int64, error) {
	for _, s := range segs {
		pos, ok, err := s.find(off, s.size)
		if err != nil {
			return -1, err
		}
		if !ok {
			continue
		}
		ts := int64(-1)
		if _, err := s.walk(pos, s.size, func(_ int64, h batch.Header) bool { ts = h.MaxTimestamp; return true }); err != nil {
			return -1, err
		}
		return ts, nil
	}
	return -1, nil
}

// buildOffsetMap maps each key of the dirty section to its latest offset.
// It returns the end of the section it covers (the new first dirty offset)
// and whether the map filled up before the cleanable range's end.
func (l *Log) buildOffsetMap(p *cleanPlan, cfg Config, st *CleanStats) (map[keyHash]int64, int64, bool, error) {
	maxEntries := int(float64(cfg.CleanerDedupeBufferSize) * 0.9 / cleanerEntrySize)
	if maxEntries < 1 {
		maxEntries = 1
	}
	m := make(map[keyHash]int64)
	end := p.segs[len(p.segs)-1].next
	for _, s := range p.segs[p.dirtyIdx:] {
		if l.isClosed() {
			return nil, 0, false, ErrClosed
		}
		var ferr error
		full := false
		_, err := s.walk(0, s.size, func(pos int64, h batch.Header) bool {
			if h.LastOffset() < p.firstDirty || h.IsControl() || p.isAborted(h) {
				return false
			}
			if len(m)+int(h.NumRecords) > maxEntries && len(m) > 0 {
				full, end = true, h.BaseOffset
				return true
			}
			b, err := s.readBatchAt(pos, h)
			if err != nil {
				ferr = err
				return true
			}
			recs, err := batch.Records(b)
			if err != nil {
				l.logger.Warn("cleaner: cannot decode batch, its keys are ignored", "file", s.log.Name(), "offset", h.BaseOffset, "err", err)
				return false
			}
			for i := range recs {
				off := h.BaseOffset + int64(recs[i].OffsetDelta)
				if recs[i].Key != nil && off >= p.firstDirty {
					m[hashKey(recs[i].Key)] = off
				}
			}
			return false
		})
		if ferr != nil {
			return nil, 0, false, ferr
		}
		if err != nil {
			return nil, 0, false, fmt.Errorf("scan %s: %w", s.log.Name(), err)
		}
		if full {
			if end < p.firstDirty {
				end = p.firstDirty
			}
			return m, end, true, nil
		}
	}
	return m, end, false, nil
}

// groupSegments splits consecutive segments into groups whose total size
// fits maxSize and whose offsets fit a segment's 32-bit relative offsets
// (Kafka's groupSegmentsBySize).
func groupSegments(segs []*segment, maxSize int64) [][]*segment {
	var out [][]*segment
	for len(segs) > 0 {
		n, size := 1, segs[0].size
		for n < len(segs) && size+segs[n].size <= maxSize && size+segs[n].size <= math.MaxInt32 &&
			segs[n].next-1-segs[0].base <= math.MaxInt32 {
			size += segs[n].size
			n++
		}
		out = append(out, segs[:n])
		segs = segs[n:]
	}
	return out
}

// cleanCtx carries one pass's state.
type cleanCtx struct {
	l          *Log
	m          map[keyHash]int64
	nowMs      int64
	cfg        Config
	lastOf     map[int64]int64
	plan       *cleanPlan
	st         *CleanStats
	minHorizon int64 // earliest delete horizon of a kept tombstone
}

func cleanedName(dir string, base int64, suffix, tail string) string {
	return segmentName(dir, base, suffix) + tail
}

var segmentSuffixes = []string{txnIndexSuffix, indexSuffix, timeIndexSuffix, logSuffix} // .log last: its rename commits

// optionalFile reports a missing file that need not exist (a segment
// without aborted transactions has no .txnindex).
func optionalFile(suffix string, err error) bool {
	return suffix == txnIndexSuffix && errors.Is(err, os.ErrNotExist)
}

// cleanGroup rewrites a group of segments into one and swaps it in.
func (c *cleanCtx) cleanGroup(g []*segment) error {
	l := c.l
	base := g[0].base
	for _, suf := range segmentSuffixes {
		if err := os.Remove(cleanedName(l.dir, base, suf, cleanedSuffix)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	ns, err := openSegmentAs(l.dir, base, cleanedSuffix, true)
	if err != nil {
		return err
	}
	discard := func() {
		ns.close()
		for _, suf := range segmentSuffixes {
			os.Remove(cleanedName(l.dir, base, suf, cleanedSuffix))
			os.Remove(cleanedName(l.dir, base, suf, swapSuffix))
		}
	}
	changed := len(g) > 1
	interval := int64(c.cfg.IndexIntervalBytes)
	for _, s := range g {
		if l.isClosed() {
			discard()
			return ErrClosed
		}
		c.st.SegmentsRead++
		c.st.BytesRead += s.size
		var ferr error
		_, err := s.walk(0, s.size, func(pos int64, h batch.Header) bool {
			b, err := s.readBatchAt(pos, h)
			if err != nil {
				ferr = err
				return true
			}
			c.st.BatchesRead++
			out, err := c.filterBatch(s, b, h)
			if err != nil {
				ferr = err
				return true
			}
			if out == nil {
				c.st.BatchesRemoved++
				changed = true
				return false
			}
			if len(out) != len(b) || &out[0] != &b[0] {
				changed = true
			}
			oh, _ := batch.ParseHeader(out)
			p := ns.plan(ns.size, int64(len(out)), oh.LastOffset(), oh.MaxTimestamp, interval)
			if werr, _ := ns.writeBatch(out, p); werr != nil {
				ferr = werr
				return true
			}
			ns.commit(p)
			return false
		})
		if ferr == nil && err != nil {
			ferr = fmt.Errorf("scan %s: %w", s.log.Name(), err)
		}
		if ferr != nil {
			discard()
			return ferr
		}
	}
	if !changed {
		discard()
		return nil
	}
	l.state.RLock()
	for _, s := range g {
		ns.txn.entries = append(ns.txn.entries, s.txn.entries...)
	}
	l.state.RUnlock()
	if err := errors.Join(ns.writeIndexes(), ns.txn.rewrite()); err != nil {
		discard()
		return err
	}
	if err := ns.syncAll(); err != nil {
		discard()
		return err
	}
	if err := l.swapIn(g, ns); err != nil {
		if l.isCleanerBroken() {
			ns.close() // committed: the files stay for Open to complete the swap
		} else {
			discard()
		}
		return err
	}
	c.st.SegmentsWritten++
	c.st.BytesWritten += ns.size
	return nil
}

// filterBatch returns the batch to write in place of b: b itself when it
// is kept as is, a rebuilt batch, or nil when the batch goes.
func (c *cleanCtx) filterBatch(s *segment, b []byte, h batch.Header) ([]byte, error) {
	if h.IsControl() {
		return b, nil // markers stay (Kafka removes them after the delete horizon)
	}
	isLast := h.HasProducerID()
	if isLast {
		last, ok := c.lastOf[h.ProducerID]
		isLast = ok && last == h.LastOffset()
	}
	if c.plan.isAborted(h) {
		c.st.RecordsRead += int64(h.NumRecords)
		c.st.RecordsRemoved += int64(h.NumRecords)
		if isLast {
			return emptyBatch(b, h), nil
		}
		return nil, nil
	}
	recs, err := batch.Records(b)
	if err != nil {
		c.l.logger.Warn("cleaner: cannot decode batch, keeping it", "file", s.log.Name(), "offset", h.BaseOffset, "err", err)
		return b, nil
	}
	c.st.RecordsRead += int64(len(recs))
	horizonSet := h.HasDeleteHorizon()
	retainDeletes := !horizonSet || c.nowMs < h.BaseTimestamp
	keep := make([]bool, len(recs))
	kept, tombstones := 0, false
	for i := range recs {
		r := &recs[i]
		if r.Key == nil {
			continue // Kafka drops keyless records from compacted logs
		}
		off := h.BaseOffset + int64(r.OffsetDelta)
		if latest, ok := c.m[hashKey(r.Key)]; ok && off < latest {
			continue
		}
		if r.Value == nil {
			if !retainDeletes {
				c.st.TombstonesRemoved++
				continue
			}
			tombstones = true
		}
		keep[i] = true
		kept++
	}
	c.st.RecordsRemoved += int64(len(recs) - kept)
	horizon := int64(-1)
	switch {
	case horizonSet:
		horizon = h.BaseTimestamp
	case tombstones:
		horizon = c.nowMs + c.cfg.DeleteRetentionMs
	}
	if tombstones && horizon < c.minHorizon {
		c.minHorizon = horizon
	}
	if kept == len(recs) && (horizonSet || !tombstones) {
		return b, nil
	}
	if kept == 0 {
		if isLast {
			return emptyBatch(b, h), nil
		}
		return nil, nil
	}
	return rebuildBatch(b, h, recs, keep, horizon)
}

// Field offsets of a batch header (see package batch).
const (
	bOffBatchLength   = 8
	bOffCRC           = 17
	bOffAttributes    = 21
	bOffBaseTimestamp = 27
	bOffMaxTimestamp  = 35
	bOffNumRecords    = 57
)

// emptyBatch returns the header of b with no records, as Kafka's
// writeEmptyHeader: same offsets, producer fields and leader epoch,
// uncompressed, both timestamps the batch's max timestamp.
func emptyBatch(b []byte, h batch.Header) []byte {
	out := make([]byte, batch.HeaderSize)
	copy(out, b[:batch.HeaderSize])
	attrs := uint16(h.Attributes) & (batch.AttrTimestampType | batch.AttrTransactional | batch.AttrControl)
	binary.BigEndian.PutUint16(out[bOffAttributes:], attrs)
	binary.BigEndian.PutUint64(out[bOffBaseTimestamp:], uint64(h.MaxTimestamp))
	binary.BigEndian.PutUint64(out[bOffMaxTimestamp:], uint64(h.MaxTimestamp))
	binary.BigEndian.PutUint32(out[bOffNumRecords:], 0)
	binary.BigEndian.PutUint32(out[bOffBatchLength:], uint32(len(out)-batch.LengthOffset))
	binary.BigEndian.PutUint32(out[bOffCRC:], batch.ComputeCRC(out))
	return out
}

// rebuildBatch writes the kept records of b into a new batch with b's
// header (base offset, lastOffsetDelta, producer fields, leader epoch,
// codec), as Kafka's buildRetainedRecordsInto. horizon >= 0 sets the delete
// horizon: baseTimestamp holds it and record timestamps are rebased on it.
func rebuildBatch(b []byte, h batch.Header, recs []kmsg.Record, keep []bool, horizon int64) ([]byte, error) {
	newBase := horizon
	maxTS := int64(math.MinInt64)
	n := 0
	for i := range recs {
		if !keep[i] {
			continue
		}
		ts := h.BaseTimestamp + recs[i].TimestampDelta64
		if n == 0 && horizon < 0 {
			newBase = ts
		}
		maxTS = max(maxTS, ts)
		n++
	}
	if h.IsLogAppendTime() {
		maxTS = h.MaxTimestamp
	}
	var raw []byte
	var tmp []byte
	for i := range recs {
		if !keep[i] {
			continue
		}
		r := recs[i]
		d := h.BaseTimestamp + r.TimestampDelta64 - newBase
		r.TimestampDelta64, r.TimestampDelta = d, int32(d)
		r.Length = 0
		tmp = r.AppendTo(tmp[:0])
		r.Length = int32(len(tmp) - 1) // a zero length varint is one byte
		raw = r.AppendTo(raw)
	}
	out := make([]byte, batch.HeaderSize, batch.HeaderSize+len(raw))
	copy(out, b[:batch.HeaderSize])
	if codec := h.Codec(); codec != compress.None {
		var err error
		if out, err = compress.Encode(codec, raw, out); err != nil {
			return nil, fmt.Errorf("recompress batch %d: %w", h.BaseOffset, err)
		}
	} else {
		out = append(out, raw...)
	}
	attrs := uint16(h.Attributes)
	if horizon >= 0 {
		attrs |= batch.AttrDeleteHorizon
	}
	binary.BigEndian.PutUint16(out[bOffAttributes:], attrs)
	binary.BigEndian.PutUint64(out[bOffBaseTimestamp:], uint64(newBase))
	binary.BigEndian.PutUint64(out[bOffMaxTimestamp:], uint64(maxTS))
	binary.BigEndian.PutUint32(out[bOffNumRecords:], uint32(n))
	binary.BigEndian.PutUint32(out[bOffBatchLength:], uint32(len(out)-batch.LengthOffset))
	binary.BigEndian.PutUint32(out[bOffCRC:], batch.ComputeCRC(out))
	return out, nil
}

func (l *Log) isCleanerBroken() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cleanerBroken
}

// swapHook, when set by a test, is called at each step of a swap; an
// error stops the swap there, as a crash would (the files are left as
// they are).
var swapHook func(step string) error

func hook(step string) error {
	if swapHook != nil {
		return swapHook(step)
	}
	return nil
}

// errSwapStopped marks a swap stopped by the test hook.
var errSwapStopped = errors.New("swap stopped by test hook")

// swapIn replaces the segments g (consecutive in l.segs) by ns, whose
// files are complete and fsynced under the .cleaned names.
func (l *Log) swapIn(g []*segment, ns *segment) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.isClosed() {
		return ErrClosed
	}
	l.state.RLock()
	idx := -1
	for i, s := range l.segs {
		if s == g[0] {
			idx = i
			break
		}
	}
	ok := idx >= 0 && idx+len(g) < len(l.segs)
	for j := 0; ok && j < len(g); j++ {
		ok = l.segs[idx+j] == g[j]
	}
	end := int64(0)
	if ok {
		end = l.segs[idx+len(g)].base
	}
	l.state.RUnlock()
	if !ok {
		return fmt.Errorf("segments changed during cleaning (retention ran), skipping this group")
	}
	base := ns.base
	if err := hook("cleaned"); err != nil {
		return err
	}
	if err := writeCheckpoint(l.dir, cleanerSwapFile, []string{fmt.Sprintf("%d %d", base, end)}, false); err != nil {
		return err
	}
	for _, suf := range segmentSuffixes {
		if suf == logSuffix {
			if err := hook("before-commit"); err != nil {
				return err
			}
		}
		if err := os.Rename(cleanedName(l.dir, base, suf, cleanedSuffix), cleanedName(l.dir, base, suf, swapSuffix)); err != nil && !optionalFile(suf, err) {
			return err
		}
	}
	if err := syncDir(l.dir); err != nil {
		return err
	}
	// Committed: from here on a crash completes the swap on Open.
	fail := func(err error) error {
		l.cleanerBroken = true
		l.logger.Error("segment swap failed after its commit point; the next Open completes it", "dir", l.dir, "base", base, "err", err)
		return fmt.Errorf("%w: swap segment %d: %w", ErrStorage, base, err)
	}
	if err := hook("committed"); err != nil {
		l.cleanerBroken = true
		return err
	}
	for i, s := range g {
		for _, suf := range segmentSuffixes {
			if err := os.Rename(segmentName(l.dir, s.base, suf), segmentName(l.dir, s.base, suf)+deletedSuffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fail(err)
			}
		}
		if i == 0 {
			if err := hook("old-deleted-one"); err != nil {
				l.cleanerBroken = true
				return err
			}
		}
	}
	if err := hook("old-deleted"); err != nil {
		l.cleanerBroken = true
		return err
	}
	for _, suf := range segmentSuffixes {
		if err := os.Rename(cleanedName(l.dir, base, suf, swapSuffix), segmentName(l.dir, base, suf)); err != nil && !optionalFile(suf, err) {
			return fail(err)
		}
	}
	if err := syncDir(l.dir); err != nil {
		return fail(err)
	}
	if err := hook("renamed"); err != nil {
		l.cleanerBroken = true
		return err
	}
	if err := os.Remove(filepath.Join(l.dir, cleanerSwapFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		l.logger.Warn("cannot remove cleaner swap file", "dir", l.dir, "err", err)
	}

	ns.releaseIndexes()
	ns.txn.path = segmentName(l.dir, base, txnIndexSuffix)
	var freed int64
	for _, s := range g {
		freed += s.size
	}
	l.state.Lock()
	segs := make([]*segment, 0, len(l.segs)-len(g)+1)
	segs = append(segs, l.segs[:idx]...)
	segs = append(segs, ns)
	segs = append(segs, l.segs[idx+len(g):]...)
	l.segs = segs
	l.size.Add(ns.size - freed)
	l.state.Unlock()

	// The flusher may still hold a segment that was active when its round
	// began (see deleteOldest).
	l.flushMu.Lock()
	for _, s := range g {
		if err := s.close(); err != nil {
			l.logger.Warn("cannot close replaced segment", "dir", l.dir, "base", s.base, "err", err)
		}
	}
	l.flushMu.Unlock()
	for _, s := range g {
		for _, suf := range segmentSuffixes {
			if err := os.Remove(segmentName(l.dir, s.base, suf) + deletedSuffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				l.logger.Warn("cannot delete replaced segment", "dir", l.dir, "base", s.base, "err", err)
			}
		}
	}
	l.logger.Debug("swapped in cleaned segment", "dir", l.dir, "base", base, "replaced", len(g), "size", ns.size, "freed", freed)
	return nil
}

// completeSwaps rolls back or completes the segment swaps a crash
// interrupted (see the comment at the top of this file). It returns the
// lowest base offset of a completed swap (the log must be recovered from
// there), or -1.
func (l *Log) completeSwaps() (int64, error) {
	ents, err := os.ReadDir(l.dir)
	if err != nil {
		return -1, err
	}
	var swaps []int64
	names := map[string]bool{}
	for _, de := range ents {
		name := de.Name()
		names[name] = true
		switch {
		case strings.HasSuffix(name, cleanedSuffix), strings.HasSuffix(name, deletedSuffix):
			if err := os.Remove(filepath.Join(l.dir, name)); err != nil {
				return -1, err
			}
			delete(names, name)
		case strings.HasSuffix(name, logSuffix+swapSuffix):
			if b, ok := parseBaseOffset(strings.TrimSuffix(name, swapSuffix), logSuffix); ok {
				swaps = append(swaps, b)
			}
		}
	}
	// Index .swap files whose .log.swap is missing: an uncommitted swap.
	for name := range names {
		if !strings.HasSuffix(name, swapSuffix) || strings.HasSuffix(name, logSuffix+swapSuffix) {
			continue
		}
		stem := strings.TrimSuffix(name, swapSuffix)
		committed := false
		for _, suf := range []string{indexSuffix, timeIndexSuffix, txnIndexSuffix} {
			if b, ok := parseBaseOffset(stem, suf); ok && names[segmentName("", b, logSuffix)+swapSuffix] {
				committed = true
			}
		}
		if !committed {
			if err := os.Remove(filepath.Join(l.dir, name)); err != nil {
				return -1, err
			}
		}
	}
	var rangeBase, rangeEnd int64 = -1, -1
	if lines, err := readCheckpoint(l.dir, cleanerSwapFile); err == nil && len(lines) == 1 {
		if v, err := parseInts(lines[0], 2); err == nil {
			rangeBase, rangeEnd = v[0], v[1]
		}
	}
	from := int64(-1)
	for _, b := range swaps {
		end := int64(-1)
		if b == rangeBase {
			end = rangeEnd
		} else {
			end, err = swapNextOffset(cleanedName(l.dir, b, logSuffix, swapSuffix), b)
			if err != nil {
				return -1, err
			}
		}
		l.logger.Warn("completing an interrupted segment swap", "dir", l.dir, "base", b, "end", end)
		for _, de := range ents {
			for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix, txnIndexSuffix} {
				if ob, ok := parseBaseOffset(de.Name(), suf); ok && ob >= b && (ob < end || ob == b) {
					if err := os.Remove(filepath.Join(l.dir, de.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
						return -1, err
					}
				}
			}
		}
		for _, suf := range segmentSuffixes {
			err := os.Rename(cleanedName(l.dir, b, suf, swapSuffix), segmentName(l.dir, b, suf))
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return -1, err
			}
		}
		if from < 0 || b < from {
			from = b
		}
	}
	if err := os.Remove(filepath.Join(l.dir, cleanerSwapFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return -1, err
	}
	if len(swaps) > 0 {
		if err := syncDir(l.dir); err != nil {
			return -1, err
		}
	}
	return from, nil
}

// swapNextOffset returns the offset after the last whole batch of a .swap
// log file (its base when empty).
func swapNextOffset(path string, base int64) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	next := base
	it := batch.NewIterator(data)
	for it.Next() {
		next = it.Header().NextOffset()
	}
	return next, nil
}

// validateStored checks a batch read from a segment: as batch.Validate,
// except that a cleaned batch may hold fewer records than its offset range
// (holes) or none at all (a producer's last batch kept as a header).
func validateStored(b []byte) (batch.Header, error) {
	h, err := batch.ParseHeader(b)
	if err != nil {
		return h, err
	}
	if int64(len(b)) != h.Size() {
		return h, fmt.Errorf("%w: batch of %d bytes, have %d", batch.ErrBadLength, h.Size(), len(b))
	}
	if got := batch.ComputeCRC(b); got != h.CRC {
		return h, fmt.Errorf("%w: stored %08x, computed %08x", batch.ErrBadCRC, h.CRC, got)
	}
	if h.NumRecords < 0 || h.LastOffsetDelta < 0 || int64(h.NumRecords) > int64(h.LastOffsetDelta)+1 {
		return h, fmt.Errorf("%w: records %d, lastOffsetDelta %d", batch.ErrBadCount, h.NumRecords, h.LastOffsetDelta)
	}
	return h, nil
}

// validateCompactable refuses a batch with a keyless record on a compacted
// log (Kafka: "Compacted topic cannot accept message without key").
func validateCompactable(b []byte, h batch.Header) error {
	if h.IsControl() {
		return nil
	}
	recs, err := batch.Records(b)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCorruptMessage, err)
	}
	for i := range recs {
		if recs[i].Key == nil {
			return fmt.Errorf("%w: compacted topic cannot accept a record without a key (offset delta %d)", ErrInvalidRecord, recs[i].OffsetDelta)
		}
	}
	return nil
}
