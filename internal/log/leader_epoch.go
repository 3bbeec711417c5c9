package log

import (
	"fmt"
	"strconv"
)

// epochEntry says that leader epoch epoch starts at offset start.
type epochEntry struct {
	epoch int32
	start int64
}

// epochCache is Kafka's leader epoch cache: the start offset of each leader
// epoch that wrote to (or led) the log, ascending in both fields, persisted
// in leader-epoch-checkpoint. Guarded by Log.state (written with Log.mu
// held).
type epochCache struct {
	entries []epochEntry
}

func (c *epochCache) latest() (epochEntry, bool) {
	if len(c.entries) == 0 {
		return epochEntry{}, false
	}
	return c.entries[len(c.entries)-1], true
}

// assign records that epoch starts at start, as Kafka's assign: nothing if
// the latest entry already has this epoch at or before start; otherwise
// entries that conflict (epoch >= epoch or start >= start) are dropped and
// the new one appended. Reports whether the cache changed.
func (c *epochCache) assign(epoch int32, start int64) bool {
	if epoch < 0 || start < 0 {
		return false
	}
	if last, ok := c.latest(); ok && last.epoch == epoch && last.start <= start {
		return false
	}
	kept := c.entries[:0:0]
	for _, e := range c.entries {
		if e.epoch < epoch && e.start < start {
			kept = append(kept, e)
		}
	}
	c.entries = append(kept, epochEntry{epoch: epoch, start: start})
	return true
}

// assignIfNewer is the append path: a batch's epoch is recorded only when
// it is newer than the latest known.
func (c *epochCache) assignIfNewer(epoch int32, start int64) bool {
	if last, ok := c.latest(); ok && epoch <= last.epoch {
		return false
	}
	return c.assign(epoch, start)
}

// truncateFromEnd drops the entries starting at or after end (the log was
// truncated to end).
func (c *epochCache) truncateFromEnd(end int64) bool {
	n := len(c.entries)
	for n > 0 && c.entries[n-1].start >= end {
		n--
	}
	changed := n != len(c.entries)
	c.entries = c.entries[:n:n]
	return changed
}

// truncateFromStart drops the entries wholly before start (the log start
// moved there); the last entry at or before start is kept, moved to start.
func (c *epochCache) truncateFromStart(start int64) bool {
	i := 0
	for i < len(c.entries) && c.entries[i].start <= start {
		i++
	}
	if i == 0 {
		return false
	}
	first := epochEntry{epoch: c.entries[i-1].epoch, start: start}
	if i == 1 && c.entries[0] == first {
		return false
	}
	c.entries = append([]epochEntry{first}, c.entries[i:]...)
	return true
}

// endOffsetFor answers OffsetForLeaderEpoch as Kafka's leader does: for the
// latest epoch, the log end offset; otherwise the largest known epoch <=
// requested and the start offset of the first epoch after it (for a
// requested epoch below every known one, the requested epoch itself and the
// first start offset); -1, -1 when the epoch is -1, larger than every known
// epoch, or the cache is empty.
func (c *epochCache) endOffsetFor(epoch int32, leo int64) (int32, int64) {
	last, ok := c.latest()
	if epoch < 0 || !ok {
		return -1, -1
	}
	if epoch == last.epoch {
		return epoch, leo
	}
	i := 0
	for i < len(c.entries) && c.entries[i].epoch <= epoch {
		i++
	}
	if i == len(c.entries) {
		return -1, -1
	}
	if i == 0 {
		return epoch, c.entries[0].start
	}
	return c.entries[i-1].epoch, c.entries[i].start
}

func (c *epochCache) lines() []string {
	out := make([]string, len(c.entries))
	for i, e := range c.entries {
		out[i] = strconv.FormatInt(int64(e.epoch), 10) + " " + strconv.FormatInt(e.start, 10)
	}
	return out
}

func parseEpochLines(lines []string) ([]epochEntry, error) {
	var out []epochEntry
	for _, l := range lines {
		v, err := parseInts(l, 2)
		if err != nil {
			return nil, err
		}
		if v[0] < 0 || v[0] > 1<<31-1 || v[1] < 0 {
			return nil, fmt.Errorf("bad entry %q", l)
		}
		e := epochEntry{epoch: int32(v[0]), start: v[1]}
		if n := len(out); n > 0 && (e.epoch <= out[n-1].epoch || e.start < out[n-1].start) {
			return nil, fmt.Errorf("entries not ascending at %q", l)
		}
		out = append(out, e)
	}
	return out, nil
}
