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
	f       file
	entries []timeEntry // guarded by Log.state
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
	i := sort.Search(len(ti.entries), func(i int) bool { return ti.entries[i].ts >= ts })
	if i == 0 {
		return 0, false
	}
	return ti.entries[i-1].rel, true
}

func (ti *timeIndex) last() (timeEntry, bool) {
	if len(ti.entries) == 0 {
		return timeEntry{}, false
	}
	return ti.entries[len(ti.entries)-1], true
}

// wants reports whether an entry with timestamp ts would be appended.
func (ti *timeIndex) wants(ts int64) bool {
	last, ok := ti.last()
	return ts >= 0 && (!ok || ts > last.ts)
}

// write writes e to the file after the committed entries; the caller adds
// it in memory under the state lock.
func (ti *timeIndex) write(e timeEntry) error {
	var b [timeEntrySize]byte
	binary.BigEndian.PutUint64(b[:], uint64(e.ts))
	binary.BigEndian.PutUint32(b[8:], e.rel)
	_, err := ti.f.WriteAt(b[:], int64(len(ti.entries))*timeEntrySize)
	return err
}

func (ti *timeIndex) undo() error {
	return ti.f.Truncate(int64(len(ti.entries)) * timeEntrySize)
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
	ti.entries = entries
	return nil
}
