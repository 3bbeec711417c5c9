// Package meta is Chronik's durable metadata: the cluster id, topics with their
// ids, partition counts and configs, and the producer id allocator's high
// water mark. It sits behind the Store interface so that a cluster mode can put
// the same records in etcd; the single-node implementation is a bbolt file.
package meta

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TopicRecord is the durable description of a topic.
type TopicRecord struct {
	Name       string            `json:"name"`
	ID         [16]byte          `json:"id"`
	Partitions int32             `json:"partitions"`
	Configs    map[string]string `json:"configs,omitempty"` // only explicitly set (dynamic) configs
	CreatedAt  time.Time         `json:"created_at"`
}

// Store is what the broker needs from durable metadata.
type Store interface {
	ClusterID() string
	Topics() ([]TopicRecord, error)
	PutTopic(TopicRecord) error
	DeleteTopic(name string) error
	// ReserveProducerIDs durably reserves the next block of n producer ids
	// and returns the first; a crash never hands out an id twice.
	ReserveProducerIDs(n int64) (int64, error)
	// ProducerIDFloor is the first producer id never reserved; RaiseProducerIDFloor
	// moves it up to at least floor (a broker restored from object storage
	// must not reuse ids found in the restored data).
	ProducerIDFloor() (int64, error)
	RaiseProducerIDFloor(floor int64) error
	// BrokerConfigs returns the dynamic broker configs (empty when none);
	// PutBrokerConfigs replaces them.
	BrokerConfigs() (map[string]string, error)
	PutBrokerConfigs(map[string]string) error
	Close() error
}

var (
	bucketCluster = []byte("cluster")
	bucketTopics  = []byte("topics")
	keyClusterID  = []byte("cluster_id")
	keyNextPID    = []byte("next_producer_id")
	keyBrokerCfgs = []byte("broker_configs")
)

// BoltStore is the single-node Store, a bbolt database in the data directory.
type BoltStore struct {
	db        *bolt.DB
	clusterID string
}

// Open opens (or creates) dir/meta.db.
func Open(dir string) (*BoltStore, error) {
	db, err := bolt.Open(filepath.Join(dir, "meta.db"), 0o644, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open metadata store: %w", err)
	}
	s := &BoltStore{db: db}
	err = db.Update(func(tx *bolt.Tx) error {
		c, err := tx.CreateBucketIfNotExists(bucketCluster)
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(bucketTopics); err != nil {
			return err
		}
		if id := c.Get(keyClusterID); id != nil {
			s.clusterID = string(id)
			return nil
		}
		s.clusterID = newClusterID()
		return c.Put(keyClusterID, []byte(s.clusterID))
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("init metadata store: %w", err)
	}
	return s, nil
}

// newClusterID returns a Kafka-style cluster id: a url-safe base64 UUID.
func newClusterID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	return base64.RawURLEncoding.EncodeToString(u[:])
}

func (s *BoltStore) ClusterID() string { return s.clusterID }

func (s *BoltStore) Topics() ([]TopicRecord, error) {
	var out []TopicRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTopics).ForEach(func(k, v []byte) error {
			var t TopicRecord
			if err := json.Unmarshal(v, &t); err != nil {
				return fmt.Errorf("topic %q: %w", k, err)
			}
			out = append(out, t)
			return nil
		})
	})
	return out, err
}

func (s *BoltStore) PutTopic(t TopicRecord) error {
	v, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTopics).Put([]byte(t.Name), v)
	})
}

func (s *BoltStore) DeleteTopic(name string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTopics).Delete([]byte(name))
	})
}

func (s *BoltStore) BrokerConfigs() (map[string]string, error) {
	out := map[string]string{}
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketCluster).Get(keyBrokerCfgs); v != nil {
			return json.Unmarshal(v, &out)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("broker configs: %w", err)
	}
	return out, nil
}

func (s *BoltStore) PutBrokerConfigs(c map[string]string) error {
	v, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCluster).Put(keyBrokerCfgs, v)
	})
}

func (s *BoltStore) ReserveProducerIDs(n int64) (int64, error) {
	if n <= 0 {
		return 0, errors.New("reserve producer ids: block size must be positive")
	}
	var start int64
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCluster)
		if v := b.Get(keyNextPID); len(v) == 8 {
			start = int64(binary.BigEndian.Uint64(v))
		}
		var next [8]byte
		binary.BigEndian.PutUint64(next[:], uint64(start+n))
		return b.Put(keyNextPID, next[:])
	})
	return start, err
}

func (s *BoltStore) ProducerIDFloor() (int64, error) {
	var floor int64
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketCluster).Get(keyNextPID); len(v) == 8 {
			floor = int64(binary.BigEndian.Uint64(v))
		}
		return nil
	})
	return floor, err
}

func (s *BoltStore) RaiseProducerIDFloor(floor int64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCluster)
		if v := b.Get(keyNextPID); len(v) == 8 && int64(binary.BigEndian.Uint64(v)) >= floor {
			return nil
		}
		var next [8]byte
		binary.BigEndian.PutUint64(next[:], uint64(floor))
		return b.Put(keyNextPID, next[:])
	})
}

func (s *BoltStore) Close() error { return s.db.Close() }
