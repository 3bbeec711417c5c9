package log

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sort"
)

// Offset index (.index)
//
// A sparse map from offset to file position inside one segment, as in
// Kafka. Each entry is 8 bytes, big-endian:
//
//	relativeOffset uint32   last offset of a batch minus the segment's base offset
//	position       uint32   byte position of that batch in the .log file
//
// Entries are strictly increasing in both fields. An entry is added for a
// batch when more than IndexIntervalBytes of batches were appended since the
// previous entry, so the first batches of a segment have none (position 0 is
// implicit). To find offset o: take the last entry with relativeOffset <=
// o-base (or position 0), then scan batch headers forward to the first batch
// whose last offset is >= o.
//
// The entries are also kept in memory; the file exists so that a clean start
// need not scan the segment. It is rebuilt on recovery.

const indexEntrySize = 8

type indexEntry struct {
	rel uint32
	pos uint32
}

type offsetIndex struct {
	f       file
	entries []indexEntry // guarded by Log.state
}

// openOffsetIndex opens or creates the index file and loads its entries. A
// trailing partial entry is ignored (the sanity check decides on rebuilds).
func openOffsetIndex(path string) (*offsetIndex, error) {
	f, err := openFile(path, os.O_RDWR|os.O_CREATE)
	if err != nil {
		return nil, err
	}
	data, err := readAll(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	ix := &offsetIndex{f: f}
	for i := 0; i+indexEntrySize <= len(data); i += indexEntrySize {
		ix.entries = append(ix.entries, indexEntry{
			rel: binary.BigEndian.Uint32(data[i:]),
			pos: binary.BigEndian.Uint32(data[i+4:]),
		})
	}
	if len(data)%indexEntrySize != 0 {
		ix.entries = append(ix.entries, indexEntry{rel: 0, pos: ^uint32(0)}) // forces a failed sanity check
	}
	return ix, nil
}

// sane checks that entries increase and point inside a segment of size
// bytes holding relative offsets below relEnd.
func (ix *offsetIndex) sane(size int64, relEnd int64) error {
	for i, e := range ix.entries {
		if int64(e.pos) >= size || int64(e.rel) >= relEnd {
			return fmt.Errorf("entry %d (%d,%d) beyond segment (size %d, %d offsets)", i, e.rel, e.pos, size, relEnd)
		}
		if i > 0 && (e.rel <= ix.entries[i-1].rel || e.pos <= ix.entries[i-1].pos) {
			return fmt.Errorf("entry %d (%d,%d) not increasing", i, e.rel, e.pos)
		}
	}
	return nil
}

// lookup returns the position of the last entry with rel <= target, or 0.
func (ix *offsetIndex) lookup(target uint32) int64 {
	i := sort.Search(len(ix.entries), func(i int) bool { return ix.entries[i].rel > target })
	if i == 0 {
		return 0
	}
	return int64(ix.entries[i-1].pos)
}

// last returns the last entry, if any.
func (ix *offsetIndex) last() (indexEntry, bool) {
	if len(ix.entries) == 0 {
		return indexEntry{}, false
	}
	return ix.entries[len(ix.entries)-1], true
}

// write writes e to the file in the slot after the committed entries; the
// in-memory entry is added by the caller under the state lock.
func (ix *offsetIndex) write(e indexEntry) error {
	var b [indexEntrySize]byte
	binary.BigEndian.PutUint32(b[:], e.rel)
	binary.BigEndian.PutUint32(b[4:], e.pos)
	_, err := ix.f.WriteAt(b[:], int64(len(ix.entries))*indexEntrySize)
	return err
}

// undo truncates the file back to the committed entries after a failed
// append.
func (ix *offsetIndex) undo() error {
	return ix.f.Truncate(int64(len(ix.entries)) * indexEntrySize)
}

// rewrite replaces the file's content with entries (after a rebuild).
func (ix *offsetIndex) rewrite(entries []indexEntry) error {
	b := make([]byte, 0, len(entries)*indexEntrySize)
	for _, e := range entries {
		b = binary.BigEndian.AppendUint32(b, e.rel)
		b = binary.BigEndian.AppendUint32(b, e.pos)
	}
	if err := ix.f.Truncate(0); err != nil {
		return err
	}
	if len(b) > 0 {
		if _, err := ix.f.WriteAt(b, 0); err != nil {
			return err
		}
	}
	ix.entries = entries
	return nil
}

func readAll(f file) ([]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	data := make([]byte, st.Size())
	n, err := f.ReadAt(data, 0)
	if err != nil && err != io.EOF {
		return nil, err
	}
	return data[:n], nil
}
