package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/chronik-streaming/chronik/internal/batch"
)

// Tiered storage (KIP-405): closed segments are copied to object storage by
// internal/tiering; this file is the log's side of it. The log reports its
// closed segments, learns how far the bucket holds its data (SetTieredUpTo),
// and then lets local retention (local.retention.ms/bytes) delete only
// segments that are safely uploaded. Reading the uploaded copies back goes
// through SegmentReader.

// ClosedSegment describes a closed segment's files for an upload.
type ClosedSegment struct {
	Base, Next   int64 // offsets [Base, Next)
	MaxTimestamp int64 // -1 when none
	Size         int64
	LeaderEpoch  int32 // the epoch of the segment's first batch, -1 when unknown
	// Aborted lists the aborted transactions whose ABORT marker is in the
	// segment (its transaction index).
	Aborted []AbortedTxn
	// Files by kind: "log", "index", "timeindex", and "txnindex",
	// "snapshot" (the producer state at Next), "leader-epochs" where they
	// exist.
	Files map[string]string
}

// ClosedSegments returns the closed segments whose records all lie below
// upTo (pass the last stable offset: nothing of an open transaction is
// uploaded), oldest first. Their files stay until local retention deletes
// them, which waits for SetTieredUpTo.
func (l *Log) ClosedSegments(upTo int64) []ClosedSegment {
	l.state.RLock()
	defer l.state.RUnlock()
	var out []ClosedSegment
	for i := 0; i+1 < len(l.segs); i++ {
		s := l.segs[i]
		if s.next > upTo || s.size == 0 {
			continue
		}
		// The index files are complete once a segment is closed (they
		// are flushed when it rolls).
		files := map[string]string{
			"log":       segmentName(l.dir, s.base, logSuffix),
			"index":     segmentName(l.dir, s.base, indexSuffix),
			"timeindex": segmentName(l.dir, s.base, timeIndexSuffix),
		}
		if len(s.txn.entries) > 0 {
			files["txnindex"] = segmentName(l.dir, s.base, txnIndexSuffix)
		}
		if p := filepath.Join(l.dir, snapshotName(s.next)); fileExists(p) {
			files["snapshot"] = p
		}
		if p := filepath.Join(l.dir, leaderEpochFile); fileExists(p) {
			files["leader-epochs"] = p
		}
		epoch := int32(-1)
		for _, e := range l.epochs.entries {
			if e.start <= s.base {
				epoch = e.epoch
			}
		}
		out = append(out, ClosedSegment{Base: s.base, Next: s.next, MaxTimestamp: s.maxTS, Size: s.size, LeaderEpoch: epoch, Files: files,
			Aborted: append([]AbortedTxn(nil), s.txn.entries...)})
	}
	return out
}

// SetTieredUpTo records that every offset below off is in object storage:
// local retention may now delete the segments that hold them.
func (l *Log) SetTieredUpTo(off int64) {
	for {
		cur := l.tieredUpTo.Load()
		if off <= cur || l.tieredUpTo.CompareAndSwap(cur, off) {
			return
		}
	}
}

// TieredUpTo returns the offset below which the bucket holds the data (0
// when nothing is uploaded).
func (l *Log) TieredUpTo() int64 { return l.tieredUpTo.Load() }

// localRetention returns the retention local deletion follows: with remote
// storage, local.retention.* (-2: the same as retention.*), else retention.*.
func (c Config) localRetention() (ms, bytes int64) {
	if !c.RemoteStorage {
		return c.RetentionMs, c.RetentionBytes
	}
	ms, bytes = c.LocalRetentionMs, c.LocalRetentionBytes
	if ms == -2 {
		ms = c.RetentionMs
	}
	if bytes == -2 {
		bytes = c.RetentionBytes
	}
	return ms, bytes
}

// PrepareStart readies an empty partition directory so that the log opened
// on it starts at offset (a partition restored from object storage
// continues after the offsets the bucket holds). A directory that already
// has segments is an error.
func PrepareStart(dir string, offset int64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if _, ok := parseBaseOffset(e.Name(), logSuffix); ok {
			return fmt.Errorf("%s already holds segments", dir)
		}
	}
	return writeOffsetCheckpoint(dir, logStartFile, offset, true)
}

// SegmentReader reads a segment from its files alone: a copy downloaded
// from object storage. It is read-only and safe for concurrent use.
type SegmentReader struct {
	seg     *segment
	aborted []AbortedTxn
}

// OpenSegmentReader opens the files of a segment holding offsets
// [base, next): logPath, and indexPath and txnPath when not "".
func OpenSegmentReader(base, next int64, logPath, indexPath, txnPath string) (*SegmentReader, error) {
	lf, err := os.Open(logPath)
	if err != nil {
		return nil, err
	}
	st, err := lf.Stat()
	if err != nil {
		lf.Close()
		return nil, err
	}
	s := &segment{base: base, log: readOnlyFile{lf}, next: next, size: st.Size(), maxTS: batch.NoTimestamp, maxTSOffset: -1,
		index: &offsetIndex{}, timeIndex: &timeIndex{}, txn: &txnIndex{}}
	if indexPath != "" {
		data, err := os.ReadFile(indexPath)
		if err != nil {
			lf.Close()
			return nil, err
		}
		for i := 0; i+indexEntrySize <= len(data); i += indexEntrySize {
			s.index.entries = append(s.index.entries, indexEntry{rel: binary.BigEndian.Uint32(data[i:]), pos: binary.BigEndian.Uint32(data[i+4:])})
		}
		if s.index.sane(s.size, next-base) != nil {
			s.index.entries = nil // scan from the start instead
		}
	}
	r := &SegmentReader{seg: s}
	if txnPath != "" {
		data, err := os.ReadFile(txnPath)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			lf.Close()
			return nil, err
		}
		if r.aborted, err = decodeAbortedTxns(data); err != nil {
			lf.Close()
			return nil, fmt.Errorf("%s: %w", txnPath, err)
		}
	}
	return r, nil
}

// Read returns whole batches from the one holding offset, at most maxBytes
// of them (with minOne, the first batch whole even if larger). Past the
// segment's end it returns nothing.
func (r *SegmentReader) Read(offset int64, maxBytes int32, minOne bool) ([]byte, error) {
	s := r.seg
	if offset >= s.next {
		return nil, nil
	}
	pos, found, err := s.find(offset, s.size)
	if err != nil || !found {
		return nil, err
	}
	return s.readBatches(pos, s.size, maxBytes, minOne)
}

// AbortedTransactions returns the aborted transactions whose markers are in
// this segment and which overlap [start, upper).
func (r *SegmentReader) AbortedTransactions(start, upper int64) []AbortedTxn {
	var out []AbortedTxn
	for _, e := range r.aborted {
		if e.LastOffset >= start && e.FirstOffset < upper {
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].FirstOffset < out[j].FirstOffset })
	return out
}

// OffsetForTimestamp returns the first record at or after ts in the segment.
func (r *SegmentReader) OffsetForTimestamp(ts int64) (offset, timestamp int64, found bool, err error) {
	s := r.seg
	var hit *batch.Header
	var hitPos int64
	if _, err := s.walk(0, s.size, func(pos int64, h batch.Header) bool {
		if h.MaxTimestamp >= ts {
			hit, hitPos = &h, pos
			return true
		}
		return false
	}); err != nil {
		return -1, -1, false, err
	}
	if hit == nil {
		return -1, -1, false, nil
	}
	b, err := s.readBatchAt(hitPos, *hit)
	if err != nil {
		return -1, -1, false, err
	}
	recs, err := batch.Records(b)
	if err != nil {
		return -1, -1, false, err
	}
	for i := range recs {
		if t := hit.Timestamp(&recs[i]); t >= ts {
			return hit.BaseOffset + int64(recs[i].OffsetDelta), t, true, nil
		}
	}
	return -1, -1, false, nil
}

// Close closes the files.
func (r *SegmentReader) Close() error { return r.seg.log.Close() }

// readOnlyFile adapts an *os.File opened read-only to the segment's file.
type readOnlyFile struct{ *os.File }

func (readOnlyFile) WriteAt([]byte, int64) (int, error) { return 0, errors.New("read-only segment") }
