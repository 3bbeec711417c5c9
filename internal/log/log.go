// Package log implements one partition's log: a directory of segments in
// Kafka's layout, holding record batches (magic 2) exactly as producers sent
// them, with only the base offset and partition leader epoch rewritten (and,
// under LogAppendTime, the max timestamp and CRC).
//
// Directory content (see segment.go, index.go, timeindex.go,
// checkpoint.go, producer_state.go, txn.go):
//
//	00000000000000000000.log        record batches
//	00000000000000000000.index      sparse offset -> position
//	00000000000000000000.timeindex  sparse timestamp -> offset
//	00000000000000000000.txnindex   aborted transactions (only when any; txnindex.go)
//	00000000000000001234.snapshot   idempotent producer state at offset 1234
//	recovery-point-offset-checkpoint, log-start-offset-checkpoint,
//	leader-epoch-checkpoint, clean-shutdown
//
// Concurrency: appends, rolls and maintenance are serialised by one mutex;
// reads run concurrently with them and see only whole batches below the high
// watermark. All methods are safe for concurrent use.
package log

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chronik-streaming/chronik/internal/batch"
)

// FsyncPolicy says when appended data is fsynced and when it becomes
// readable.
type FsyncPolicy int

const (
	// FsyncAlways: the high watermark advances only over fsynced data;
	// WaitDurable triggers a group commit.
	FsyncAlways FsyncPolicy = iota
	// FsyncInterval: the high watermark advances on append; a timer
	// fsyncs every FlushIntervalMs.
	FsyncInterval
	// FsyncNever: the high watermark advances on append; only segment
	// rolls and Close fsync.
	FsyncNever
)

// TimestampType is the topic's message.timestamp.type.
type TimestampType int

const (
	// CreateTime keeps the producer's timestamps.
	CreateTime TimestampType = iota
	// LogAppendTime stamps each batch with the broker's clock on append.
	LogAppendTime
)

// Config holds the settings a log acts on (Kafka topic config names in
// parentheses). Zero values of SegmentBytes, MaxMessageBytes,
// IndexIntervalBytes, FlushIntervalMs and ProducerIDExpirationMs mean the
// Kafka default; SegmentMs <= 0 disables time-based rolling;
// MessageTimestampDifferenceMaxMs <= 0 disables that check. RetentionMs and
// RetentionBytes follow Kafka: negative is infinite and 0 keeps nothing but
// the active segment, so start from DefaultConfig.
type Config struct {
	SegmentBytes       int64         // segment.bytes (at most 2 GiB - 1)
	SegmentMs          int64         // segment.ms
	RetentionMs        int64         // retention.ms, -1 infinite
	RetentionBytes     int64         // retention.bytes, -1 infinite
	MaxMessageBytes    int32         // max.message.bytes: largest batch accepted
	TimestampType      TimestampType // message.timestamp.type
	IndexIntervalBytes int32         // index.interval.bytes
	Fsync              FsyncPolicy
	FlushIntervalMs    int64 // flush.ms, for FsyncInterval
	// ProducerIDExpirationMs (producer.id.expiration.ms): idle producers are
	// forgotten by Maintain after this long.
	ProducerIDExpirationMs int64
	// MessageTimestampDifferenceMaxMs (message.timestamp.difference.max.ms):
	// under CreateTime, a batch whose base or max timestamp is further than
	// this from the broker's clock is refused with ErrInvalidTimestamp. Only
	// the header is checked (records are not decompressed).
	MessageTimestampDifferenceMaxMs int64

	// Compaction (see cleaner.go). cleanup.policy "delete" is Compact
	// false (Delete is then ignored: retention applies); "compact" is
	// Compact true, Delete false (no retention: segments are only
	// cleaned); "compact,delete" is both true.
	Compact bool // cleanup.policy contains "compact"
	Delete  bool // cleanup.policy contains "delete" (only read when Compact is set)
	// DeleteRetentionMs (delete.retention.ms): how long tombstones stay
	// after the pass that first kept them. Negative means the default.
	DeleteRetentionMs int64
	// MinCleanableDirtyRatio (min.cleanable.dirty.ratio): Clean runs when
	// the dirty share of the cleanable bytes reaches it. Negative or NaN
	// means the default (0.5); 0 cleans whenever anything is dirty.
	MinCleanableDirtyRatio float64
	// MinCompactionLagMs (min.compaction.lag.ms): segments with records
	// younger than this are not cleaned.
	MinCompactionLagMs int64
	// MaxCompactionLagMs (max.compaction.lag.ms): Clean runs whatever the
	// dirty ratio once the first dirty batch is older than this, and the
	// active segment of a compacted log rolls at this age. <= 0 or
	// math.MaxInt64 means never.
	MaxCompactionLagMs int64
	// CleanerDedupeBufferSize (the broker's log.cleaner.dedupe.buffer.size):
	// bounds the key map of one pass, at 24 bytes a key; 0 means 32 MiB.
	CleanerDedupeBufferSize int64

	// Tiered storage (see tiered.go): with RemoteStorage
	// (remote.storage.enable), retention deletes only segments already in
	// object storage, by LocalRetentionMs/Bytes (local.retention.*; -2
	// follows retention.*).
	RemoteStorage       bool
	LocalRetentionMs    int64
	LocalRetentionBytes int64
}

// retentionApplies reports whether time and size retention delete
// segments (cleanup.policy delete or compact,delete).
func (c Config) retentionApplies() bool { return !c.Compact || c.Delete }

// segmentMs is the age at which the active segment rolls: segment.ms,
// capped by max.compaction.lag.ms on compacted logs (as Kafka).
func (c Config) segmentMs() int64 {
	ms := c.SegmentMs
	if c.Compact && c.MaxCompactionLagMs > 0 && c.MaxCompactionLagMs < math.MaxInt64 && (ms <= 0 || c.MaxCompactionLagMs < ms) {
		ms = c.MaxCompactionLagMs
	}
	return ms
}

// Kafka defaults.
const (
	DefaultSegmentBytes           = 1 << 30
	DefaultSegmentMs              = 7 * 24 * 3600 * 1000
	DefaultRetentionMs            = 7 * 24 * 3600 * 1000
	DefaultMaxMessageBytes        = 1048588
	DefaultIndexIntervalBytes     = 4096
	DefaultFlushIntervalMs        = 1000
	DefaultProducerIDExpirationMs = 24 * 3600 * 1000
)

// DefaultConfig returns Kafka's defaults with FsyncAlways.
func DefaultConfig() Config {
	return Config{
		SegmentBytes: DefaultSegmentBytes, SegmentMs: DefaultSegmentMs,
		RetentionMs: DefaultRetentionMs, RetentionBytes: -1,
		MaxMessageBytes: DefaultMaxMessageBytes, IndexIntervalBytes: DefaultIndexIntervalBytes,
		Fsync: FsyncAlways, FlushIntervalMs: DefaultFlushIntervalMs,
		ProducerIDExpirationMs: DefaultProducerIDExpirationMs,
		DeleteRetentionMs:      DefaultDeleteRetentionMs,
		MinCleanableDirtyRatio: DefaultMinCleanableDirtyRatio,
		MaxCompactionLagMs:     math.MaxInt64,
	}
}

func (c Config) withDefaults() Config {
	if c.SegmentBytes <= 0 {
		c.SegmentBytes = DefaultSegmentBytes
	}
	if c.SegmentBytes > math.MaxInt32 {
		c.SegmentBytes = math.MaxInt32
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.IndexIntervalBytes <= 0 {
		c.IndexIntervalBytes = DefaultIndexIntervalBytes
	}
	if c.FlushIntervalMs <= 0 {
		c.FlushIntervalMs = DefaultFlushIntervalMs
	}
	if c.ProducerIDExpirationMs <= 0 {
		c.ProducerIDExpirationMs = DefaultProducerIDExpirationMs
	}
	if c.DeleteRetentionMs < 0 {
		c.DeleteRetentionMs = DefaultDeleteRetentionMs
	}
	if c.MinCleanableDirtyRatio < 0 || math.IsNaN(c.MinCleanableDirtyRatio) {
		c.MinCleanableDirtyRatio = DefaultMinCleanableDirtyRatio
	}
	if c.MinCompactionLagMs < 0 {
		c.MinCompactionLagMs = 0
	}
	if c.CleanerDedupeBufferSize <= 0 {
		c.CleanerDedupeBufferSize = DefaultCleanerDedupeBufferSize
	}
	return c
}

// Errors. Each maps to one Kafka error code (see ErrorCode); returned errors
// wrap them with details, so test with errors.Is.
var (
	ErrCorruptMessage       = errors.New("corrupt message")        // 2: bad length, magic, CRC, record count
	ErrOffsetOutOfRange     = errors.New("offset out of range")    // 1
	ErrMessageTooLarge      = errors.New("message too large")      // 10: batch > MaxMessageBytes
	ErrInvalidTimestamp     = errors.New("invalid timestamp")      // 32
	ErrOutOfOrderSequence   = errors.New("out of order sequence")  // 45
	ErrInvalidProducerEpoch = errors.New("invalid producer epoch") // 47
	ErrStorage              = errors.New("storage error")          // 56: wraps the I/O error
	ErrInvalidRecord        = errors.New("invalid record")         // 87: more than one batch, idempotent batch without sequence
	ErrClosed               = errors.New("log closed")             // caller's choice (e.g. NOT_LEADER_OR_FOLLOWER)
)

// ErrorCode returns the Kafka error code for an error of this package (0
// for nil, -1 UNKNOWN_SERVER_ERROR for others, 6 NOT_LEADER_OR_FOLLOWER for
// ErrClosed).
func ErrorCode(err error) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrOffsetOutOfRange):
		return 1
	case errors.Is(err, ErrCorruptMessage):
		return 2
	case errors.Is(err, ErrMessageTooLarge):
		return 10
	case errors.Is(err, ErrInvalidTimestamp):
		return 32
	case errors.Is(err, ErrOutOfOrderSequence):
		return 45
	case errors.Is(err, ErrInvalidProducerEpoch):
		return 47
	case errors.Is(err, ErrInvalidTxnState):
		return 48
	case errors.Is(err, ErrTransactionCoordinatorFenced):
		return 52
	case errors.Is(err, ErrStorage):
		return 56
	case errors.Is(err, ErrInvalidRecord):
		return 87
	case errors.Is(err, ErrClosed):
		return 6
	}
	return -1
}

// AppendResult describes an appended batch. LogAppendTime is the broker
// timestamp under LogAppendTime, -1 under CreateTime. Duplicate reports a
// retried idempotent batch: nothing was written and the offsets are those
// of the original.
type AppendResult struct {
	BaseOffset, LastOffset, LogAppendTime, LogStartOffset int64
	Duplicate                                             bool
}

// ReadResult holds whole batches and the partition's offsets at the time of
// the read (also filled when Read returns ErrOffsetOutOfRange).
// LastStableOffset is as LastStableOffset() (the high watermark when no
// transaction is open).
type ReadResult struct {
	Records                                         []byte
	HighWatermark, LastStableOffset, LogStartOffset int64
}

// Log is one partition's log. Create it with Open.
type Log struct {
	dir    string
	logger *slog.Logger
	cfg    atomic.Pointer[Config]
	now    func() time.Time // tests replace it

	mu           sync.Mutex // serialises appends, rolls, maintenance, close
	needTruncate bool       // a failed write could not be undone (mu)
	producers    *producerState
	recoveryCkpt int64 // last recovery point written to disk (mu)

	state    sync.RWMutex // segments, sizes, in-memory indexes, hw position, epochs
	segs     []*segment
	hwSeg    *segment
	hwPos    int64
	epochs   epochCache
	closedAt atomic.Bool // set under state's write lock
	// Transactions holding the last stable offset back (see txn.go):
	// producer id -> first offset of its ongoing transaction, and
	// transactions whose marker is not yet below the high watermark.
	ongoingTxns map[int64]int64
	unrepTxns   []txnRange

	hw, leo, logStart, size atomic.Int64
	tieredUpTo              atomic.Int64 // offsets below are in object storage (tiered.go)
	syncedOffset            atomic.Int64 // everything below is fsynced
	fsyncs                  atomic.Int64
	epoch                   atomic.Int32

	cleanMu       sync.Mutex // serialises Clean
	cleanerBroken bool       // a swap failed after its commit point (mu)
	cleanHorizon  int64      // earliest delete horizon of a kept tombstone, 0 unknown (mu)

	flushMu sync.Mutex // held while fsyncing the active segment
	flusher *flusher

	notifyMu    sync.Mutex
	notifyCh    chan struct{}
	notifyTaken bool // someone holds notifyCh: the next advance must close it
}

func (l *Log) config() Config   { return *l.cfg.Load() }
func (l *Log) isClosed() bool   { return l.closedAt.Load() }
func (l *Log) nowMs() int64     { return l.now().UnixMilli() }
func (l *Log) active() *segment { return l.segs[len(l.segs)-1] }

// Open opens the log in dir, creating the directory and an empty log if
// needed, or recovering the existing one (see recovery.go). logger may be
// nil. I/O errors are wrapped in ErrStorage.
func Open(dir string, cfg Config, logger *slog.Logger) (*Log, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := cfg.withDefaults()
	l := &Log{dir: dir, logger: logger, now: time.Now, notifyCh: make(chan struct{}), producers: newProducerState(), ongoingTxns: map[int64]int64{}}
	l.cfg.Store(&c)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStorage, err)
	}
	if err := l.load(); err != nil {
		for _, s := range l.segs {
			s.close()
		}
		return nil, fmt.Errorf("%w: open %s: %w", ErrStorage, dir, err)
	}
	l.flusher = newFlusher(l)
	return l, nil
}

// Dir returns the partition directory.
func (l *Log) Dir() string { return l.dir }

// SetConfig changes the configuration live: segment size and age apply to
// the next append, retention to the next Maintain, a new fsync policy at
// once (leaving FsyncAlways makes everything written readable).
func (l *Log) SetConfig(cfg Config) {
	c := cfg.withDefaults()
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.cfg.Swap(&c)
	if l.isClosed() {
		return
	}
	if old.Fsync != c.Fsync || old.FlushIntervalMs != c.FlushIntervalMs {
		l.flusher.configChanged()
	}
	if c.Fsync != FsyncAlways {
		l.state.Lock()
		s := l.active()
		advanced := l.advanceHWLocked(l.leo.Load(), s, s.size)
		l.state.Unlock()
		if advanced {
			l.wake()
		}
	}
}

// HighWatermark is the offset below which records are readable (and, under
// FsyncAlways, fsynced).
func (l *Log) HighWatermark() int64 { return l.hw.Load() }

// LastStableOffset is the offset below which every transaction is
// decided: the first offset of the earliest transaction still ongoing (or
// whose marker is not yet below the high watermark), never above the high
// watermark nor below the log start offset (as Kafka). It equals the high
// watermark when no transaction is open. ListOffsets "latest" under
// read_committed answers it.
func (l *Log) LastStableOffset() int64 {
	l.state.RLock()
	defer l.state.RUnlock()
	return l.lsoLocked()
}

// LogStartOffset is the first offset still in the log.
func (l *Log) LogStartOffset() int64 { return l.logStart.Load() }

// LogEndOffset is the offset the next appended record will get.
func (l *Log) LogEndOffset() int64 { return l.leo.Load() }

// Size is the total size in bytes of the segment files.
func (l *Log) Size() int64 { return l.size.Load() }

// LeaderEpoch is the epoch stamped into appended batches.
func (l *Log) LeaderEpoch() int32 { return l.epoch.Load() }

// SetLeaderEpoch sets the epoch stamped into appended batches and, like a
// Kafka leader taking over, records in the leader epoch cache (and its
// checkpoint file) that the epoch starts at the current log end offset.
func (l *Log) SetLeaderEpoch(e int32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.epoch.Store(e)
	if l.isClosed() {
		return
	}
	l.state.Lock()
	changed := l.epochs.assign(e, l.leo.Load())
	lines := l.epochs.lines()
	l.state.Unlock()
	if changed {
		l.writeEpochCheckpoint(lines)
	}
}

func (l *Log) writeEpochCheckpoint(lines []string) {
	if err := writeCheckpoint(l.dir, leaderEpochFile, lines, true); err != nil {
		l.logger.Warn("cannot write leader epoch checkpoint", "dir", l.dir, "err", err)
	}
}

// EndOffsetForLeaderEpoch answers OffsetForLeaderEpoch as Kafka does: the
// largest known epoch <= epoch and the start offset of the epoch after it,
// or the log end offset when epoch is the latest; (-1, -1) when the epoch
// is unknown (-1, or newer than any).
func (l *Log) EndOffsetForLeaderEpoch(epoch int32) (leaderEpoch int32, endOffset int64) {
	l.state.RLock()
	defer l.state.RUnlock()
	return l.epochs.endOffsetFor(epoch, l.leo.Load())
}

// Notify returns a channel closed the next time the high watermark
// advances (or the log closes). Take the channel before checking the
// condition to wait for, so an advance in between is not missed.
func (l *Log) Notify() <-chan struct{} {
	l.notifyMu.Lock()
	defer l.notifyMu.Unlock()
	l.notifyTaken = true
	return l.notifyCh
}

func (l *Log) wake() {
	l.notifyMu.Lock()
	defer l.notifyMu.Unlock()
	if l.isClosed() || !l.notifyTaken {
		return // closed for good, or nobody is waiting
	}
	close(l.notifyCh)
	l.notifyCh = make(chan struct{})
	l.notifyTaken = false
}

// advanceHWLocked moves the high watermark to off (at pos in s) if that is
// forward. The caller holds state's write lock.
func (l *Log) advanceHWLocked(off int64, s *segment, pos int64) bool {
	if off <= l.hw.Load() {
		return false
	}
	l.hwSeg, l.hwPos = s, pos
	l.hw.Store(off)
	l.pruneTxnsLocked()
	return true
}

// validate checks a batch before taking the log's lock.
func (l *Log) validate(b []byte, cfg *Config, nowMs int64) (batch.Header, error) {
	h, err := batch.ParseHeader(b)
	if err != nil {
		return h, fmt.Errorf("%w: %w", ErrCorruptMessage, err)
	}
	if int64(len(b)) > h.Size() {
		return h, fmt.Errorf("%w: %d bytes after the first batch (one batch per append)", ErrInvalidRecord, int64(len(b))-h.Size())
	}
	if int64(len(b)) > int64(cfg.MaxMessageBytes) {
		return h, fmt.Errorf("%w: batch of %d bytes, max.message.bytes is %d", ErrMessageTooLarge, len(b), cfg.MaxMessageBytes)
	}
	if _, err := batch.Validate(b); err != nil {
		return h, fmt.Errorf("%w: %w", ErrCorruptMessage, err)
	}
	if h.HasProducerID() && !h.IsControl() && h.BaseSequence < 0 {
		return h, fmt.Errorf("%w: producer %d batch without a sequence number", ErrInvalidRecord, h.ProducerID)
	}
	if cfg.Compact {
		if err := validateCompactable(b, h); err != nil {
			return h, err
		}
	}
	if d := cfg.MessageTimestampDifferenceMaxMs; d > 0 && cfg.TimestampType == CreateTime {
		for _, ts := range []int64{h.BaseTimestamp, h.MaxTimestamp} {
			if ts < nowMs-d || ts > nowMs+d {
				return h, fmt.Errorf("%w: timestamp %d is more than %d ms from %d", ErrInvalidTimestamp, ts, d, nowMs)
			}
		}
	}
	return h, nil
}

// Append appends exactly one record batch (magic 2), as sent by a client.
// It checks framing, CRC-32C and record count without decompressing,
// applies the idempotent producer rules, then assigns offsets by rewriting
// the batch's base offset and partition leader epoch in place (b is
// modified; under LogAppendTime also the max timestamp, the timestamp type
// bit and the CRC). Control batches are accepted. Under FsyncAlways the
// records become readable only after a flush: call WaitDurable(ctx,
// LastOffset+1) before acknowledging.
//
// Transactional batches (attribute bit 4) start the producer's transaction
// in this partition (see txn.go); a control batch holding an end
// transaction marker ends it, as AppendMarker does.
//
// Errors: ErrCorruptMessage, ErrInvalidRecord, ErrMessageTooLarge,
// ErrInvalidTimestamp, ErrOutOfOrderSequence, ErrInvalidProducerEpoch,
// ErrInvalidRecord also for a record without a key on a compacted log
// (only then are the records decompressed and decoded),
// ErrStorage (nothing was written; the log stays usable), ErrClosed.
func (l *Log) Append(b []byte) (AppendResult, error) {
	cfg := l.cfg.Load()
	now := l.now()
	h, err := l.validate(b, cfg, now.UnixMilli())
	if err != nil {
		return AppendResult{}, err
	}

	var marker *endMarker
	if h.IsControl() && h.HasProducerID() {
		if m, ok := parseEndMarker(b); ok {
			marker = &m
		}
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if l.isClosed() {
		return AppendResult{}, ErrClosed
	}
	return l.appendLocked(b, h, now, marker)
}

// appendLocked appends a validated batch (mu held).
func (l *Log) appendLocked(b []byte, h batch.Header, now time.Time, marker *endMarker) (AppendResult, error) {
	cfg := l.cfg.Load()
	if err := l.retryTruncate(); err != nil {
		return AppendResult{}, err
	}
	if h.HasProducerID() {
		dup, err := l.producers.check(h)
		if err != nil {
			return AppendResult{}, err
		}
		if dup != nil {
			res := AppendResult{BaseOffset: dup.firstOffset, LastOffset: dup.lastOffset, LogAppendTime: -1, LogStartOffset: l.logStart.Load(), Duplicate: true}
			if cfg.TimestampType == LogAppendTime {
				res.LogAppendTime = dup.timestamp
			}
			return res, nil
		}
	}

	size := int64(len(b))
	if l.shouldRoll(l.active(), h, size, now, cfg) {
		if err := l.roll(now); err != nil {
			return AppendResult{}, err
		}
	}
	seg := l.active()
	base := l.leo.Load()
	last := base + int64(h.LastOffsetDelta)
	epoch := l.epoch.Load()
	batch.SetBaseOffset(b, base)
	batch.SetPartitionLeaderEpoch(b, epoch)
	res := AppendResult{BaseOffset: base, LastOffset: last, LogAppendTime: -1}
	maxTS := h.MaxTimestamp
	if cfg.TimestampType == LogAppendTime {
		res.LogAppendTime = now.UnixMilli()
		maxTS = res.LogAppendTime
		batch.SetLogAppendTime(b, maxTS)
	}

	p := seg.plan(seg.size, size, last, maxTS, int64(cfg.IndexIntervalBytes))
	if werr, undone := seg.writeBatch(b, p); werr != nil {
		l.needTruncate = !undone
		l.logger.Error("append failed", "file", seg.log.Name(), "offset", base, "err", werr)
		return AppendResult{}, fmt.Errorf("%w: write %s: %w", ErrStorage, seg.log.Name(), werr)
	}
	if seg.size == 0 {
		seg.rollBase = now
	}
	// Producer state first, so that a transaction holds the last stable
	// offset back before the high watermark moves over its first batch.
	var txnStarted bool
	var done *completedTxn
	var aborted AbortedTxn
	if h.HasProducerID() {
		before := l.producers.m[h.ProducerID]
		wasOngoing := before != nil && before.txnFirst >= 0
		done = l.producers.apply(h, base, last, maxTS, now.UnixMilli(), marker)
		txnStarted = !wasOngoing && l.producers.m[h.ProducerID].txnFirst >= 0
		if done != nil && done.aborted {
			lso := l.producers.nextIncompleteTxn(h.ProducerID)
			if lso < 0 {
				lso = done.lastOffset + 1
			}
			aborted = AbortedTxn{ProducerID: done.producerID, FirstOffset: done.firstOffset, LastOffset: done.lastOffset, LastStableOffset: lso}
		}
	}

	l.state.Lock()
	if txnStarted {
		l.ongoingTxns[h.ProducerID] = base
	}
	if done != nil {
		delete(l.ongoingTxns, h.ProducerID)
		l.unrepTxns = append(l.unrepTxns, txnRange{first: done.firstOffset, last: done.lastOffset})
		if done.aborted {
			seg.txn.entries = append(seg.txn.entries, aborted)
		}
	}
	seg.commit(p)
	l.leo.Store(last + 1)
	l.size.Add(size)
	epochChanged := l.epochs.assignIfNewer(epoch, base)
	var epochLines []string
	if epochChanged {
		epochLines = l.epochs.lines()
	}
	advanced := false
	if cfg.Fsync != FsyncAlways {
		advanced = l.advanceHWLocked(last+1, seg, seg.size)
	}
	l.pruneTxnsLocked()
	l.state.Unlock()

	if done != nil && done.aborted {
		if err := seg.txn.flush(); err != nil {
			l.logger.Warn("cannot write transaction index entry (kept in memory)", "file", seg.txn.path, "err", err)
		}
	}
	if seg.index.pending() >= indexFlushEvery || seg.timeIndex.written+indexFlushEvery <= len(seg.timeIndex.entries) {
		if err := seg.flushIndexes(); err != nil {
			l.logger.Warn("cannot write index entries (kept in memory)", "file", seg.log.Name(), "err", err)
		}
	}
	if epochChanged {
		l.writeEpochCheckpoint(epochLines)
	}
	if advanced {
		l.wake()
	} else if cfg.Fsync == FsyncAlways {
		l.flusher.wake()
	}
	res.LogStartOffset = l.logStart.Load()
	return res, nil
}

// retryTruncate undoes the tail of a write that failed and could not be
// truncated at the time.
func (l *Log) retryTruncate() error {
	if !l.needTruncate {
		return nil
	}
	s := l.active()
	if err := s.log.Truncate(s.size); err != nil {
		return fmt.Errorf("%w: truncate %s: %w", ErrStorage, s.log.Name(), err)
	}
	l.needTruncate = false
	return nil
}

// shouldRoll applies Kafka's roll rules to the next batch: the segment is
// not empty and the batch does not fit segment.bytes, or the segment is
// older than segment.ms, or the batch's offsets or positions would not fit
// the 32-bit relative fields of the indexes.
func (l *Log) shouldRoll(s *segment, h batch.Header, size int64, now time.Time, cfg *Config) bool {
	if s.size == 0 {
		return false
	}
	last := l.leo.Load() + int64(h.LastOffsetDelta)
	return s.size+size > cfg.SegmentBytes ||
		s.size+size > math.MaxInt32 ||
		last-s.base > math.MaxInt32 ||
		(cfg.segmentMs() > 0 && now.Sub(s.rollBase).Milliseconds() >= cfg.segmentMs())
}

// roll closes the active segment (final time index entry, fsync of all its
// files) and starts a new one at the log end offset; it also snapshots the
// producer state and checkpoints the recovery point, as Kafka does.
func (l *Log) roll(now time.Time) error {
	old := l.active()
	old.addFinalTimeEntry(&l.state)
	if err := old.flushIndexes(); err != nil {
		return fmt.Errorf("%w: roll: write index of %s: %w", ErrStorage, old.log.Name(), err)
	}
	err := old.syncAll()
	l.fsyncs.Add(1)
	if err != nil {
		return fmt.Errorf("%w: roll: fsync %s: %w", ErrStorage, old.log.Name(), err)
	}
	leo := l.leo.Load()
	l.markSynced(leo)
	l.state.Lock()
	advanced := l.advanceHWLocked(leo, old, old.size)
	old.releaseIndexes()
	l.state.Unlock()
	if advanced {
		l.wake()
	}
	s, err := openSegment(l.dir, leo, true)
	if err != nil {
		return fmt.Errorf("%w: roll: create segment %d: %w", ErrStorage, leo, err)
	}
	if err := syncDir(l.dir); err != nil {
		s.close()
		s.remove(l.dir)
		return fmt.Errorf("%w: roll: %w", ErrStorage, err)
	}
	s.rollBase = now
	l.state.Lock()
	l.segs = append(l.segs, s)
	l.state.Unlock()
	l.logger.Debug("rolled segment", "dir", l.dir, "base", leo)
	if err := l.producers.writeSnapshot(l.dir, leo, true); err != nil {
		l.logger.Warn("cannot write producer snapshot", "dir", l.dir, "offset", leo, "err", err)
	}
	l.checkpointRecoveryPoint()
	return nil
}

// checkpointRecoveryPoint writes the recovery point if it moved (mu held).
func (l *Log) checkpointRecoveryPoint() {
	rp := l.syncedOffset.Load()
	if rp == l.recoveryCkpt {
		return
	}
	if err := writeOffsetCheckpoint(l.dir, recoveryPointFile, rp, true); err != nil {
		l.logger.Warn("cannot write recovery point", "dir", l.dir, "err", err)
		return
	}
	l.recoveryCkpt = rp
}

// Read returns whole batches starting with the one that holds offset, up to
// maxBytes in total (with minOneBatch, the first batch is returned whole even
// if larger) and never past the high watermark; batches come from one
// segment. offset at or past the high watermark (up to the log end offset)
// gives no records and no error; offset below the log start or past the log
// end gives ErrOffsetOutOfRange. The first batch may start before offset
// (the client skips those records).
//
// Read is Kafka's read_uncommitted (FetchIsolation HIGH_WATERMARK); see
// ReadCommitted for read_committed.
func (l *Log) Read(offset int64, maxBytes int32, minOneBatch bool) (ReadResult, error) {
	return l.read(offset, maxBytes, minOneBatch, false)
}

// read is Read, bounded by the last stable offset instead of the high
// watermark when committed is set.
func (l *Log) read(offset int64, maxBytes int32, minOneBatch, committed bool) (ReadResult, error) {
	if maxBytes > maxReadBytes {
		maxBytes = maxReadBytes
	}
	after := int64(-1) // base of the last segment searched
	for {
		// Under the state lock: pick the segment and the readable range.
		// The file is then read under the segment's io lock only, so that
		// appends (which need the state lock briefly) do not wait for reads.
		l.state.RLock()
		hw := l.hw.Load()
		res := ReadResult{HighWatermark: hw, LastStableOffset: l.lsoLocked(), LogStartOffset: l.logStart.Load()}
		bound := hw
		if committed {
			bound = res.LastStableOffset
		}
		if l.isClosed() {
			l.state.RUnlock()
			return res, ErrClosed
		}
		if offset < res.LogStartOffset || offset > l.leo.Load() {
			leo := l.leo.Load()
			l.state.RUnlock()
			return res, fmt.Errorf("%w: %d not in [%d, %d]", ErrOffsetOutOfRange, offset, res.LogStartOffset, leo)
		}
		if offset >= bound || (maxBytes <= 0 && !minOneBatch) {
			l.state.RUnlock()
			return res, nil
		}
		i := l.segmentIndexLocked(offset)
		for i < len(l.segs) && l.segs[i].base <= after {
			i++
		}
		if i == len(l.segs) {
			l.state.RUnlock()
			return res, nil
		}
		s := l.segs[i]
		if s.base >= bound {
			l.state.RUnlock()
			return res, nil
		}
		limit := l.readLimitLocked(s)
		// Under read_committed, a segment holding the last stable offset
		// is read up to the batch that holds it.
		lsoIn := committed && bound < hw && s.next > bound
		lsoStart := int64(0)
		if lsoIn && limit > 0 {
			lsoStart = s.startPos(bound, limit)
		}
		if limit <= 0 {
			if s.size == 0 && s.base < l.hwSeg.base {
				// A closed segment left empty by the cleaner.
				after = s.base
				l.state.RUnlock()
				continue
			}
			l.state.RUnlock()
			return res, nil
		}
		start := s.startPos(offset, limit)
		s.io.RLock()
		l.state.RUnlock()

		var err error
		if lsoIn {
			var lpos int64
			var found bool
			if lpos, found, err = s.findFrom(lsoStart, bound, limit); err == nil && found {
				limit = lpos
			}
		}
		pos, ok := int64(0), false
		if err == nil {
			pos, ok, err = s.findFrom(start, offset, limit)
		}
		var data []byte
		if err == nil && ok {
			data, err = s.readBatches(pos, limit, maxBytes, minOneBatch)
		}
		s.io.RUnlock()
		if err != nil {
			return res, l.readError(s, err)
		}
		if ok {
			res.Records = data
			return res, nil
		}
		if lsoIn {
			return res, nil // offset is in the batch holding the LSO
		}
		after = s.base // offset falls after this segment's last batch
	}
}

// maxReadBytes caps one Read, whatever maxBytes asks (the first batch with
// minOneBatch excepted).
const maxReadBytes = 64 << 20

func (l *Log) readError(s *segment, err error) error {
	l.logger.Error("read failed", "file", s.log.Name(), "err", err)
	return fmt.Errorf("%w: read %s: %w", ErrStorage, s.log.Name(), err)
}

// segmentIndexLocked returns the index of the last segment whose base is
// <= offset (0 if none).
func (l *Log) segmentIndexLocked(offset int64) int {
	lo, hi := 0, len(l.segs)
	for lo < hi {
		m := (lo + hi) / 2
		if l.segs[m].base <= offset {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return 0
	}
	return lo - 1
}

// readLimitLocked is the readable end of s: all of it below the high
// watermark's segment, up to the high watermark in it, nothing after.
func (l *Log) readLimitLocked(s *segment) int64 {
	switch {
	case s == l.hwSeg:
		return l.hwPos
	case s.base < l.hwSeg.base:
		return s.size
	}
	return 0
}

// Close flushes and fsyncs everything, writes the producer snapshot and the
// checkpoints, marks a clean shutdown and closes the files. Waiting
// WaitDurable calls for written offsets succeed; later calls return
// ErrClosed. Close is idempotent.
func (l *Log) Close() error {
	return l.shutdown(true)
}

// Delete closes the log without checkpoints and removes its directory.
func (l *Log) Delete() error {
	if err := l.shutdown(false); err != nil && !errors.Is(err, ErrStorage) {
		return err
	}
	if err := os.RemoveAll(l.dir); err != nil {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	return nil
}

func (l *Log) shutdown(clean bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.isClosed() {
		return nil
	}
	var errs []error
	if clean {
		// Final flush first, so that pending WaitDurable calls succeed.
		l.flushMu.Lock()
		errs = append(errs, l.retryTruncate())
		s := l.active()
		s.addFinalTimeEntry(&l.state)
		errs = append(errs, s.flushIndexes())
		err := s.syncAll()
		l.fsyncs.Add(1)
		errs = append(errs, err)
		leo := l.leo.Load()
		if err == nil {
			l.markSynced(leo)
			l.state.Lock()
			advanced := l.advanceHWLocked(leo, s, s.size)
			l.state.Unlock()
			if advanced {
				l.wake()
			}
		}
		l.flushMu.Unlock()
		l.flusher.shutdown()
		errs = append(errs,
			l.producers.writeSnapshot(l.dir, leo, false),
			writeOffsetCheckpoint(l.dir, recoveryPointFile, l.syncedOffset.Load(), false),
			writeOffsetCheckpoint(l.dir, logStartFile, l.logStart.Load(), false),
		)
		l.state.RLock()
		lines := l.epochs.lines()
		l.state.RUnlock()
		errs = append(errs, writeCheckpoint(l.dir, leaderEpochFile, lines, false))
		if errors.Join(errs...) == nil {
			marker := fmt.Sprintf("%d %d %d", leo, s.base, s.size)
			errs = append(errs, writeCheckpoint(l.dir, cleanShutdownFile, []string{marker}, false))
		}
		errs = append(errs, syncDir(l.dir))
	} else {
		l.flusher.shutdown()
	}
	l.flushMu.Lock()
	defer l.flushMu.Unlock()

	l.state.Lock()
	l.closedAt.Store(true)
	for _, s := range l.segs {
		errs = append(errs, s.close())
	}
	l.state.Unlock()

	l.notifyMu.Lock()
	close(l.notifyCh) // wakes long polls for good; wake() no longer replaces it
	l.notifyMu.Unlock()

	if err := errors.Join(errs...); err != nil {
		l.logger.Error("close failed", "dir", l.dir, "err", err)
		return fmt.Errorf("%w: close %s: %w", ErrStorage, l.dir, err)
	}
	return nil
}
