package offsets

import (
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Pending transactional offsets (what Kafka keeps as uncommitted
// TxnOffsetCommit records in __consumer_offsets): TxnOffsetCommit stores
// them per (producer id, group); when the transaction ends they are moved
// into the committed offsets (commit) or dropped (abort), atomically.
//
// On disk, bucket "txnoffsets" holds one nested bucket per (producer id,
// group), named uint64(producer id) | group, with the same keys and values
// as a group's bucket of committed offsets.

var bucketTxnOffsets = []byte("txnoffsets")

type pendingKey struct {
	pid   int64
	group string
}

func pendingName(pid int64, group string) []byte {
	b := make([]byte, 8, 8+len(group))
	binary.BigEndian.PutUint64(b, uint64(pid))
	return append(b, group...)
}

// loadPending reads the pending transactional offsets (called by Open,
// inside its write transaction).
func (s *Store) loadPending(tx *bolt.Tx) error {
	tb, err := tx.CreateBucketIfNotExists(bucketTxnOffsets)
	if err != nil {
		return err
	}
	s.pending = make(map[pendingKey]map[TP]Committed)
	return tb.ForEachBucket(func(name []byte) error {
		if len(name) < 8 {
			return fmt.Errorf("pending transactional offsets: bad bucket name %x", name)
		}
		k := pendingKey{int64(binary.BigEndian.Uint64(name)), string(name[8:])}
		offs := make(map[TP]Committed)
		err := tb.Bucket(name).ForEach(func(kb, vb []byte) error {
			tp, err := decodeKey(kb)
			if err != nil {
				return err
			}
			c, err := decodeValue(vb)
			if err != nil {
				return err
			}
			offs[tp] = c
			return nil
		})
		if err != nil {
			return fmt.Errorf("pending transactional offsets of producer %d, group %q: %w", k.pid, k.group, err)
		}
		if len(offs) > 0 {
			s.pending[k] = offs
		}
		return nil
	})
}

// PutPendingTxnOffsets durably stores offsets as pending in producerID's
// transaction for group (TxnOffsetCommit), replacing earlier pending offsets
// of the same partitions, and returns once they are fsynced.
func (s *Store) PutPendingTxnOffsets(producerID int64, group string, offsets map[TP]Committed) error {
	if group == "" {
		return ErrEmptyGroup
	}
	if len(offsets) == 0 {
		return nil
	}
	now := time.Now()
	norm := make(map[TP]Committed, len(offsets))
	for tp, c := range offsets {
		if c.CommitTime.IsZero() {
			c.CommitTime = now
		}
		c.CommitTime = normTime(c.CommitTime)
		c.ExpireTime = normTime(c.ExpireTime)
		norm[tp] = c
	}
	s.writeMu.RLock()
	defer s.writeMu.RUnlock()
	if s.isClosed() {
		return ErrClosed
	}
	s.pendingMu.Lock() // orders pending writes of the store with their memory updates
	defer s.pendingMu.Unlock()
	err := s.db.Batch(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bucketTxnOffsets).CreateBucketIfNotExists(pendingName(producerID, group))
		if err != nil {
			return err
		}
		for tp, c := range norm {
			if err := b.Put(encodeKey(tp), encodeValue(c)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store pending transactional offsets of group %q: %w", group, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := pendingKey{producerID, group}
	offs := s.pending[k]
	if offs == nil {
		offs = make(map[TP]Committed, len(norm))
		s.pending[k] = offs
	}
	for tp, c := range norm {
		offs[tp] = c
	}
	return nil
}

// CompleteTxnOffsets ends producerID's pending offsets for groups: with
// commit they become the groups' committed offsets, otherwise they are
// dropped, in one durable transaction. Groups without pending offsets of
// producerID are ignored, so a repeated call is a no-op.
func (s *Store) CompleteTxnOffsets(producerID int64, groups []string, commit bool) error {
	s.writeMu.RLock()
	defer s.writeMu.RUnlock()
	if s.isClosed() {
		return ErrClosed
	}
	s.pendingMu.Lock()
	defer s.pendingMu.Unlock()
	s.mu.RLock()
	todo := make(map[string]map[TP]Committed)
	for _, g := range groups {
		if offs := s.pending[pendingKey{producerID, g}]; len(offs) > 0 {
			todo[g] = offs
		}
	}
	s.mu.RUnlock()
	if len(todo) == 0 {
		return nil
	}
	var seq uint64
	err := s.db.Batch(func(tx *bolt.Tx) error {
		if s.lastTx.Swap(tx) != tx {
			s.txs.Add(1)
		}
		seq = s.seq.Add(1)
		tb := tx.Bucket(bucketTxnOffsets)
		for g, offs := range todo {
			if commit {
				b, err := tx.Bucket(bucketGroups).CreateBucketIfNotExists([]byte(g))
				if err != nil {
					return err
				}
				for tp, c := range offs {
					if err := b.Put(encodeKey(tp), encodeValue(c)); err != nil {
						return err
					}
				}
			}
			if err := tb.DeleteBucket(pendingName(producerID, g)); err != nil && err != bolt.ErrBucketNotFound {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("complete transactional offsets of producer %d: %w", producerID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for g, offs := range todo {
		delete(s.pending, pendingKey{producerID, g})
		if !commit {
			continue
		}
		cur := s.groups[g]
		if cur == nil {
			cur = make(map[TP]entry, len(offs))
			s.groups[g] = cur
		}
		for tp, c := range offs {
			if e, ok := cur[tp]; !ok || e.seq < seq {
				cur[tp] = entry{Committed: c, seq: seq}
			}
		}
	}
	return nil
}

// HasPendingTxnOffsets reports whether some transaction holds a pending
// offset of group for tp (OffsetFetch with require_stable answers
// UNSTABLE_OFFSET_COMMIT for it).
func (s *Store) HasPendingTxnOffsets(group string, tp TP) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for k, offs := range s.pending {
		if k.group != group {
			continue
		}
		if _, ok := offs[tp]; ok {
			return true
		}
	}
	return false
}
