package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sort"
)

// Transaction index.
//
// Each segment may have a "<base>.txnindex" file listing the transactions
// aborted by an ABORT marker written into that segment, in Kafka's format:
// 34-byte entries (big-endian) of version int16 (0), producerId int64,
// firstOffset int64, lastOffset int64 (the marker's offset) and
// lastStableOffset int64 (the LSO right after the marker). The file exists
// only when the segment holds at least one abort marker.
//
// The entries of every segment are also kept in memory (a few bytes per
// aborted transaction), guarded by Log.state: a read_committed fetch
// collects the entries overlapping the range it returns from the segments
// at and after the fetch offset (an abort whose marker lies in an earlier
// segment ended before the fetch offset). A crash may lose the file's tail;
// recovery rebuilds the index of every segment it scans from the markers in
// the log (see loadProducers).

const (
	txnIndexSuffix    = ".txnindex"
	txnIndexEntrySize = 34
)

// AbortedTxn is one entry of the transaction index: producer ProducerID
// aborted the transaction whose data lies in [FirstOffset, LastOffset]
// (LastOffset is the ABORT marker's offset). LastStableOffset is the
// partition's last stable offset just after the marker (Kafka's field; not
// needed by fetches).
type AbortedTxn struct {
	ProducerID, FirstOffset, LastOffset, LastStableOffset int64
}

type txnIndex struct {
	path    string
	entries []AbortedTxn // guarded by Log.state
	written int          // entries in the file (Log.mu)
	f       file         // nil until the file is written (Log.mu; closed under segment.io)
}

func encodeAbortedTxn(b []byte, e AbortedTxn) []byte {
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint64(b, uint64(e.ProducerID))
	b = binary.BigEndian.AppendUint64(b, uint64(e.FirstOffset))
	b = binary.BigEndian.AppendUint64(b, uint64(e.LastOffset))
	return binary.BigEndian.AppendUint64(b, uint64(e.LastStableOffset))
}

func decodeAbortedTxns(b []byte) ([]AbortedTxn, error) {
	if len(b)%txnIndexEntrySize != 0 {
		return nil, fmt.Errorf("size %d is not a multiple of %d", len(b), txnIndexEntrySize)
	}
	var out []AbortedTxn
	for ; len(b) > 0; b = b[txnIndexEntrySize:] {
		if v := int16(binary.BigEndian.Uint16(b)); v != 0 {
			return nil, fmt.Errorf("unknown entry version %d", v)
		}
		out = append(out, AbortedTxn{
			ProducerID:       int64(binary.BigEndian.Uint64(b[2:])),
			FirstOffset:      int64(binary.BigEndian.Uint64(b[10:])),
			LastOffset:       int64(binary.BigEndian.Uint64(b[18:])),
			LastStableOffset: int64(binary.BigEndian.Uint64(b[26:])),
		})
	}
	return out, nil
}

// load reads the file, if any, and checks that every marker offset lies in
// [base, next) in ascending order.
func (t *txnIndex) load(base, next int64) error {
	data, err := os.ReadFile(t.path)
	if errors.Is(err, os.ErrNotExist) {
		t.entries, t.written = nil, 0
		return nil
	}
	if err != nil {
		return err
	}
	es, err := decodeAbortedTxns(data)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", errBadTxnIndex, t.path, err)
	}
	prev := base - 1
	for _, e := range es {
		if e.LastOffset <= prev || e.LastOffset >= next || e.FirstOffset > e.LastOffset {
			return fmt.Errorf("%w: %s: entry %+v outside [%d, %d)", errBadTxnIndex, t.path, e, base, next)
		}
		prev = e.LastOffset
	}
	t.entries, t.written = es, len(es)
	return nil
}

var errBadTxnIndex = errors.New("bad transaction index")

// flush appends the entries not yet in the file (Log.mu held).
func (t *txnIndex) flush() error {
	if t.written >= len(t.entries) {
		return nil
	}
	if t.f == nil {
		f, err := openFile(t.path, os.O_RDWR|os.O_CREATE)
		if err != nil {
			return err
		}
		t.f = f
	}
	var b []byte
	for _, e := range t.entries[t.written:] {
		b = encodeAbortedTxn(b, e)
	}
	if _, err := t.f.WriteAt(b, int64(t.written)*txnIndexEntrySize); err != nil {
		return err
	}
	t.written = len(t.entries)
	return nil
}

// rewrite replaces the file with the in-memory entries (removing it when
// there are none).
func (t *txnIndex) rewrite() error {
	if t.f != nil {
		t.f.Close()
		t.f = nil
	}
	t.written = 0
	if len(t.entries) == 0 {
		if err := os.Remove(t.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	f, err := openFile(t.path, os.O_RDWR|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return err
	}
	t.f = f
	return t.flush()
}

func (t *txnIndex) sync() error {
	if t.f == nil {
		return nil
	}
	return datasync(t.f)
}

func (t *txnIndex) close() error {
	if t.f == nil {
		return nil
	}
	err := t.f.Close()
	t.f = nil
	return err
}

// collectAbortedLocked returns the aborted transactions overlapping
// [start, upper): marker at or after start, first offset below upper, in
// the order of their first offsets (Log.state held).
func (l *Log) collectAbortedLocked(start, upper int64) []AbortedTxn {
	var out []AbortedTxn
	for i := l.segmentIndexLocked(start); i < len(l.segs); i++ {
		s := l.segs[i]
		for _, e := range s.txn.entries {
			if e.LastOffset >= start && e.FirstOffset < upper {
				out = append(out, e)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].FirstOffset < out[j].FirstOffset })
	return out
}
