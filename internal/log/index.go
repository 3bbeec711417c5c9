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
// The active segment keeps its entries in memory (and writes them to the
// file lazily, see flush). A closed segment's entries are released from
// memory: lookups binary-search the file (readers going through a segment
// in order mostly skip the index thanks to the position hint), so memory
// does not grow with the size of the log. The files are rebuilt on
// recovery.

const indexEntrySize = 8

type indexEntry struct {
	rel uint32
	pos uint32
}

type offsetIndex struct {
	f        file
	entries  []indexEntry // resident entries; guarded by Log.state, appended with Log.mu held
	written  int          // entries already in the file (Log.mu)
	released bool         // entries live only in the file (closed segment)
	onDisk   int          // number of entries in the file once released
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
	ix.written = len(ix.entries)
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

// len returns the number of entries.
func (ix *offsetIndex) len() int {
	if ix.released {
		return ix.onDisk
	}
	return len(ix.entries)
}

// at returns entry i, from memory or from the file. A read error yields
// the zero entry (position 0 is always a safe place to scan from).
func (ix *offsetIndex) at(i int) indexEntry {
	if !ix.released {
		return ix.entries[i]
	}
	var b [indexEntrySize]byte
	if _, err := ix.f.ReadAt(b[:], int64(i)*indexEntrySize); err != nil {
		return indexEntry{}
	}
	return indexEntry{rel: binary.BigEndian.Uint32(b[:]), pos: binary.BigEndian.Uint32(b[4:])}
}

// lookup returns the position of the last entry with rel <= target, or 0.
func (ix *offsetIndex) lookup(target uint32) int64 {
	i := sort.Search(ix.len(), func(i int) bool { return ix.at(i).rel > target })
	if i == 0 {
		return 0
	}
	return int64(ix.at(i - 1).pos)
}

// last returns the last entry, if any.
func (ix *offsetIndex) last() (indexEntry, bool) {
	n := ix.len()
	if n == 0 {
		return indexEntry{}, false
	}
	return ix.at(n - 1), true
}

// release drops the in-memory entries of a closed segment whose file is
// complete (the caller flushed it and holds Log.state's write lock).
func (ix *offsetIndex) release() {
	if ix.released || ix.written != len(ix.entries) {
		return
	}
	ix.onDisk, ix.entries, ix.released = len(ix.entries), nil, true
}

// flush writes the entries not yet in the file, in one write. Entries are
// written lazily (every few dozen, at roll and at Close): the file only
// needs to be complete for segments a restart trusts, and recovery rebuilds
// the others. The caller holds Log.mu.
func (ix *offsetIndex) flush() error {
	if ix.written >= len(ix.entries) {
		return nil
	}
	b := make([]byte, 0, (len(ix.entries)-ix.written)*indexEntrySize)
	for _, e := range ix.entries[ix.written:] {
		b = binary.BigEndian.AppendUint32(b, e.rel)
		b = binary.BigEndian.AppendUint32(b, e.pos)
	}
	if _, err := ix.f.WriteAt(b, int64(ix.written)*indexEntrySize); err != nil {
		return err
	}
	ix.written = len(ix.entries)
	return nil
}

func (ix *offsetIndex) pending() int { return len(ix.entries) - ix.written }

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
	ix.entries, ix.written = entries, len(entries)
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
