package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"

	"github.com/chronik-streaming/chronik/internal/batch"
)

// Idempotent producer state.
//
// Per producer id the log remembers the producer epoch, the last sequence
// number, and the last five batches appended (sequence range, offsets,
// timestamp), as Kafka does, so that a retried batch is answered with its
// original offsets instead of being written twice. The rules (Kafka 2.5+,
// KIP-360) are in check. The state lives inside the log because checking
// and appending must be one step per partition; it is guarded by Log.mu.
//
// Persistence: at every segment roll and at Close the whole state is
// written to "<20-digit offset>.snapshot", the offset being the log end
// offset it reflects. Open loads the newest valid snapshot at or below the
// log end offset and replays the headers of the batches after it.

const (
	maxCachedBatches = 5
	snapshotSuffix   = ".snapshot"
	snapshotMagic    = "CPS2" // CPS1: without the transaction fields
	snapshotMagicV1  = "CPS1"
	snapshotsToKeep  = 2
)

type batchMeta struct {
	firstSeq, lastSeq       int32
	firstOffset, lastOffset int64
	timestamp               int64
}

type producerEntry struct {
	epoch         int16
	lastSeq       int32       // batch.NoSequence when no batch in this epoch
	batches       []batchMeta // last batches of this epoch, oldest first
	lastTimestamp int64       // max timestamp of the last batch (Kafka's lastTimestamp)
	lastSeenMs    int64       // wall clock of the last append, for expiry

	// Transactions (Kafka's ProducerStateEntry): the first offset of the
	// producer's ongoing transaction in this partition (-1 when none), the
	// coordinator epoch of its last marker (-1 when none), and the last
	// batch appended if it was a marker (markerNone otherwise) with its
	// offset, to recognise a re-driven marker.
	txnFirst         int64
	coordEpoch       int32
	lastMarker       int8
	lastMarkerOffset int64
}

// Values of producerEntry.lastMarker.
const (
	markerNone   int8 = 0
	markerAbort  int8 = 1
	markerCommit int8 = 2
)

// endMarker is the content of a control batch's record: an end transaction
// marker (Kafka's EndTransactionMarker).
type endMarker struct {
	commit           bool
	coordinatorEpoch int32
}

// completedTxn is a transaction ended by a marker at lastOffset.
type completedTxn struct {
	producerID, firstOffset, lastOffset int64
	aborted                             bool
}

func newProducerEntry(epoch int16) *producerEntry {
	return &producerEntry{epoch: epoch, lastSeq: batch.NoSequence, txnFirst: -1, coordEpoch: -1, lastMarkerOffset: -1}
}

type producerState struct {
	m map[int64]*producerEntry
}

func newProducerState() *producerState {
	return &producerState{m: make(map[int64]*producerEntry)}
}

func inSequence(last, next int32) bool {
	return int64(next) == int64(last)+1 || (next == 0 && last == 1<<31-1)
}

// check validates a batch of producer h.ProducerID against the state. It
// returns the cached batch when h is a retry of one of the last five
// batches of the same epoch, ErrInvalidProducerEpoch for an older epoch,
// ErrOutOfOrderSequence for a gap (or a newer epoch not starting at 0). An
// unknown producer id is accepted at any sequence.
func (ps *producerState) check(h batch.Header) (*batchMeta, error) {
	e := ps.m[h.ProducerID]
	if e == nil {
		return nil, nil
	}
	if h.ProducerEpoch < e.epoch {
		return nil, fmt.Errorf("%w: producer %d epoch %d is older than %d", ErrInvalidProducerEpoch, h.ProducerID, h.ProducerEpoch, e.epoch)
	}
	if h.IsControl() {
		return nil, nil
	}
	if !h.IsTransactional() && e.txnFirst >= 0 {
		return nil, fmt.Errorf("%w: non-transactional batch from producer %d during its transaction (started at offset %d)", ErrInvalidTxnState, h.ProducerID, e.txnFirst)
	}
	first, last := h.BaseSequence, h.LastSequence()
	if h.ProducerEpoch > e.epoch {
		if first != 0 {
			return nil, fmt.Errorf("%w: producer %d new epoch %d must start at sequence 0, not %d", ErrOutOfOrderSequence, h.ProducerID, h.ProducerEpoch, first)
		}
		return nil, nil
	}
	for i := range e.batches {
		if b := &e.batches[i]; b.firstSeq == first && b.lastSeq == last {
			dup := *b
			return &dup, nil
		}
	}
	if !inSequence(e.lastSeq, first) {
		return nil, fmt.Errorf("%w: producer %d epoch %d expected sequence %d, got %d", ErrOutOfOrderSequence, h.ProducerID, h.ProducerEpoch, batch.IncrementSequence(e.lastSeq, 1), first)
	}
	return nil, nil
}

// update records an appended batch (also used to replay the log on open).
func (ps *producerState) update(h batch.Header, first, last, ts, nowMs int64) {
	ps.apply(h, first, last, ts, nowMs, nil)
}

// apply records an appended batch; m is the marker of a control batch
// (nil for data, or a control batch that holds no marker). A transactional
// data batch starts the producer's transaction if none is ongoing; a marker
// ends it and is returned as a completed transaction (starting at the
// marker itself when none was ongoing, as Kafka).
func (ps *producerState) apply(h batch.Header, first, last, ts, nowMs int64, m *endMarker) *completedTxn {
	e := ps.m[h.ProducerID]
	if e == nil {
		e = newProducerEntry(h.ProducerEpoch)
		ps.m[h.ProducerID] = e
	}
	if h.ProducerEpoch != e.epoch {
		e.epoch, e.lastSeq, e.batches = h.ProducerEpoch, batch.NoSequence, nil
	}
	e.lastTimestamp = ts
	if nowMs > e.lastSeenMs {
		e.lastSeenMs = nowMs
	}
	if h.IsControl() {
		if m == nil {
			return nil
		}
		ct := &completedTxn{producerID: h.ProducerID, firstOffset: e.txnFirst, lastOffset: first, aborted: !m.commit}
		if ct.firstOffset < 0 {
			ct.firstOffset = first
		}
		e.txnFirst, e.coordEpoch = -1, m.coordinatorEpoch
		e.lastMarker, e.lastMarkerOffset = markerAbort, first
		if m.commit {
			e.lastMarker = markerCommit
		}
		return ct
	}
	e.lastMarker, e.lastMarkerOffset = markerNone, -1
	if h.IsTransactional() && e.txnFirst < 0 {
		e.txnFirst = first
	}
	e.lastSeq = h.LastSequence()
	if len(e.batches) == maxCachedBatches {
		copy(e.batches, e.batches[1:])
		e.batches = e.batches[:maxCachedBatches-1]
	}
	e.batches = append(e.batches, batchMeta{
		firstSeq: h.BaseSequence, lastSeq: e.lastSeq,
		firstOffset: first, lastOffset: last, timestamp: ts,
	})
	return nil
}

// ongoing returns producer id -> first offset of every ongoing transaction.
func (ps *producerState) ongoing() map[int64]int64 {
	out := map[int64]int64{}
	for id, e := range ps.m {
		if e.txnFirst >= 0 {
			out[id] = e.txnFirst
		}
	}
	return out
}

// nextIncompleteTxn returns the smallest first offset of an ongoing
// transaction of a producer other than pid (Kafka's lastStableOffset of a
// completed transaction), or -1.
func (ps *producerState) nextIncompleteTxn(pid int64) int64 {
	first := int64(-1)
	for id, e := range ps.m {
		if id != pid && e.txnFirst >= 0 && (first < 0 || e.txnFirst < first) {
			first = e.txnFirst
		}
	}
	return first
}

// expire forgets producers not seen for expirationMs, except those with an
// ongoing transaction (as Kafka); it returns how many.
func (ps *producerState) expire(nowMs, expirationMs int64) int {
	n := 0
	for id, e := range ps.m {
		if e.txnFirst < 0 && nowMs-e.lastSeenMs >= expirationMs {
			delete(ps.m, id)
			n++
		}
	}
	return n
}

// Snapshot format (big-endian):
//
//	magic "CPS2", crc32c of everything after this field (4 bytes),
//	offset int64, count int32, then per producer:
//	id int64, epoch int16, lastSeq int32, lastTimestamp int64,
//	lastSeenMs int64, coordinatorEpoch int32, txnFirstOffset int64,
//	lastMarker int8, lastMarkerOffset int64, nbatches uint8, then per batch:
//	firstSeq int32, lastSeq int32, firstOffset int64, lastOffset int64,
//	timestamp int64
//
// "CPS1" snapshots (without the four transaction fields) are still read.
func (ps *producerState) encode(offset int64) []byte {
	ids := make([]int64, 0, len(ps.m))
	for id := range ps.m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	b := []byte(snapshotMagic + "\x00\x00\x00\x00")
	b = binary.BigEndian.AppendUint64(b, uint64(offset))
	b = binary.BigEndian.AppendUint32(b, uint32(len(ids)))
	for _, id := range ids {
		e := ps.m[id]
		b = binary.BigEndian.AppendUint64(b, uint64(id))
		b = binary.BigEndian.AppendUint16(b, uint16(e.epoch))
		b = binary.BigEndian.AppendUint32(b, uint32(e.lastSeq))
		b = binary.BigEndian.AppendUint64(b, uint64(e.lastTimestamp))
		b = binary.BigEndian.AppendUint64(b, uint64(e.lastSeenMs))
		b = binary.BigEndian.AppendUint32(b, uint32(e.coordEpoch))
		b = binary.BigEndian.AppendUint64(b, uint64(e.txnFirst))
		b = append(b, byte(e.lastMarker))
		b = binary.BigEndian.AppendUint64(b, uint64(e.lastMarkerOffset))
		b = append(b, byte(len(e.batches)))
		for _, m := range e.batches {
			b = binary.BigEndian.AppendUint32(b, uint32(m.firstSeq))
			b = binary.BigEndian.AppendUint32(b, uint32(m.lastSeq))
			b = binary.BigEndian.AppendUint64(b, uint64(m.firstOffset))
			b = binary.BigEndian.AppendUint64(b, uint64(m.lastOffset))
			b = binary.BigEndian.AppendUint64(b, uint64(m.timestamp))
		}
	}
	binary.BigEndian.PutUint32(b[4:], crc32.Checksum(b[8:], castagnoli))
	return b
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var errBadSnapshot = errors.New("bad producer snapshot")

func decodeProducerSnapshot(b []byte) (int64, *producerState, error) {
	v2 := len(b) >= 4 && string(b[:4]) == snapshotMagic
	if len(b) < 20 || !v2 && string(b[:4]) != snapshotMagicV1 {
		return 0, nil, fmt.Errorf("%w: bad magic", errBadSnapshot)
	}
	if crc32.Checksum(b[8:], castagnoli) != binary.BigEndian.Uint32(b[4:]) {
		return 0, nil, fmt.Errorf("%w: CRC mismatch", errBadSnapshot)
	}
	r := b[8:]
	need := func(n int) bool { return len(r) >= n }
	offset := int64(binary.BigEndian.Uint64(r))
	count := binary.BigEndian.Uint32(r[8:])
	r = r[12:]
	ps := newProducerState()
	for i := uint32(0); i < count; i++ {
		fixed := 31
		if v2 {
			fixed += 21
		}
		if !need(fixed) {
			return 0, nil, fmt.Errorf("%w: truncated", errBadSnapshot)
		}
		id := int64(binary.BigEndian.Uint64(r))
		e := newProducerEntry(int16(binary.BigEndian.Uint16(r[8:])))
		e.lastSeq = int32(binary.BigEndian.Uint32(r[10:]))
		e.lastTimestamp = int64(binary.BigEndian.Uint64(r[14:]))
		e.lastSeenMs = int64(binary.BigEndian.Uint64(r[22:]))
		if v2 {
			e.coordEpoch = int32(binary.BigEndian.Uint32(r[30:]))
			e.txnFirst = int64(binary.BigEndian.Uint64(r[34:]))
			e.lastMarker = int8(r[42])
			e.lastMarkerOffset = int64(binary.BigEndian.Uint64(r[43:]))
		}
		nb := int(r[fixed-1])
		r = r[fixed:]
		if nb > maxCachedBatches || !need(nb*32) {
			return 0, nil, fmt.Errorf("%w: bad batch list", errBadSnapshot)
		}
		for j := 0; j < nb; j++ {
			e.batches = append(e.batches, batchMeta{
				firstSeq:    int32(binary.BigEndian.Uint32(r)),
				lastSeq:     int32(binary.BigEndian.Uint32(r[4:])),
				firstOffset: int64(binary.BigEndian.Uint64(r[8:])),
				lastOffset:  int64(binary.BigEndian.Uint64(r[16:])),
				timestamp:   int64(binary.BigEndian.Uint64(r[24:])),
			})
			r = r[32:]
		}
		ps.m[id] = e
	}
	if len(r) != 0 {
		return 0, nil, fmt.Errorf("%w: trailing bytes", errBadSnapshot)
	}
	return offset, ps, nil
}

// listSnapshots returns the offsets of the snapshot files in dir, ascending.
func listSnapshots(dir string) ([]int64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, de := range ents {
		if off, ok := parseBaseOffset(de.Name(), snapshotSuffix); ok {
			out = append(out, off)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

func snapshotName(offset int64) string {
	return fmt.Sprintf("%020d%s", offset, snapshotSuffix)
}

// writeSnapshot writes the state as of offset and removes all but the
// newest snapshotsToKeep snapshots.
func (ps *producerState) writeSnapshot(dir string, offset int64, syncDirectory bool) error {
	if err := writeFileAtomic(dir, snapshotName(offset), ps.encode(offset), syncDirectory); err != nil {
		return err
	}
	offs, err := listSnapshots(dir)
	if err != nil {
		return err
	}
	for i := 0; i < len(offs)-snapshotsToKeep; i++ {
		os.Remove(filepath.Join(dir, snapshotName(offs[i])))
	}
	return nil
}
