package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/batch"
)

// Transactions, the partition log's side (Kafka's ProducerStateManager,
// TransactionIndex and read_committed reads).
//
//   - A transactional data batch (attribute bit 4) starts its producer's
//     transaction in this partition at the batch's base offset, unless one
//     is ongoing. The producer state records the first offset; it is in the
//     producer snapshot and rebuilt from the log tail on Open.
//   - AppendMarker (or Append of a control batch holding an end
//     transaction marker) ends it. An ABORT adds an AbortedTxn to the
//     .txnindex of the segment the marker is written to.
//   - The last stable offset (LSO) is the smallest first offset of the
//     ongoing transactions and of the transactions whose marker is not yet
//     below the high watermark (Kafka's unreplicated transactions), capped
//     by the high watermark and raised to the log start offset.
//   - ReadCommitted returns data below the LSO with the aborted
//     transactions overlapping it; the client drops aborted batches itself.
//   - Retention is bounded by the high watermark, as in Kafka (which does
//     not bound it by the LSO: an ongoing transaction older than the
//     retention may lose its head, and the LSO is then the log start).
//     Compaction is bounded by the LSO, drops the data of aborted
//     transactions and keeps markers (see cleaner.go).

// ErrInvalidTxnState (48): a non-transactional batch from a producer whose
// transaction is ongoing in this partition.
var ErrInvalidTxnState = errors.New("invalid transaction state")

// ErrTransactionCoordinatorFenced (52): a marker whose coordinator epoch is
// older than that of the producer's last marker here.
var ErrTransactionCoordinatorFenced = errors.New("transaction coordinator fenced")

// txnRange is a completed transaction whose marker (last) may still be at
// or above the high watermark.
type txnRange struct{ first, last int64 }

// lsoLocked computes the last stable offset (state held).
func (l *Log) lsoLocked() int64 {
	hw := l.hw.Load()
	lso := hw
	for _, f := range l.ongoingTxns {
		lso = min(lso, f)
	}
	for _, r := range l.unrepTxns {
		if r.last >= hw {
			lso = min(lso, r.first)
		}
	}
	if start := l.logStart.Load(); lso < start {
		lso = min(start, hw)
	}
	return lso
}

// pruneTxnsLocked forgets completed transactions whose marker is below the
// high watermark (state write-locked).
func (l *Log) pruneTxnsLocked() {
	hw := l.hw.Load()
	n := 0
	for _, r := range l.unrepTxns {
		if r.last >= hw {
			l.unrepTxns[n] = r
			n++
		}
	}
	l.unrepTxns = l.unrepTxns[:n]
}

// Control record types of an end transaction marker.
const (
	controlTypeAbort  = 0
	controlTypeCommit = 1
)

// parseEndMarker decodes the end transaction marker of a control batch:
// key version int16, type int16 (0 abort, 1 commit); value version int16,
// coordinatorEpoch int32. ok is false for other control records.
func parseEndMarker(b []byte) (endMarker, bool) {
	recs, err := batch.Records(b)
	if err != nil || len(recs) == 0 {
		return endMarker{}, false
	}
	k, v := recs[0].Key, recs[0].Value
	if len(k) < 4 {
		return endMarker{}, false
	}
	typ := int16(binary.BigEndian.Uint16(k[2:]))
	if typ != controlTypeAbort && typ != controlTypeCommit {
		return endMarker{}, false
	}
	m := endMarker{commit: typ == controlTypeCommit, coordinatorEpoch: -1}
	if len(v) >= 6 {
		m.coordinatorEpoch = int32(binary.BigEndian.Uint32(v[2:]))
	}
	return m, true
}

// buildMarkerBatch encodes a control batch holding one end transaction
// marker, as Kafka's MemoryRecords.withEndTransactionMarker: attributes
// transactional|control, sequence -1, CreateTime ts, base offset 0.
func buildMarkerBatch(producerID int64, epoch int16, commit bool, coordinatorEpoch int32, ts int64) []byte {
	key := make([]byte, 4)
	if commit {
		binary.BigEndian.PutUint16(key[2:], controlTypeCommit)
	}
	value := make([]byte, 6)
	binary.BigEndian.PutUint32(value[2:], uint32(coordinatorEpoch))
	r := kmsg.Record{Key: key, Value: value}
	r.Length = int32(len(r.AppendTo(nil)) - 1) // a zero length varint is one byte
	rec := r.AppendTo(nil)

	b := make([]byte, batch.HeaderSize, batch.HeaderSize+len(rec))
	noEpoch, noSeq := batch.NoLeaderEpoch, batch.NoSequence
	binary.BigEndian.PutUint32(b[12:], uint32(noEpoch))
	b[16] = batch.Magic
	binary.BigEndian.PutUint16(b[bOffAttributes:], batch.AttrTransactional|batch.AttrControl)
	binary.BigEndian.PutUint32(b[23:], 0) // lastOffsetDelta
	binary.BigEndian.PutUint64(b[bOffBaseTimestamp:], uint64(ts))
	binary.BigEndian.PutUint64(b[bOffMaxTimestamp:], uint64(ts))
	binary.BigEndian.PutUint64(b[43:], uint64(producerID))
	binary.BigEndian.PutUint16(b[51:], uint16(epoch))
	binary.BigEndian.PutUint32(b[53:], uint32(noSeq))
	binary.BigEndian.PutUint32(b[bOffNumRecords:], 1)
	b = append(b, rec...)
	binary.BigEndian.PutUint32(b[bOffBatchLength:], uint32(len(b)-batch.LengthOffset))
	binary.BigEndian.PutUint32(b[bOffCRC:], batch.ComputeCRC(b))
	return b
}

// AppendMarker writes the COMMIT (commit true) or ABORT marker of
// producerID's transaction at epoch: one control batch (transactional and
// control attributes, the producer's id and epoch, sequence -1, the
// broker's clock as CreateTime, one control record whose key is version 0
// and the type, and whose value is version 0 and coordinatorEpoch). It ends
// the producer's ongoing transaction in this partition; an ABORT records an
// AbortedTxn (first offset of the transaction, or the marker's when none
// was ongoing, to the marker's offset) in the segment's .txnindex. Like
// Append, under FsyncAlways call WaitDurable(ctx, LastOffset+1) before
// reporting the marker written.
//
// Re-driven markers: when the producer has no ongoing transaction here and
// the last batch it appended is already a marker of the same type at the
// same epoch, nothing is written and the result has Duplicate set with the
// earlier marker's offsets. The transaction coordinator sends markers again
// after a failure or a restart, and its MarkerWriter contract requires
// that to be a no-op; a second marker is harmless in Kafka, but it would
// add a second aborted-transaction entry, and skipping it changes no state
// (the skipped marker would end nothing). In every other case a marker is
// written, even for a producer without an ongoing transaction here (as
// Kafka does: the coordinator may abort a transaction that never wrote to
// this partition, or a producer state that expired).
//
// Errors: ErrInvalidProducerEpoch when epoch is older than the producer's,
// ErrTransactionCoordinatorFenced when coordinatorEpoch is older than that
// of the producer's last marker, ErrStorage, ErrClosed.
func (l *Log) AppendMarker(producerID int64, epoch int16, commit bool, coordinatorEpoch int32) (AppendResult, error) {
	if producerID < 0 {
		return AppendResult{}, fmt.Errorf("%w: marker without a producer id", ErrInvalidRecord)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.isClosed() {
		return AppendResult{}, ErrClosed
	}
	if e := l.producers.m[producerID]; e != nil {
		if epoch < e.epoch {
			return AppendResult{}, fmt.Errorf("%w: marker for producer %d at epoch %d, older than %d", ErrInvalidProducerEpoch, producerID, epoch, e.epoch)
		}
		if coordinatorEpoch < e.coordEpoch {
			return AppendResult{}, fmt.Errorf("%w: marker for producer %d with coordinator epoch %d, older than %d", ErrTransactionCoordinatorFenced, producerID, coordinatorEpoch, e.coordEpoch)
		}
		want := markerAbort
		if commit {
			want = markerCommit
		}
		if e.txnFirst < 0 && e.lastMarker == want && e.epoch == epoch {
			return AppendResult{BaseOffset: e.lastMarkerOffset, LastOffset: e.lastMarkerOffset, LogAppendTime: -1,
				LogStartOffset: l.logStart.Load(), Duplicate: true}, nil
		}
	}
	now := l.now()
	b := buildMarkerBatch(producerID, epoch, commit, coordinatorEpoch, now.UnixMilli())
	h, err := batch.ParseHeader(b)
	if err != nil {
		return AppendResult{}, fmt.Errorf("%w: marker: %w", ErrCorruptMessage, err)
	}
	return l.appendLocked(b, h, now, &endMarker{commit: commit, coordinatorEpoch: coordinatorEpoch})
}

// ReadCommitted is Read under read_committed (Kafka's FetchIsolation
// TXN_COMMITTED): batches end before the last stable offset (an offset at
// or past it gives no records and no error), and the aborted transactions
// overlapping the returned range are returned with them: those whose
// marker is at or after offset and whose first offset is below the offset
// after the last returned batch, ordered by first offset (nil when no
// records are returned or none overlap). The client skips the batches of
// an aborted transaction's producer from its first offset up to its ABORT
// marker.
func (l *Log) ReadCommitted(offset int64, maxBytes int32, minOneBatch bool) (ReadResult, []AbortedTxn, error) {
	res, err := l.read(offset, maxBytes, minOneBatch, true)
	if err != nil || len(res.Records) == 0 {
		return res, nil, err
	}
	upper := offset
	it := batch.NewIterator(res.Records)
	for it.Next() {
		upper = it.Header().NextOffset()
	}
	l.state.RLock()
	aborted := l.collectAbortedLocked(offset, upper)
	l.state.RUnlock()
	return res, aborted, nil
}

// AbortedTransactions returns the aborted transactions overlapping
// [start, upper) (marker >= start, first offset < upper), ordered by first
// offset: what ReadCommitted returns for records read by other means.
func (l *Log) AbortedTransactions(start, upper int64) []AbortedTxn {
	l.state.RLock()
	defer l.state.RUnlock()
	return l.collectAbortedLocked(start, upper)
}

// ProducerInfo describes one producer known to the partition, for
// DescribeProducers. CurrentTxnStartOffset is the first offset of its
// ongoing transaction here, -1 when none; CoordinatorEpoch is that of its
// last marker, -1 when none; LastSequence is -1 when no data batch was
// appended at the current epoch.
type ProducerInfo struct {
	ProducerID            int64
	ProducerEpoch         int16
	LastSequence          int32
	LastTimestamp         int64
	CoordinatorEpoch      int32
	CurrentTxnStartOffset int64
}

// ActiveProducers returns the producers the partition remembers (those not
// expired), by producer id.
func (l *Log) ActiveProducers() []ProducerInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]ProducerInfo, 0, len(l.producers.m))
	for id, e := range l.producers.m {
		out = append(out, ProducerInfo{
			ProducerID: id, ProducerEpoch: e.epoch, LastSequence: e.lastSeq,
			LastTimestamp: e.lastTimestamp, CoordinatorEpoch: e.coordEpoch,
			CurrentTxnStartOffset: e.txnFirst,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ProducerID < out[j].ProducerID })
	return out
}
