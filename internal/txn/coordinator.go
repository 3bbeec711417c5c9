package txn

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Config configures the Coordinator. Zero fields take Kafka's defaults.
type Config struct {
	// MaxTimeout is transaction.max.timeout.ms (default 15 minutes).
	MaxTimeout time.Duration
	// ExpirationCheck is how often timed-out transactions are aborted and
	// idle transactional ids expired (Kafka's
	// transaction.abort.timed.out.transaction.cleanup.interval.ms, 10s).
	ExpirationCheck time.Duration
	// TransactionalIDExpiration is transactional.id.expiration.ms (7 days):
	// a transactional id with no transaction in progress and no state change
	// for this long is forgotten.
	TransactionalIDExpiration time.Duration
	// Now is the clock (time.Now by default).
	Now func() time.Time

	// retryMin and retryMax bound the backoff between attempts at writing
	// a transaction's markers (100ms to 5s; tests shorten them).
	retryMin, retryMax time.Duration
}

// TP is a topic partition.
type TP struct {
	Topic     string `json:"t"`
	Partition int32  `json:"p"`
}

// MarkerWriter writes the COMMIT or ABORT control batch of producerID at
// epoch into each partition and makes them durable before returning nil.
//
// The coordinator calls it after the PrepareCommit/PrepareAbort decision is
// durable, and calls it again for the same transaction after a failure, and
// after a restart for every transaction still in PrepareCommit/PrepareAbort.
// So the log side must make it idempotent: a marker for (producerID, epoch)
// whose transaction is no longer open in the partition (because that marker
// was already written) must be a no-op, not a second marker. It runs with
// the coordinator's context, cancelled by Close, not the request's.
type MarkerWriter interface {
	WriteMarkers(ctx context.Context, producerID int64, epoch int16, commit bool, partitions []TP) error
}

// OffsetMaterializer commits (commit=true) or discards a group's pending
// transactional offsets of producerID when its transaction ends. Like
// WriteMarkers it is called again after a failure or a restart, so it must
// be idempotent. It is called after WriteMarkers succeeded.
type OffsetMaterializer interface {
	CompleteTxnOffsets(producerID int64, groups []string, commit bool) error
}

// Description is one DescribeTransactions answer.
type Description struct {
	TransactionalID string
	// Err is nil, ErrTransactionalIDNotFound, ErrInvalidRequest (empty id)
	// or ErrCoordinatorNotAvailable (closed); the other fields are set only
	// when it is nil.
	Err                    error
	State                  string
	ProducerID             int64
	ProducerEpoch          int16
	TransactionTimeoutMs   int32
	TransactionStartTimeMs int64 // -1 when no transaction is in progress
	Partitions             []TP
	// Groups whose offsets are in the transaction (Kafka lists their
	// __consumer_offsets partitions among the topics).
	Groups []string
}

// Listing is one ListTransactions entry.
type Listing struct {
	TransactionalID string
	ProducerID      int64
	State           string
}

// Coordinator is the transaction coordinator: it owns every transactional
// id's producer id, epoch and transaction state, persisted in a bbolt file
// (each state change is fsynced before it is answered), and drives the
// completion of transactions through MarkerWriter and OffsetMaterializer.
// It is safe for concurrent use.
type Coordinator struct {
	db      *bolt.DB
	ids     *ProducerIDs
	markers MarkerWriter
	offsets OffsetMaterializer
	cfg     Config
	log     *slog.Logger

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // background loop and completions

	closeMu sync.RWMutex // held shared by every call, exclusively by Close
	closed  bool

	mu   sync.Mutex // guards txns (the map only; entries have their own lock)
	txns map[string]*entry
}

// entry is one transactional id. mu is held across a whole transition,
// including its fsync, so transitions of one id are serialised; marker
// writing happens outside it, while the state is PrepareCommit/Abort.
type entry struct {
	id      string
	mu      sync.Mutex
	m       txnMeta
	removed bool        // expired and deleted: look the id up again
	comp    *completion // running completion of a PrepareCommit/Abort
}

type completion struct {
	attempted chan struct{} // closed after the first marker attempt
	done      chan struct{} // closed when the completion goroutine exits
}

var bucketName = []byte("transactions")

// OpenCoordinator opens (creating if needed) the transaction state in
// <dir>/transactions.db, loads all of it, starts completing the
// transactions a crash left in PrepareCommit/PrepareAbort (their markers
// are written again), and starts the timeout/expiration loop.
func OpenCoordinator(dir string, ids *ProducerIDs, markers MarkerWriter, offsets OffsetMaterializer, cfg Config, logger *slog.Logger) (*Coordinator, error) {
	if cfg.MaxTimeout <= 0 {
		cfg.MaxTimeout = 15 * time.Minute
	}
	if cfg.ExpirationCheck <= 0 {
		cfg.ExpirationCheck = 10 * time.Second
	}
	if cfg.TransactionalIDExpiration <= 0 {
		cfg.TransactionalIDExpiration = 7 * 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.retryMin <= 0 {
		cfg.retryMin = 100 * time.Millisecond
	}
	if cfg.retryMax < cfg.retryMin {
		cfg.retryMax = max(5*time.Second, cfg.retryMin)
	}
	if logger == nil {
		logger = slog.Default()
	}
	db, err := bolt.Open(filepath.Join(dir, "transactions.db"), 0o644, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("txn: open state: %w", err)
	}
	c := &Coordinator{
		db: db, ids: ids, markers: markers, offsets: offsets, cfg: cfg,
		log:  logger.With("component", "txn-coordinator"),
		txns: map[string]*entry{},
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketName)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			m, err := decodeMeta(v)
			if err != nil {
				return fmt.Errorf("transactional id %q: %w", k, err)
			}
			c.txns[string(k)] = &entry{id: string(k), m: m}
			return nil
		})
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("txn: load state: %w", err)
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	recovering := 0
	for _, e := range c.txns {
		if e.m.State.preparing() {
			recovering++
			e.mu.Lock()
			c.startCompletionLocked(e)
			e.mu.Unlock()
		}
	}
	c.log.Info("transaction state loaded", "transactional_ids", len(c.txns), "completing", recovering)
	c.wg.Add(1)
	go c.loop()
	return c, nil
}

// Close stops the background work (marker writes in progress are cancelled
// and resumed on the next open) and closes the state file. Calls after
// Close answer ErrCoordinatorNotAvailable.
func (c *Coordinator) Close() error {
	c.cancel()
	c.closeMu.Lock()
	if c.closed {
		c.closeMu.Unlock()
		return nil
	}
	c.closed = true
	c.closeMu.Unlock()
	c.wg.Wait()
	return c.db.Close()
}

// enter guards a call against Close; the returned func must be called.
func (c *Coordinator) enter() (func(), error) {
	c.closeMu.RLock()
	if c.closed {
		c.closeMu.RUnlock()
		return nil, ErrCoordinatorNotAvailable
	}
	return c.closeMu.RUnlock, nil
}

func (c *Coordinator) nowMs() int64 { return c.cfg.Now().UnixMilli() }

func (c *Coordinator) lookup(id string) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.txns[id]
}

// persist makes m the durable state of id (bbolt fsyncs on commit).
func (c *Coordinator) persist(id string, m txnMeta) error {
	v, err := m.encode()
	if err != nil {
		return err
	}
	err = c.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketName).Put([]byte(id), v) })
	if err != nil {
		c.log.Error("persisting transaction state failed", "transactional_id", id, "err", err)
		return fmt.Errorf("%w: persist transaction state: %v", ErrCoordinatorNotAvailable, err)
	}
	return nil
}

// transition persists next as e's state and applies it. e.mu must be held.
func (c *Coordinator) transition(e *entry, next txnMeta) error {
	next.PrevProducerID = e.m.ProducerID
	if err := c.persist(e.id, next); err != nil {
		return err
	}
	e.m = next
	return nil
}

func (c *Coordinator) nextProducerID() (int64, error) {
	id, err := c.ids.Next()
	if err != nil {
		return noProducerID, fmt.Errorf("%w: allocate producer id: %v", ErrCoordinatorNotAvailable, err)
	}
	return id, nil
}

// InitProducerID handles InitProducerId for a transactional id (an
// idempotent producer without one gets an id from ProducerIDs directly).
// producerID and epoch are the request's (-1, -1 when the producer has none;
// KIP-360 producers send their current ones to bump the epoch and keep
// going). It returns the producer id and epoch the producer must use.
//
// As in Kafka: ErrInvalidRequest for an empty id or only one of
// producerID/epoch being -1; ErrInvalidTransactionTimeout; ErrProducerFenced
// when the given producer id/epoch is not the current (or, for a retry, the
// previous) one; ErrConcurrentTransactions while the previous transaction
// completes. An Ongoing transaction is first aborted with a bumped epoch
// (fencing its producer); if the abort completes before ctx ends the call
// then proceeds as if the transaction had been complete, otherwise it
// answers ErrConcurrentTransactions and the client retries. Once the epoch
// is exhausted (Short.MaxValue-1) a new producer id with epoch 0 is issued.
func (c *Coordinator) InitProducerID(ctx context.Context, transactionalID string, timeout time.Duration, producerID int64, epoch int16) (int64, int16, error) {
	exit, err := c.enter()
	if err != nil {
		return noProducerID, noEpoch, err
	}
	defer exit()
	if transactionalID == "" || (producerID == noProducerID) != (epoch == noEpoch) {
		return noProducerID, noEpoch, ErrInvalidRequest
	}
	if timeout.Milliseconds() <= 0 || timeout > c.cfg.MaxTimeout {
		return noProducerID, noEpoch, ErrInvalidTransactionTimeout
	}
	expected := producerID != noProducerID
	fenced := false
	for {
		e, err := c.getOrCreate(transactionalID, timeout)
		if err != nil {
			return noProducerID, noEpoch, err
		}
		e.mu.Lock()
		if e.removed {
			e.mu.Unlock()
			continue
		}
		m := e.m
		validID := m.Epoch == noEpoch || producerID == m.ProducerID ||
			(producerID == m.PrevProducerID && epochExhausted(epoch))
		if expected && !validID {
			e.mu.Unlock()
			return noProducerID, noEpoch, ErrProducerFenced
		}
		switch {
		case m.State.preparing():
			e.mu.Unlock()
			return noProducerID, noEpoch, ErrConcurrentTransactions
		case m.State == StateOngoing:
			if fenced { // aborted once already in this call; don't loop
				e.mu.Unlock()
				return noProducerID, noEpoch, ErrConcurrentTransactions
			}
			comp, err := c.fenceLocked(e, "producer re-initialised")
			e.mu.Unlock()
			if err != nil {
				return noProducerID, noEpoch, err
			}
			fenced = true
			select {
			case <-comp.attempted:
			case <-ctx.Done():
			case <-c.ctx.Done():
			}
			continue
		}
		pid, ep, err := c.initCompletedLocked(e, timeout, expected, epoch)
		e.mu.Unlock()
		if err == nil {
			c.log.Info("initialised transactional producer", "transactional_id", transactionalID, "producer_id", pid, "epoch", ep)
		}
		return pid, ep, err
	}
}

// getOrCreate returns id's entry, creating an unpersisted Empty one with a
// new producer id and epoch -1 (persisted by its first transition).
func (c *Coordinator) getOrCreate(id string, timeout time.Duration) (*entry, error) {
	if e := c.lookup(id); e != nil {
		return e, nil
	}
	pid, err := c.nextProducerID()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.txns[id]; e != nil {
		return e, nil // lost a race; pid is skipped, never reused
	}
	e := &entry{id: id, m: txnMeta{
		ProducerID: pid, PrevProducerID: noProducerID, NextProducerID: noProducerID,
		Epoch: noEpoch, LastEpoch: noEpoch, TimeoutMs: timeout.Milliseconds(),
		State: StateEmpty, StartMs: -1, LastUpdateMs: c.nowMs(),
	}}
	c.txns[id] = e
	return e, nil
}

// initCompletedLocked is InitProducerId in Empty/CompleteCommit/CompleteAbort
// (Kafka's prepareProducerIdRotation / prepareIncrementProducerEpoch).
func (c *Coordinator) initCompletedLocked(e *entry, timeout time.Duration, expected bool, expEpoch int16) (int64, int16, error) {
	m := e.m
	next := m.clone()
	next.State = StateEmpty
	next.NextProducerID = noProducerID
	next.TimeoutMs = timeout.Milliseconds()
	next.Partitions, next.Groups = nil, nil
	next.StartMs = -1
	next.LastUpdateMs = c.nowMs()
	switch {
	case epochExhausted(m.Epoch) && (!expected || expEpoch == m.Epoch):
		pid, err := c.nextProducerID()
		if err != nil {
			return noProducerID, noEpoch, err
		}
		next.ProducerID, next.Epoch = pid, 0
		next.LastEpoch = noEpoch
		if expected {
			next.LastEpoch = m.Epoch
		}
	case !expected:
		next.Epoch, next.LastEpoch = m.Epoch+1, noEpoch
	case m.Epoch == noEpoch || expEpoch == m.Epoch:
		next.Epoch, next.LastEpoch = m.Epoch+1, m.Epoch
	case expEpoch == m.LastEpoch:
		// A retry of a bump whose answer was lost: answer the same epoch.
	default:
		return noProducerID, noEpoch, ErrProducerFenced
	}
	if err := c.transition(e, next); err != nil {
		return noProducerID, noEpoch, err
	}
	return next.ProducerID, next.Epoch, nil
}

// fenceLocked aborts e's Ongoing transaction on the coordinator's own
// initiative (timeout, or a new producer instance): the epoch is bumped so
// that the producer is fenced, markers are written at the bumped epoch.
// LastEpoch becomes -1 so the fenced producer cannot pass for a retry.
func (c *Coordinator) fenceLocked(e *entry, reason string) (*completion, error) {
	next := e.m.clone()
	next.State = StatePrepareAbort
	next.Epoch = bump(e.m.Epoch)
	next.LastEpoch = noEpoch
	next.NextProducerID = noProducerID
	next.LastUpdateMs = c.nowMs()
	if err := c.transition(e, next); err != nil {
		return nil, err
	}
	c.log.Info("aborting transaction", "transactional_id", e.id, "reason", reason,
		"producer_id", next.ProducerID, "epoch", next.Epoch, "partitions", len(next.Partitions))
	return c.startCompletionLocked(e), nil
}

// AddPartitions adds partitions to the producer's transaction, starting one
// if none is in progress (AddPartitionsToTxn, and the KIP-890 implicit add
// done by the produce path: answer its errors with ErrorCode(err, 0, v)).
//
// As in Kafka: ErrInvalidProducerIDMapping for an unknown transactional id
// or another producer id; ErrProducerFenced for any other epoch;
// ErrConcurrentTransactions while the previous transaction completes.
func (c *Coordinator) AddPartitions(transactionalID string, producerID int64, epoch int16, parts []TP) error {
	return c.add(transactionalID, producerID, epoch, parts, "")
}

// AddOffsets adds a consumer group's offsets to the producer's transaction
// (AddOffsetsToTxn), with AddPartitions' errors. TxnOffsetCommit for the
// group is then accepted (TxnOffsetCommit) and the group's offsets
// are completed with the transaction through OffsetMaterializer.
func (c *Coordinator) AddOffsets(transactionalID string, producerID int64, epoch int16, group string) error {
	return c.add(transactionalID, producerID, epoch, nil, group)
}

func (c *Coordinator) add(id string, producerID int64, epoch int16, parts []TP, group string) error {
	exit, err := c.enter()
	if err != nil {
		return err
	}
	defer exit()
	if id == "" {
		return ErrInvalidRequest
	}
	e, err := c.lockCurrent(id, producerID, epoch)
	if err != nil {
		return err
	}
	defer e.mu.Unlock()
	m := e.m
	if m.State.preparing() {
		return ErrConcurrentTransactions
	}
	if len(parts) == 0 && group == "" {
		return nil
	}
	if m.State == StateOngoing && containsAllTPs(m.Partitions, parts) &&
		(group == "" || slices.Contains(m.Groups, group)) {
		return nil // already in the transaction: nothing to persist
	}
	next := m.clone()
	if m.State != StateOngoing {
		next.State = StateOngoing
		next.StartMs = c.nowMs()
		next.Partitions, next.Groups = nil, nil
	}
	next.Partitions = mergeTPs(next.Partitions, parts)
	if group != "" {
		next.Groups = mergeGroup(next.Groups, group)
	}
	next.LastUpdateMs = c.nowMs()
	return c.transition(e, next)
}

// VerifyPartition checks that tp is part of the producer's ongoing
// transaction before a transactional batch of a V1 client (Produce < v12)
// is appended (KIP-890 part 1): a batch of a transaction that was already
// aborted or timed out, or that skipped AddPartitionsToTxn, would otherwise
// leave the partition's last stable offset stuck. Errors as AddPartitions,
// and ErrInvalidTxnState when tp is not in an ongoing transaction.
func (c *Coordinator) VerifyPartition(transactionalID string, producerID int64, epoch int16, tp TP) error {
	return c.withOngoing(transactionalID, producerID, epoch, func(m *txnMeta) bool {
		return containsAllTPs(m.Partitions, []TP{tp})
	}, nil)
}

// withOngoing checks that the producer's transaction is ongoing and that
// in(meta) holds, then runs fn (if any) while the transaction cannot change
// state. Errors: those of lockCurrent, ErrConcurrentTransactions while it
// completes, ErrInvalidTxnState when it is not ongoing or in is false, or
// fn's error.
func (c *Coordinator) withOngoing(id string, producerID int64, epoch int16, in func(*txnMeta) bool, fn func() error) error {
	exit, err := c.enter()
	if err != nil {
		return err
	}
	defer exit()
	if id == "" {
		return ErrInvalidRequest
	}
	e, err := c.lockCurrent(id, producerID, epoch)
	if err != nil {
		return err
	}
	defer e.mu.Unlock()
	switch {
	case e.m.State.preparing():
		return ErrConcurrentTransactions
	case e.m.State != StateOngoing || !in(&e.m):
		return ErrInvalidTxnState
	}
	if fn == nil {
		return nil
	}
	return fn()
}

// lockCurrent returns id's entry locked, after checking that producerID and
// epoch are its current ones (INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED).
func (c *Coordinator) lockCurrent(id string, producerID int64, epoch int16) (*entry, error) {
	e := c.lookup(id)
	if e == nil {
		return nil, ErrInvalidProducerIDMapping
	}
	e.mu.Lock()
	switch {
	case e.removed || e.m.ProducerID != producerID:
		e.mu.Unlock()
		return nil, ErrInvalidProducerIDMapping
	case e.m.Epoch != epoch:
		e.mu.Unlock()
		return nil, ErrProducerFenced
	}
	return e, nil
}

// TxnOffsetCommit checks a TxnOffsetCommit against the transaction
// (Kafka's KIP-890 verification of the group's offsets partition) and, when
// it passes, runs store while the transaction cannot change state: the
// pending offsets are stored before any completion starts, so the
// completion always sees them (a concurrent abort or timeout cannot leave
// offsets pending in a transaction that already ended). With implicitAdd
// (TxnOffsetCommit v5+, transactions V2) the group joins the transaction
// first, as AddOffsets would.
//
// Errors: ErrInvalidProducerIDMapping / ErrProducerFenced as for
// AddPartitions, ErrConcurrentTransactions while completing,
// ErrInvalidTxnState when the group is not in the ongoing transaction, or
// store's error.
func (c *Coordinator) TxnOffsetCommit(transactionalID string, producerID int64, epoch int16, group string, implicitAdd bool, store func() error) error {
	if implicitAdd {
		if err := c.AddOffsets(transactionalID, producerID, epoch, group); err != nil {
			return err
		}
	}
	return c.withOngoing(transactionalID, producerID, epoch, func(m *txnMeta) bool {
		return slices.Contains(m.Groups, group)
	}, store)
}

// EndTxn commits or aborts the producer's transaction. The decision is made
// durable (PrepareCommit/PrepareAbort), then the markers and offsets are
// written; EndTxn returns once the first attempt at that finished (or ctx
// ended): the outcome is decided, so it succeeds even if the markers must
// be retried in the background, as in Kafka, and until they are written the
// transactional id answers ErrConcurrentTransactions.
//
// v2 is transactions V2 (EndTxn v5+, KIP-890): every completion bumps the
// epoch, and the new producer id/epoch to use is returned (a new producer
// id with epoch 0 when the epoch is exhausted); an abort without partitions
// is allowed; a retry is recognised by the request's epoch being the one
// before the bump. Without v2 the producer id and epoch are unchanged and
// returned as they are.
//
// Errors as Kafka's: ErrInvalidProducerIDMapping (unknown id, other
// producer id); ErrProducerFenced (wrong epoch); ErrConcurrentTransactions
// (the same outcome is still being written); ErrInvalidTxnState (commit of
// an Empty transaction, commit after an abort or while PrepareAbort, abort
// after a commit completed or while PrepareCommit; in V1 also abort of an
// Empty transaction). A retry after completion with the same outcome
// succeeds.
func (c *Coordinator) EndTxn(ctx context.Context, transactionalID string, producerID int64, epoch int16, commit bool, v2 bool) (int64, int16, error) {
	exit, err := c.enter()
	if err != nil {
		return noProducerID, noEpoch, err
	}
	defer exit()
	if transactionalID == "" {
		return noProducerID, noEpoch, ErrInvalidRequest
	}
	e := c.lookup(transactionalID)
	if e == nil {
		return noProducerID, noEpoch, ErrInvalidProducerIDMapping
	}
	e.mu.Lock()
	if e.removed {
		e.mu.Unlock()
		return noProducerID, noEpoch, ErrInvalidProducerIDMapping
	}
	var (
		prepare, noPartitions bool
		errOut                error
	)
	if v2 {
		prepare, noPartitions, errOut = endV2(e.m, producerID, epoch, commit)
	} else {
		prepare, errOut = endV1(e.m, producerID, epoch, commit)
	}
	if errOut != nil || !prepare {
		pid, ep := e.m.ProducerID, e.m.Epoch
		e.mu.Unlock()
		if errOut != nil {
			return noProducerID, noEpoch, errOut
		}
		return pid, ep, nil // a retry of a completed EndTxn
	}
	next, err := c.prepareEnd(e.m, commit, v2, noPartitions)
	if err == nil {
		err = c.transition(e, next)
	}
	if err != nil {
		e.mu.Unlock()
		return noProducerID, noEpoch, err
	}
	comp := c.startCompletionLocked(e)
	e.mu.Unlock()
	c.log.Debug("ending transaction", "transactional_id", transactionalID, "commit", commit,
		"producer_id", next.ProducerID, "epoch", next.Epoch, "partitions", len(next.Partitions), "groups", len(next.Groups))
	select {
	case <-comp.attempted:
	case <-ctx.Done():
	case <-c.ctx.Done():
	}
	if next.NextProducerID != noProducerID {
		return next.NextProducerID, 0, nil
	}
	return next.ProducerID, next.Epoch, nil
}

// endV1 is Kafka's endTransactionWithTV1 validation: whether to prepare a
// completion, or the answer (nil = success without change).
func endV1(m txnMeta, producerID int64, epoch int16, commit bool) (bool, error) {
	if m.ProducerID != producerID {
		return false, ErrInvalidProducerIDMapping
	}
	if epoch != m.Epoch {
		return false, ErrProducerFenced
	}
	switch m.State {
	case StateOngoing:
		return true, nil
	case StateCompleteCommit:
		return false, sameOutcome(commit, nil)
	case StateCompleteAbort:
		return false, sameOutcome(!commit, nil)
	case StatePrepareCommit:
		return false, sameOutcome(commit, ErrConcurrentTransactions)
	case StatePrepareAbort:
		return false, sameOutcome(!commit, ErrConcurrentTransactions)
	default: // Empty
		return false, ErrInvalidTxnState
	}
}

// sameOutcome answers ifSame when the requested outcome is the one already
// decided, INVALID_TXN_STATE otherwise.
func sameOutcome(same bool, ifSame error) error {
	if same {
		return ifSame
	}
	return ErrInvalidTxnState
}

// endV2 is Kafka's transactions V2 endTransaction validation. It returns
// whether to prepare a completion and whether it is one without partitions
// (an abort from Empty/Complete, allowed in V2).
func endV2(m txnMeta, producerID int64, epoch int16, commit bool) (prepare, noPartitions bool, err error) {
	// A retry of an EndTxn that overflowed the epoch and moved to a new
	// producer id, or that bumped the epoch. LastEpoch is -1 after a
	// coordinator abort, so a fenced producer cannot pass for a retry.
	retryOnOverflow := m.PrevProducerID == producerID && epoch == math.MaxInt16-1 && m.Epoch == 0 && m.ProducerID != producerID
	retryOnBump := int32(m.Epoch) == int32(epoch)+1 && m.LastEpoch == epoch
	if m.ProducerID != producerID && !retryOnOverflow {
		return false, false, ErrInvalidProducerIDMapping
	}
	var valid bool
	switch {
	case m.State.preparing():
		valid = retryOnBump
	case m.State.completed():
		valid = retryOnBump || retryOnOverflow || epoch == m.Epoch
	default: // Empty, Ongoing
		valid = epoch == m.Epoch
	}
	if !valid {
		return false, false, ErrProducerFenced
	}
	retry := retryOnBump || retryOnOverflow
	switch m.State {
	case StateOngoing:
		return true, false, nil
	case StateCompleteCommit:
		switch {
		case commit && retry:
			return false, false, nil
		case !commit && !retry:
			return true, true, nil
		}
		return false, false, ErrInvalidTxnState
	case StateCompleteAbort:
		switch {
		case !commit && retry:
			return false, false, nil
		case !commit:
			return true, true, nil
		}
		return false, false, ErrInvalidTxnState
	case StatePrepareCommit:
		return false, false, sameOutcome(commit, ErrConcurrentTransactions)
	case StatePrepareAbort:
		return false, false, sameOutcome(!commit, ErrConcurrentTransactions)
	default: // Empty
		if commit {
			return false, false, ErrInvalidTxnState
		}
		return true, true, nil
	}
}

// prepareEnd builds the PrepareCommit/PrepareAbort state (Kafka's
// prepareAbortOrCommit): V2 bumps the epoch, taking a new producer id for
// the completion when the epoch is exhausted.
func (c *Coordinator) prepareEnd(m txnMeta, commit, v2, noPartitions bool) (txnMeta, error) {
	next := m.clone()
	next.State = StatePrepareAbort
	if commit {
		next.State = StatePrepareCommit
	}
	next.NextProducerID = noProducerID
	next.V2 = v2
	if v2 {
		if epochExhausted(m.Epoch) {
			pid, err := c.nextProducerID()
			if err != nil {
				return txnMeta{}, err
			}
			next.NextProducerID = pid
		}
		next.Epoch = bump(m.Epoch)
		next.LastEpoch = m.Epoch
	}
	now := c.nowMs()
	if noPartitions {
		next.StartMs = now
		next.Partitions, next.Groups = nil, nil
	}
	next.LastUpdateMs = now
	return next, nil
}

// startCompletionLocked starts (or returns the running) completion of e's
// PrepareCommit/PrepareAbort. e.mu must be held.
func (c *Coordinator) startCompletionLocked(e *entry) *completion {
	if e.comp != nil {
		return e.comp
	}
	comp := &completion{attempted: make(chan struct{}), done: make(chan struct{})}
	e.comp = comp
	c.wg.Add(1)
	go c.complete(e, comp)
	return comp
}

// complete writes the markers and offsets of e's prepared transaction,
// retrying with backoff until they are written or the coordinator closes,
// then persists CompleteCommit/CompleteAbort.
func (c *Coordinator) complete(e *entry, comp *completion) {
	defer c.wg.Done()
	attempted := false
	markAttempted := func() {
		if !attempted {
			attempted = true
			close(comp.attempted)
		}
	}
	defer func() {
		e.mu.Lock()
		if e.comp == comp {
			e.comp = nil
		}
		e.mu.Unlock()
		markAttempted()
		close(comp.done)
	}()
	backoff := c.cfg.retryMin
	for {
		e.mu.Lock()
		m := e.m.clone()
		e.mu.Unlock()
		if !m.State.preparing() {
			return
		}
		commit := m.State == StatePrepareCommit
		err := c.writeOutcome(m, commit)
		if err == nil {
			e.mu.Lock()
			next := e.m.clone()
			next.State = StateCompleteAbort
			if commit {
				next.State = StateCompleteCommit
			}
			if next.NextProducerID != noProducerID { // V2 epoch overflow
				next.ProducerID, next.Epoch = next.NextProducerID, 0
			}
			next.NextProducerID = noProducerID
			next.Partitions, next.Groups = nil, nil
			next.LastUpdateMs = c.nowMs()
			err = c.transition(e, next)
			e.mu.Unlock()
			if err == nil {
				c.log.Debug("transaction completed", "transactional_id", e.id, "commit", commit,
					"producer_id", m.ProducerID, "epoch", m.Epoch)
				return
			}
		}
		if c.ctx.Err() != nil {
			return
		}
		c.log.Warn("completing transaction failed; retrying", "transactional_id", e.id,
			"commit", commit, "producer_id", m.ProducerID, "epoch", m.Epoch, "retry_in", backoff, "err", err)
		markAttempted()
		t := time.NewTimer(backoff)
		select {
		case <-c.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, c.cfg.retryMax)
	}
}

func (c *Coordinator) writeOutcome(m txnMeta, commit bool) error {
	if len(m.Partitions) > 0 {
		if err := c.markers.WriteMarkers(c.ctx, m.ProducerID, m.Epoch, commit, slices.Clone(m.Partitions)); err != nil {
			return fmt.Errorf("write markers: %w", err)
		}
	}
	if len(m.Groups) > 0 && c.offsets != nil {
		if err := c.offsets.CompleteTxnOffsets(m.ProducerID, slices.Clone(m.Groups), commit); err != nil {
			return fmt.Errorf("complete transactional offsets: %w", err)
		}
	}
	return nil
}

func (c *Coordinator) loop() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.ExpirationCheck)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
			c.abortTimedOut()
			c.expireTransactionalIDs()
		}
	}
}

func (c *Coordinator) entries() []*entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*entry, 0, len(c.txns))
	for _, e := range c.txns {
		out = append(out, e)
	}
	return out
}

// abortTimedOut aborts, fencing their producers, the transactions Ongoing
// for longer than their timeout (Kafka's abortTimedOutTransactions). It
// does not wait for the markers.
func (c *Coordinator) abortTimedOut() {
	now := c.nowMs()
	for _, e := range c.entries() {
		if c.ctx.Err() != nil {
			return
		}
		e.mu.Lock()
		if !e.removed && e.m.State == StateOngoing && e.m.StartMs+e.m.TimeoutMs < now {
			if _, err := c.fenceLocked(e, "transaction timed out"); err != nil {
				c.log.Warn("aborting timed-out transaction failed", "transactional_id", e.id, "err", err)
			}
		}
		e.mu.Unlock()
	}
}

// expireTransactionalIDs forgets the transactional ids with no transaction
// in progress and unchanged for TransactionalIDExpiration.
func (c *Coordinator) expireTransactionalIDs() {
	limit := c.nowMs() - c.cfg.TransactionalIDExpiration.Milliseconds()
	for _, e := range c.entries() {
		e.mu.Lock()
		m := e.m
		if e.removed || e.comp != nil || !(m.State == StateEmpty || m.State.completed()) || m.LastUpdateMs > limit {
			e.mu.Unlock()
			continue
		}
		err := c.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketName).Delete([]byte(e.id)) })
		if err == nil {
			e.removed = true
			c.mu.Lock()
			if c.txns[e.id] == e {
				delete(c.txns, e.id)
			}
			c.mu.Unlock()
			c.log.Info("expired transactional id", "transactional_id", e.id, "producer_id", m.ProducerID)
		} else {
			c.log.Warn("expiring transactional id failed", "transactional_id", e.id, "err", err)
		}
		e.mu.Unlock()
	}
}

// Describe answers DescribeTransactions, one Description per id, in order.
func (c *Coordinator) Describe(transactionalIDs []string) []Description {
	out := make([]Description, 0, len(transactionalIDs))
	exit, err := c.enter()
	if err != nil {
		for _, id := range transactionalIDs {
			out = append(out, Description{TransactionalID: id, Err: err})
		}
		return out
	}
	defer exit()
	for _, id := range transactionalIDs {
		d := Description{TransactionalID: id}
		var e *entry
		if id == "" {
			d.Err = ErrInvalidRequest
		} else if e = c.lookup(id); e == nil {
			d.Err = ErrTransactionalIDNotFound
		}
		if e != nil {
			e.mu.Lock()
			if e.removed {
				d.Err = ErrTransactionalIDNotFound
			} else {
				m := e.m
				d.State = m.State.String()
				d.ProducerID, d.ProducerEpoch = m.ProducerID, m.Epoch
				d.TransactionTimeoutMs = int32(min(m.TimeoutMs, math.MaxInt32))
				d.TransactionStartTimeMs = m.StartMs
				d.Partitions = slices.Clone(m.Partitions)
				d.Groups = slices.Clone(m.Groups)
			}
			e.mu.Unlock()
		}
		out = append(out, d)
	}
	return out
}

// List answers ListTransactions, sorted by transactional id. An empty
// states or producerIDs filter matches everything; a state name that is
// not a state (see UnknownStateFilters) matches nothing. durationFilter
// (KIP-994) keeps only transactions running for longer than it; a negative
// value (the request's -1) disables it.
func (c *Coordinator) List(states []string, producerIDs []int64, durationFilter time.Duration) []Listing {
	exit, err := c.enter()
	if err != nil {
		return nil
	}
	defer exit()
	now := c.nowMs()
	var out []Listing
	for _, e := range c.entries() {
		e.mu.Lock()
		m, removed := e.m, e.removed
		e.mu.Unlock()
		switch {
		case removed,
			len(producerIDs) > 0 && !slices.Contains(producerIDs, m.ProducerID),
			len(states) > 0 && !slices.Contains(states, m.State.String()),
			durationFilter >= 0 && now-m.StartMs <= durationFilter.Milliseconds():
			continue
		}
		out = append(out, Listing{TransactionalID: e.id, ProducerID: m.ProducerID, State: m.State.String()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TransactionalID < out[j].TransactionalID })
	return out
}
