package log

import (
	"encoding/binary"
	"fmt"
	"os"
	"sort"
)

// Time index (.timeindex)
//
// A sparse map from timestamp to offset inside one segment, as in Kafka.
// Each entry is 12 bytes, big-endian:
//
//	timestamp      int64    the largest timestamp in the segment so far
//	relativeOffset uint32   last offset of the batch that first reached it,
//	                        minus the segment's base offset
//
// Entries are appended alongside offset index entries (every
// IndexIntervalBytes) and once more when the segment is rolled or the log
// closed, and only when the timestamp is larger than the last entry's, so
// timestamps strictly increase. Every batch up to and including the one
// holding relativeOffset has timestamps <= timestamp; so to find the first
// record with a timestamp >= t, start from the batch of the last entry with
// timestamp < t and scan forward. The last entry holds the segment's max
// timestamp once the segment is closed.

const timeEntrySize = 12

type timeEntry struct {
	ts  int64
	rel uint32
}

type timeIndex struct {
	f        file
	entries  []timeEntry // resident entries; guarded by Log.state, appended with Log.mu held
	written  int         // entries already in the file (Log.mu)
	released bool        // entries live only in the file (closed segment)
	onDisk   int
}

func openTimeIndex(path string) (*timeIndex, error) {
	f, err := openFile(path, os.O_RDWR|os.O_CREATE)
	if err != nil {
		return nil, err
	}
	data, err := readAll(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	ti := &timeIndex{f: f}
	for i := 0; i+timeEntrySize <= len(data); i += timeEntrySize {
		ti.entries = append(ti.entries, timeEntry{
			ts:  int64(binary.BigEndian.Uint64(data[i:])),
			rel: binary.BigEndian.Uint32(data[i+8:]),
		})
	}
	if len(data)%timeEntrySize != 0 {
		ti.entries = append(ti.entries, timeEntry{ts: -1 << 63, rel: ^uint32(0)}) // forces a failed sanity check
	}
	ti.written = len(ti.entries)
	return ti, nil
}

// sane checks that timestamps strictly increase, offsets do not decrease,
// and offsets fall below relEnd.
func (ti *timeIndex) sane(relEnd int64) error {
	for i, e := range ti.entries {
		if int64(e.rel) >= relEnd {
			return fmt.Errorf("entry %d (%d,%d) beyond segment (%d offsets)", i, e.ts, e.rel, relEnd)
		}
		if i > 0 && (e.ts <= ti.entries[i-1].ts || e.rel < ti.entries[i-1].rel) {
			return fmt.Errorf("entry %d (%d,%d) not increasing", i, e.ts, e.rel)
		}
	}
	return nil
}

// lookupBefore returns the relative offset of the last entry whose
// timestamp is < ts.
func (ti *timeIndex) lookupBefore(ts int64) (uint32, bool) {
	i := sort.Search(ti.len(), func(i int) bool {
		e, ok := ti.at(i)
		return !ok || e.ts >= ts
	})
	if i == 0 {
		return 0, false
	}
	e, ok := ti.at(i - 1)
	return e.rel, ok
}

func (ti *timeIndex) len() int {
	if ti.released {
		return ti.onDisk
	}
	return len(ti.entries)
}

// at returns entry i from memory or from the file; false on a read error.
func (ti *timeIndex) at(i int) (timeEntry, bool) {
	if !ti.released {
		return ti.entries[i], true
	}
	var b [timeEntrySize]byte
	if _, err := ti.f.ReadAt(b[:], int64(i)*timeEntrySize); err != nil {
		return timeEntry{}, false
	}
	return timeEntry{ts: int64(binary.BigEndian.Uint64(b[:])), rel: binary.BigEndian.Uint32(b[8:])}, true
}

func (ti *timeIndex) last() (timeEntry, bool) {
	n := ti.len()
	if n == 0 {
		return timeEntry{}, false
	}
	return ti.at(n - 1)
}

// release drops the in-memory entries of a closed segment (see
// offsetIndex.release).
func (ti *timeIndex) release() {
	if ti.released || ti.written != len(ti.entries) {
		return
	}
	ti.onDisk, ti.entries, ti.released = len(ti.entries), nil, true
}

// wants reports whether an entry with timestamp ts would be appended.
func (ti *timeIndex) wants(ts int64) bool {
	last, ok := ti.last()
	return ts >= 0 && (!ok || ts > last.ts)
}

// flush writes the entries not yet in the file (see offsetIndex.flush).
func (ti *timeIndex) flush() error {
	if ti.written >= len(ti.entries) {
		return nil
	}
	b := make([]byte, 0, (len(ti.entries)-ti.written)*timeEntrySize)
	for _, e := range ti.entries[ti.written:] {
		b = binary.BigEndian.AppendUint64(b, uint64(e.ts))
		b = binary.BigEndian.AppendUint32(b, e.rel)
	}
	if _, err := ti.f.WriteAt(b, int64(ti.written)*timeEntrySize); err != nil {
		return err
	}
	ti.written = len(ti.entries)
	return nil
}

func (ti *timeIndex) rewrite(entries []timeEntry) error {
	b := make([]byte, 0, len(entries)*timeEntrySize)
	for _, e := range entries {
		b = binary.BigEndian.AppendUint64(b, uint64(e.ts))
		b = binary.BigEndian.AppendUint32(b, e.rel)
	}
	if err := ti.f.Truncate(0); err != nil {
		return err
	}
	if len(b) > 0 {
		if _, err := ti.f.WriteAt(b, 0); err != nil {
			return err
		}
	}
	ti.entries, ti.written = entries, len(entries)
	return nil
}
