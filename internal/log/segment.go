package log

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chronik-streaming/chronik/internal/batch"
)

// A segment is one .log file with its .index and .timeindex, named by the
// 20-digit base offset (the first offset it may hold).
//
// The .log file holds record batches back to back, exactly as appended.
// Only the bytes below size are part of the log; size, next and the
// in-memory index entries change under Log.state's write lock after the
// bytes are in the file, so a reader holding the read lock never sees a
// partial batch.

// file is what the log needs from an *os.File; tests substitute a faulty
// one to simulate a full disk.
type file interface {
	io.ReaderAt
	io.WriterAt
	Truncate(size int64) error
	Sync() error
	Close() error
	Stat() (os.FileInfo, error)
	Name() string
}

// openFile opens a segment, index or checkpoint file. Tests replace it.
var openFile = func(path string, flag int) (file, error) {
	return os.OpenFile(path, flag, 0o644)
}

const (
	logSuffix       = ".log"
	indexSuffix     = ".index"
	timeIndexSuffix = ".timeindex"
)

func segmentName(dir string, base int64, suffix string) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", base, suffix))
}

// parseSegmentName returns the base offset of a "<20 digits>.log" name.
func parseBaseOffset(name, suffix string) (int64, bool) {
	if len(name) != 20+len(suffix) || name[20:] != suffix {
		return 0, false
	}
	var v int64
	for _, c := range name[:20] {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if v > (math.MaxInt64-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

type posHint struct {
	offset int64 // every batch before pos has last offset < offset
	pos    int64 // a batch boundary
}

type segment struct {
	base      int64
	log       file
	index     *offsetIndex
	timeIndex *timeIndex
	txn       *txnIndex // aborted transactions whose marker is here

	// Guarded by Log.state (written with Log.mu held too).
	size            int64 // bytes of whole batches
	next            int64 // offset after the last batch (base when empty)
	maxTS           int64 // largest batch max timestamp, -1 when none
	maxTSOffset     int64 // last offset of the batch that first reached maxTS
	bytesSinceIndex int64

	// Guarded by Log.mu.
	rollBase time.Time // start of the segment's age for segment.ms

	hint atomic.Pointer[posHint] // last read's end, for sequential readers

	// io is read-locked by readers while they read the file without
	// holding Log.state, and write-locked to close the files.
	io sync.RWMutex
}

// openSegment opens (creating if asked) the three files of a segment. The
// caller loads or recovers its state.
func openSegment(dir string, base int64, create bool) (*segment, error) {
	return openSegmentAs(dir, base, "", create)
}

// openSegmentAs opens a segment whose file names end with tail after the
// usual suffix (".cleaned" for the cleaner's output; "" for a segment).
func openSegmentAs(dir string, base int64, tail string, create bool) (*segment, error) {
	flag := os.O_RDWR
	if create {
		flag |= os.O_CREATE | os.O_TRUNC
	}
	lf, err := openFile(segmentName(dir, base, logSuffix)+tail, flag)
	if err != nil {
		return nil, err
	}
	if create {
		// Stale indexes of an earlier segment with the same name must go.
		for _, suf := range []string{indexSuffix, timeIndexSuffix, txnIndexSuffix} {
			if err := os.Remove(segmentName(dir, base, suf) + tail); err != nil && !errors.Is(err, os.ErrNotExist) {
				lf.Close()
				return nil, err
			}
		}
	}
	ix, err := openOffsetIndex(segmentName(dir, base, indexSuffix) + tail)
	if err != nil {
		lf.Close()
		return nil, err
	}
	ti, err := openTimeIndex(segmentName(dir, base, timeIndexSuffix) + tail)
	if err != nil {
		lf.Close()
		ix.f.Close()
		return nil, err
	}
	return &segment{
		base: base, log: lf, index: ix, timeIndex: ti,
		txn:  &txnIndex{path: segmentName(dir, base, txnIndexSuffix) + tail},
		next: base, maxTS: batch.NoTimestamp, maxTSOffset: -1,
	}, nil
}

// close closes the files once no reader uses them.
func (s *segment) close() error {
	s.io.Lock()
	defer s.io.Unlock()
	return errors.Join(s.log.Close(), s.index.f.Close(), s.timeIndex.f.Close(), s.txn.close())
}

// remove deletes the segment's files (after close).
func (s *segment) remove(dir string) error {
	var errs []error
	for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix, txnIndexSuffix} {
		if err := os.Remove(segmentName(dir, s.base, suf)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// syncAll fsyncs the log and the index files.
func (s *segment) syncAll() error {
	return errors.Join(datasync(s.log), datasync(s.index.f), datasync(s.timeIndex.f), s.txn.sync())
}

// fileSize returns the size of the .log file on disk.
func (s *segment) fileSize() (int64, error) {
	st, err := s.log.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// appendPlan is what appending one batch changes in a segment.
type appendPlan struct {
	pos, size       int64
	last            int64
	maxTS, maxTSOff int64
	bytesSince      int64
	ie              *indexEntry
	te              *timeEntry
}

// plan computes the index updates for a batch of size bytes at pos whose
// last offset is last and max timestamp maxTS, following Kafka: the max so
// far is updated first; an index entry (and a time index entry with the max
// so far) is due when more than interval bytes were appended since the
// previous entry.
func (s *segment) plan(pos, size, last, maxTS int64, interval int64) appendPlan {
	p := appendPlan{pos: pos, size: size, last: last, maxTS: s.maxTS, maxTSOff: s.maxTSOffset, bytesSince: s.bytesSinceIndex}
	if maxTS > p.maxTS {
		p.maxTS, p.maxTSOff = maxTS, last
	}
	if p.bytesSince > interval {
		p.ie = &indexEntry{rel: uint32(last - s.base), pos: uint32(pos)}
		if s.timeIndex.wants(p.maxTS) {
			p.te = &timeEntry{ts: p.maxTS, rel: uint32(p.maxTSOff - s.base)}
		}
		p.bytesSince = 0
	}
	p.bytesSince += size
	return p
}

// commit applies a plan in memory. The caller holds Log.state's write lock
// (or owns the segment exclusively, during recovery).
func (s *segment) commit(p appendPlan) {
	s.size = p.pos + p.size
	s.next = p.last + 1
	s.maxTS, s.maxTSOffset = p.maxTS, p.maxTSOff
	s.bytesSinceIndex = p.bytesSince
	if p.ie != nil {
		s.index.entries = append(s.index.entries, *p.ie)
	}
	if p.te != nil {
		s.timeIndex.entries = append(s.timeIndex.entries, *p.te)
	}
}

// writeBatch writes b at the end of the segment. On failure it truncates
// the file back to its committed size and returns the cause; undone reports
// whether that truncation succeeded.
func (s *segment) writeBatch(b []byte, p appendPlan) (err error, undone bool) {
	n, err := s.log.WriteAt(b, p.pos)
	if err == nil && n != len(b) {
		err = io.ErrShortWrite
	}
	if err == nil {
		return nil, true
	}
	return err, s.log.Truncate(s.size) == nil
}

// indexFlushEvery is how many index entries may wait in memory before they
// are written to the index files.
const indexFlushEvery = 64

// releaseIndexes drops the in-memory index entries of a closed segment
// whose index files are complete (Log.state write-locked).
func (s *segment) releaseIndexes() {
	s.index.release()
	s.timeIndex.release()
}

// flushIndexes writes pending index entries to the files (Log.mu held).
func (s *segment) flushIndexes() error {
	return errors.Join(s.index.flush(), s.timeIndex.flush(), s.txn.flush())
}

// addFinalTimeEntry appends, in memory, the time index entry holding the
// segment's max timestamp if missing (Log.mu held, takes state's lock).
func (s *segment) addFinalTimeEntry(state *sync.RWMutex) {
	if te := s.finalTimeEntry(); te != nil {
		state.Lock()
		s.timeIndex.entries = append(s.timeIndex.entries, *te)
		state.Unlock()
	}
}

// finalTimeEntry returns the time index entry that records the segment's
// max timestamp, if it is not there yet (written when the segment is rolled
// or the log closed).
func (s *segment) finalTimeEntry() *timeEntry {
	if s.maxTS >= 0 && s.timeIndex.wants(s.maxTS) {
		return &timeEntry{ts: s.maxTS, rel: uint32(s.maxTSOffset - s.base)}
	}
	return nil
}

// scanBufPool holds buffers for header walks.
var scanBufPool = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

// errPartial reports a batch extending past the scan limit.
var errPartial = errors.New("partial batch")

// walk calls fn with each batch header from pos (a batch boundary) up to
// limit, reading the file in chunks, until fn returns true. It returns the
// position where it stopped: that of the batch fn accepted, or the end of
// the last whole batch. A malformed header returns a batch error; a batch
// crossing limit returns errPartial.
func (s *segment) walk(pos, limit int64, fn func(pos int64, h batch.Header) bool) (int64, error) {
	bp := scanBufPool.Get().(*[]byte)
	defer scanBufPool.Put(bp)
	buf := *bp
	var bStart, bEnd int64
	for pos < limit {
		if limit-pos < batch.HeaderSize {
			return pos, errPartial
		}
		if pos < bStart || pos+batch.HeaderSize > bEnd {
			n := int64(len(buf))
			if limit-pos < n {
				n = limit - pos
			}
			m, err := s.log.ReadAt(buf[:n], pos)
			if int64(m) < batch.HeaderSize {
				if err == nil || err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return pos, err
			}
			bStart, bEnd = pos, pos+int64(m)
		}
		h, err := batch.ParseHeader(buf[pos-bStart : bEnd-bStart])
		if err != nil {
			return pos, err
		}
		if pos+h.Size() > limit {
			return pos, errPartial
		}
		if fn(pos, h) {
			return pos, nil
		}
		pos += h.Size()
	}
	return pos, nil
}

// find returns the position of the first batch below limit whose last
// offset is >= target, using the sparse index and the last read's hint.
func (s *segment) find(target, limit int64) (int64, bool, error) {
	return s.findFrom(s.startPos(target, limit), target, limit)
}

// startPos returns a batch boundary at or before the batch holding target,
// from the index and the last read's hint. The caller holds Log.state (the
// index is in memory).
func (s *segment) startPos(target, limit int64) int64 {
	start := int64(0)
	if rel := target - s.base; rel > 0 {
		if rel > math.MaxUint32 {
			rel = math.MaxUint32
		}
		start = s.index.lookup(uint32(rel))
	}
	if h := s.hint.Load(); h != nil && h.offset <= target && h.pos > start && h.pos <= limit {
		start = h.pos
	}
	return start
}

// findFrom scans headers from start (see find); it needs only the file.
func (s *segment) findFrom(start, target, limit int64) (int64, bool, error) {
	found := false
	pos, err := s.walk(start, limit, func(_ int64, h batch.Header) bool {
		found = h.LastOffset() >= target
		return found
	})
	if err != nil && !found {
		return 0, false, err
	}
	return pos, found, nil
}

// readBatches reads whole batches from pos (a batch boundary) up to limit,
// at most maxBytes of them; with minOne the first batch is returned whole
// even if larger. It does one pread in the common case, a second only to
// complete an oversized first batch.
func (s *segment) readBatches(pos, limit int64, maxBytes int32, minOne bool) ([]byte, error) {
	avail := limit - pos
	n := int64(maxBytes)
	if n < 0 {
		n = 0
	}
	if minOne && n < batch.HeaderSize {
		n = batch.HeaderSize
	}
	if n > avail {
		n = avail
	}
	if n <= 0 {
		return nil, nil
	}
	buf := make([]byte, n)
	if _, err := s.log.ReadAt(buf, pos); err != nil {
		return nil, err
	}
	it := batch.NewIterator(buf)
	end, next := 0, int64(-1)
	for it.Next() {
		end += len(it.Batch())
		next = it.Header().NextOffset()
	}
	if end == 0 {
		if !minOne {
			return nil, nil
		}
		h, err := batch.ParseHeader(buf)
		if err != nil {
			return nil, err
		}
		if h.Size() > avail {
			return nil, errPartial
		}
		whole := make([]byte, h.Size())
		copy(whole, buf)
		if _, err := s.log.ReadAt(whole[len(buf):], pos+int64(len(buf))); err != nil {
			return nil, err
		}
		buf, end, next = whole, len(whole), h.NextOffset()
	}
	s.hint.Store(&posHint{offset: next, pos: pos + int64(end)})
	return buf[:end:end], nil
}

// readBatchAt reads the whole batch at pos.
func (s *segment) readBatchAt(pos int64, h batch.Header) ([]byte, error) {
	b := make([]byte, h.Size())
	if _, err := s.log.ReadAt(b, pos); err != nil {
		return nil, err
	}
	return b, nil
}
