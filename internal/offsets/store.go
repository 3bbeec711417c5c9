// Package offsets is the durable store of consumer groups' committed offsets
// (what Kafka keeps in __consumer_offsets).
//
// The store is a bbolt file, <data_dir>/offsets.db, separate from the topic
// metadata database. Reads (Fetch, FetchGroup, Groups) are served from an
// in-memory copy loaded at Open; writes go to disk first and return only once
// they are durable (fsynced), so an acknowledged OffsetCommit survives a
// crash or kill -9.
//
// Commits use bbolt's DB.Batch: concurrent Commit calls from many
// connections are coalesced into one write transaction and one fsync (group
// commit). A lone commit waits at most batchDelay for company.
//
// Usage by the Kafka handlers:
//
//	OffsetCommit  -> Store.Commit(group, offsets)
//	OffsetFetch   -> Store.Fetch / Store.FetchGroup (all partitions: FetchGroup)
//	OffsetDelete  -> Store.DeleteOffsets(group, tps)
//	DeleteGroups  -> Store.DeleteGroup(group)
//	DeleteTopics  -> Store.DeleteTopic(topic)
//	ListGroups    -> Store.Groups() (groups that only have offsets, no members)
//	periodic task -> Store.Expire(now, offsets.retention.minutes, isEmpty)
//
// On-disk layout (format 1): bucket "groups" holds one nested bucket per
// group, named by the group id, so a group's offsets are one bucket scan and
// deleting a group is one DeleteBucket. Inside, the key is
// uint16(len(topic)) | topic | uint32(partition), all big-endian, so a
// topic's partitions are one prefix; the value is encodeValue's versioned
// binary record.
package offsets

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// FileName is the store's file inside the data directory.
const FileName = "offsets.db"

// batchDelay is how long the first Commit of a batch waits for others to
// join its transaction (bbolt's default is 10ms, too much for a lone
// committer). Commits that arrive while a batch is being fsynced queue up
// for the next one regardless.
const batchDelay = 2 * time.Millisecond

// formatVersion identifies the key layout, stored in the "meta" bucket.
const formatVersion = 1

var (
	bucketMeta   = []byte("meta")
	bucketGroups = []byte("groups")
	// bucketGroupMeta holds each group's membership metadata (what Kafka
	// writes as GroupMetadata records in __consumer_offsets), keyed by group
	// id. The value is opaque to the store: the group coordinator encodes it.
	bucketGroupMeta = []byte("groupmeta")
	keyFormat       = []byte("format")
)

// ErrEmptyGroup is returned for writes with an empty group id (Kafka answers
// INVALID_GROUP_ID to those).
var ErrEmptyGroup = errors.New("offsets: empty group id")

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("offsets: store closed")

// TP is a topic partition.
type TP struct {
	Topic     string
	Partition int32
}

// Committed is one committed offset of a group for a partition.
type Committed struct {
	Offset      int64
	LeaderEpoch int32 // -1 if unknown
	Metadata    string
	// CommitTime is when the offset was committed; Commit fills in the
	// current time when it is zero.
	CommitTime time.Time
	// ExpireTime is the explicit expiry from OffsetCommit v1-4's
	// retention_time; zero means none (the group's retention applies).
	ExpireTime time.Time
}

// entry is a Committed with the sequence number of the write that stored it,
// so concurrent commits to the same partition are applied to memory in the
// order they were written to disk.
type entry struct {
	Committed
	seq uint64
}

// Store holds committed offsets of all groups. It is safe for concurrent use.
type Store struct {
	db     *bolt.DB
	logger *slog.Logger

	// writeMu orders memory updates against deletions: Commit holds it
	// shared across its transaction and memory update, deletions hold it
	// exclusively, so a commit never resurrects an offset deleted after
	// it was written (or vice versa).
	writeMu sync.RWMutex

	mu     sync.RWMutex // guards groups and closed
	groups map[string]map[TP]entry
	closed bool
	// pending holds the transactional offsets not yet committed or
	// aborted (guarded by mu; pendingMu orders writes to it).
	pending   map[pendingKey]map[TP]Committed
	pendingMu sync.Mutex

	seq atomic.Uint64 // write sequence, assigned inside write transactions

	// lastTx / txs count distinct write transactions used by Commit (for
	// tests and diagnostics: with group commit, txs << Commit calls).
	lastTx atomic.Pointer[bolt.Tx]
	txs    atomic.Int64
}

// Open opens (or creates) dir/offsets.db and loads all committed offsets
// into memory. A nil logger discards log output.
func Open(dir string, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o644, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open offsets store %s: %w", path, err)
	}
	db.MaxBatchDelay = batchDelay
	s := &Store{db: db, logger: logger, groups: make(map[string]map[TP]entry)}
	n := 0
	err = db.Update(func(tx *bolt.Tx) error {
		m, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		switch v := m.Get(keyFormat); {
		case v == nil:
			if err := m.Put(keyFormat, []byte{formatVersion}); err != nil {
				return err
			}
		case len(v) != 1 || v[0] != formatVersion:
			return fmt.Errorf("unsupported format %v (this version reads format %d)", v, formatVersion)
		}
		if _, err := tx.CreateBucketIfNotExists(bucketGroupMeta); err != nil {
			return err
		}
		if err := s.loadPending(tx); err != nil {
			return err
		}
		gb, err := tx.CreateBucketIfNotExists(bucketGroups)
		if err != nil {
			return err
		}
		return gb.ForEachBucket(func(name []byte) error {
			group := string(name)
			offs := make(map[TP]entry)
			err := gb.Bucket(name).ForEach(func(k, v []byte) error {
				tp, err := decodeKey(k)
				if err != nil {
					return fmt.Errorf("group %q: key %x: %w", group, k, err)
				}
				c, err := decodeValue(v)
				if err != nil {
					return fmt.Errorf("group %q, %s/%d: %w", group, tp.Topic, tp.Partition, err)
				}
				offs[tp] = entry{Committed: c}
				return nil
			})
			if err != nil {
				return err
			}
			if len(offs) > 0 {
				s.groups[group] = offs
				n += len(offs)
			}
			return nil
		})
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("load offsets store %s: %w", path, err)
	}
	logger.Info("offsets store loaded", "path", path, "groups", len(s.groups), "offsets", n, "took", time.Since(start).Round(time.Millisecond))
	return s, nil
}

// Close closes the database. Commits in flight finish first.
func (s *Store) Close() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	return s.db.Close()
}

func (s *Store) isClosed() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.closed
}

// Commit durably stores offsets for group, replacing earlier commits of the
// same partitions, and returns once they are fsynced. Concurrent calls share
// a transaction. A zero CommitTime is set to the current time. Either all of
// offsets are stored or, on error, none.
func (s *Store) Commit(group string, offsets map[TP]Committed) error {
	if group == "" {
		return ErrEmptyGroup
	}
	if len(offsets) == 0 {
		return nil
	}
	now := time.Now()
	type kv struct {
		tp  TP
		c   Committed
		key []byte
		val []byte
	}
	kvs := make([]kv, 0, len(offsets))
	for tp, c := range offsets {
		if c.CommitTime.IsZero() {
			c.CommitTime = now
		}
		c.CommitTime = normTime(c.CommitTime)
		c.ExpireTime = normTime(c.ExpireTime)
		kvs = append(kvs, kv{tp, c, encodeKey(tp), encodeValue(c)})
	}

	s.writeMu.RLock()
	defer s.writeMu.RUnlock()
	if s.isClosed() {
		return ErrClosed
	}
	var seq uint64
	err := s.db.Batch(func(tx *bolt.Tx) error {
		// Batch may run fn more than once (if another call in the batch
		// fails, the rest are retried); only the last run commits.
		if s.lastTx.Swap(tx) != tx {
			s.txs.Add(1)
		}
		seq = s.seq.Add(1)
		b, err := tx.Bucket(bucketGroups).CreateBucketIfNotExists([]byte(group))
		if err != nil {
			return err
		}
		for _, e := range kvs {
			if err := b.Put(e.key, e.val); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("commit offsets of group %q: %w", group, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	offs := s.groups[group]
	if offs == nil {
		offs = make(map[TP]entry, len(kvs))
		s.groups[group] = offs
	}
	for _, e := range kvs {
		// Write transactions are serial, so seq orders them as on disk.
		if cur, ok := offs[e.tp]; !ok || cur.seq < seq {
			offs[e.tp] = entry{Committed: e.c, seq: seq}
		}
	}
	return nil
}

// Fetch returns group's committed offset for tp.
func (s *Store) Fetch(group string, tp TP) (Committed, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.groups[group][tp]
	return e.Committed, ok
}

// FetchGroup returns a copy of all of group's committed offsets (nil if it
// has none).
func (s *Store) FetchGroup(group string) map[TP]Committed {
	s.mu.RLock()
	defer s.mu.RUnlock()
	offs := s.groups[group]
	if len(offs) == 0 {
		return nil
	}
	out := make(map[TP]Committed, len(offs))
	for tp, e := range offs {
		out[tp] = e.Committed
	}
	return out
}

// Groups returns the sorted ids of the groups that have committed offsets.
func (s *Store) Groups() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Sorted(maps.Keys(s.groups))
}

// DeleteOffsets durably removes group's offsets for tps (OffsetDelete).
// Partitions without a commit are ignored.
func (s *Store) DeleteOffsets(group string, tps []TP) error {
	if len(tps) == 0 {
		return nil
	}
	del := map[string][]TP{group: tps}
	if err := s.delete(del, nil); err != nil {
		return fmt.Errorf("delete offsets of group %q: %w", group, err)
	}
	return nil
}

// DeleteGroup durably removes all of group's offsets.
func (s *Store) DeleteGroup(group string) error {
	if err := s.delete(nil, []string{group}); err != nil {
		return fmt.Errorf("delete offsets of group %q: %w", group, err)
	}
	return nil
}

// DeleteTopic durably removes the offsets of topic from every group.
func (s *Store) DeleteTopic(topic string) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	del := make(map[string][]TP)
	s.mu.RLock()
	for g, offs := range s.groups {
		for tp := range offs {
			if tp.Topic == topic {
				del[g] = append(del[g], tp)
			}
		}
	}
	s.mu.RUnlock()
	if err := s.deleteLocked(del, nil); err != nil {
		return fmt.Errorf("delete offsets of topic %q: %w", topic, err)
	}
	return nil
}

// Expire removes expired offsets and returns how many, following Kafka's
// rules (KIP-211):
//
//   - an offset committed with an explicit ExpireTime (OffsetCommit v1-4
//     retention_time) expires at that time, whatever the group's state;
//   - otherwise, an offset of a group for which isEmpty returns true (no
//     members: Empty state, or a standalone group that only commits) expires
//     once now - CommitTime >= retention; offsets of groups with members
//     never expire. retention <= 0 disables this rule. A nil isEmpty treats
//     every group as empty.
//
// Kafka measures an Empty consumer group's retention from the time it became
// empty; the store does not know that, so it uses the commit time, which is
// never later. Errors are logged (the next run retries) and count nothing.
func (s *Store) Expire(now time.Time, retention time.Duration, isEmpty func(group string) bool) (removed int) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	del := make(map[string][]TP)
	s.mu.RLock()
	groups := slices.Sorted(maps.Keys(s.groups))
	s.mu.RUnlock()
	for _, g := range groups {
		// isEmpty may call into the group coordinator: not under s.mu.
		empty := isEmpty == nil || isEmpty(g)
		s.mu.RLock()
		for tp, e := range s.groups[g] {
			expired := false
			if !e.ExpireTime.IsZero() {
				expired = !now.Before(e.ExpireTime)
			} else if empty && retention > 0 {
				expired = now.Sub(e.CommitTime) >= retention
			}
			if expired {
				del[g] = append(del[g], tp)
				removed++
			}
		}
		s.mu.RUnlock()
	}
	if removed == 0 {
		return 0
	}
	if err := s.deleteLocked(del, nil); err != nil {
		s.logger.Error("expiring committed offsets failed", "err", err)
		return 0
	}
	s.logger.Info("expired committed offsets", "offsets", removed, "groups", len(del), "retention", retention)
	return removed
}

// delete removes the given partitions' offsets and whole groups.
func (s *Store) delete(tps map[string][]TP, groups []string) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return s.deleteLocked(tps, groups)
}

// deleteLocked is delete with writeMu held exclusively.
func (s *Store) deleteLocked(tps map[string][]TP, groups []string) error {
	if len(tps) == 0 && len(groups) == 0 {
		return nil
	}
	if s.isClosed() {
		return ErrClosed
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		gb := tx.Bucket(bucketGroups)
		for _, g := range groups {
			if g == "" {
				continue
			}
			if err := gb.DeleteBucket([]byte(g)); err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
				return err
			}
		}
		for g, list := range tps {
			if g == "" {
				continue
			}
			b := gb.Bucket([]byte(g))
			if b == nil {
				continue
			}
			for _, tp := range list {
				if err := b.Delete(encodeKey(tp)); err != nil {
					return err
				}
			}
			// Drop the group's bucket once it holds nothing, so Groups
			// stays the same across a restart.
			if k, _ := b.Cursor().First(); k == nil {
				if err := gb.DeleteBucket([]byte(g)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range groups {
		delete(s.groups, g)
	}
	for g, list := range tps {
		offs := s.groups[g]
		for _, tp := range list {
			delete(offs, tp)
		}
		if len(offs) == 0 {
			delete(s.groups, g)
		}
	}
	return nil
}

// PutGroupMetadata durably stores group's membership metadata (an opaque
// record encoded by the group coordinator), replacing the previous one, and
// returns once it is fsynced. It shares Commit's group-commit transactions.
// The caller orders concurrent writes of the same group.
func (s *Store) PutGroupMetadata(group string, data []byte) error {
	if group == "" {
		return ErrEmptyGroup
	}
	if err := s.batchMeta(func(b *bolt.Bucket) error { return b.Put([]byte(group), data) }); err != nil {
		return fmt.Errorf("store metadata of group %q: %w", group, err)
	}
	return nil
}

// DeleteGroupMetadata durably removes group's membership metadata; a group
// without any is not an error.
func (s *Store) DeleteGroupMetadata(group string) error {
	if group == "" {
		return nil
	}
	if err := s.batchMeta(func(b *bolt.Bucket) error { return b.Delete([]byte(group)) }); err != nil {
		return fmt.Errorf("delete metadata of group %q: %w", group, err)
	}
	return nil
}

// batchMeta runs fn on the group metadata bucket in a shared (DB.Batch)
// write transaction.
func (s *Store) batchMeta(fn func(*bolt.Bucket) error) error {
	s.writeMu.RLock()
	defer s.writeMu.RUnlock()
	if s.isClosed() {
		return ErrClosed
	}
	return s.db.Batch(func(tx *bolt.Tx) error {
		if s.lastTx.Swap(tx) != tx {
			s.txs.Add(1)
		}
		return fn(tx.Bucket(bucketGroupMeta))
	})
}

// GroupMetadata returns every group's stored membership metadata, by group
// id (read from disk; the broker calls it once, at start).
func (s *Store) GroupMetadata() (map[string][]byte, error) {
	out := map[string][]byte{}
	if s.isClosed() {
		return out, ErrClosed
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketGroupMeta)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			out[string(k)] = slices.Clone(v)
			return nil
		})
	})
	if err != nil {
		return out, fmt.Errorf("read group metadata: %w", err)
	}
	return out, nil
}

// commitTxs returns the number of write transactions Commit has used.
func (s *Store) commitTxs() int64 { return s.txs.Load() }

// normTime drops the monotonic clock reading and keeps the instant in
// nanoseconds, as it reads back from disk (the location is Local).
func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.Unix(0, t.UnixNano())
}

// encodeKey is uint16(len(topic)) | topic | uint32(partition), big-endian.
func encodeKey(tp TP) []byte {
	k := make([]byte, 0, 2+len(tp.Topic)+4)
	k = binary.BigEndian.AppendUint16(k, uint16(len(tp.Topic)))
	k = append(k, tp.Topic...)
	return binary.BigEndian.AppendUint32(k, uint32(tp.Partition))
}

func decodeKey(k []byte) (TP, error) {
	if len(k) < 6 {
		return TP{}, errors.New("short key")
	}
	n := int(binary.BigEndian.Uint16(k))
	if len(k) != 2+n+4 {
		return TP{}, errors.New("bad key length")
	}
	return TP{Topic: string(k[2 : 2+n]), Partition: int32(binary.BigEndian.Uint32(k[2+n:]))}, nil
}

// Value format, version 1 (big-endian):
//
//	version     uint8 = 1
//	flags       uint8   bit 0: commit time set, bit 1: expire time set
//	offset      int64
//	leaderEpoch int32
//	commitTime  int64   Unix nanoseconds
//	expireTime  int64   Unix nanoseconds
//	metadata    the rest
//
// Later versions may append fields before metadata; readers reject versions
// they do not know rather than misread offsets.
const (
	valueVersion    = 1
	valueHeaderSize = 1 + 1 + 8 + 4 + 8 + 8
	flagCommitTime  = 1 << 0
	flagExpireTime  = 1 << 1
)

func encodeValue(c Committed) []byte {
	v := make([]byte, valueHeaderSize, valueHeaderSize+len(c.Metadata))
	v[0] = valueVersion
	var ct, et int64
	if !c.CommitTime.IsZero() {
		v[1] |= flagCommitTime
		ct = c.CommitTime.UnixNano()
	}
	if !c.ExpireTime.IsZero() {
		v[1] |= flagExpireTime
		et = c.ExpireTime.UnixNano()
	}
	binary.BigEndian.PutUint64(v[2:], uint64(c.Offset))
	binary.BigEndian.PutUint32(v[10:], uint32(c.LeaderEpoch))
	binary.BigEndian.PutUint64(v[14:], uint64(ct))
	binary.BigEndian.PutUint64(v[22:], uint64(et))
	return append(v, c.Metadata...)
}

func decodeValue(v []byte) (Committed, error) {
	if len(v) == 0 {
		return Committed{}, errors.New("empty value")
	}
	if v[0] != valueVersion {
		return Committed{}, fmt.Errorf("unknown value version %d", v[0])
	}
	if len(v) < valueHeaderSize {
		return Committed{}, fmt.Errorf("short value (%d bytes)", len(v))
	}
	c := Committed{
		Offset:      int64(binary.BigEndian.Uint64(v[2:])),
		LeaderEpoch: int32(binary.BigEndian.Uint32(v[10:])),
		Metadata:    string(v[valueHeaderSize:]),
	}
	if v[1]&flagCommitTime != 0 {
		c.CommitTime = time.Unix(0, int64(binary.BigEndian.Uint64(v[14:])))
	}
	if v[1]&flagExpireTime != 0 {
		c.ExpireTime = time.Unix(0, int64(binary.BigEndian.Uint64(v[22:])))
	}
	return c, nil
}
