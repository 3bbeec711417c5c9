// Package topics owns the broker's topics: their durable records in the
// metadata store, their partition logs on disk, and their configs resolved
// against the broker's defaults.
package topics

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chronik-streaming/chronik/internal/config"
	plog "github.com/chronik-streaming/chronik/internal/log"
	"github.com/chronik-streaming/chronik/internal/meta"
)

// Errors the Kafka handlers map to error codes.
var (
	ErrUnknownTopic       = errors.New("unknown topic or partition")
	ErrTopicExists        = errors.New("topic already exists")
	ErrInvalidTopic       = errors.New("invalid topic name")
	ErrInvalidPartitions  = errors.New("invalid number of partitions")
	ErrInvalidReplication = errors.New("invalid replication factor")
	ErrInvalidConfig      = errors.New("invalid config")
)

// MaxPartitions bounds a topic's partition count, so a typo cannot ask the
// broker for millions of directories.
const MaxPartitions = 10000

// Topic is a topic and its partitions. The Partitions slice is replaced, never
// mutated, when partitions are added, so a reader may keep the one it got.
type Topic struct {
	Name       string
	ID         [16]byte
	CreatedAt  time.Time
	configs    map[string]string // explicitly set configs
	partitions []*Partition
	// codec is the compression.type as a batch codec, or -1 for "producer"
	// (store batches as sent); read on every produce, so resolved once.
	codec atomic.Int32
}

// StorageCodec returns the codec batches must be stored with, or -1 when
// they are stored as the producer sent them.
func (t *Topic) StorageCodec() int8 { return int8(t.codec.Load()) }

func (t *Topic) resolveCodec(explicit map[string]string) {
	codec := int32(-1)
	switch explicit["compression.type"] {
	case "uncompressed":
		codec = 0
	case "gzip":
		codec = 1
	case "snappy":
		codec = 2
	case "lz4":
		codec = 3
	case "zstd":
		codec = 4
	}
	t.codec.Store(codec)
}

// Partition is one partition of a topic.
type Partition struct {
	Topic *Topic
	Index int32
	Log   *plog.Log
	// remote is the tiered part of the log (see remote.go).
	remote atomic.Pointer[remoteHolder]
}

// Manager holds every topic.
type Manager struct {
	dataDir string
	broker  *config.Config
	store   meta.Store
	logger  *slog.Logger

	mu     sync.RWMutex
	byName map[string]*Topic
	byID   map[[16]byte]*Topic

	// alterMu serialises config changes, so that partition logs get each
	// topic's configs in the order they were recorded.
	alterMu sync.Mutex
	// brokerDynamic holds the dynamic broker configs by topic config
	// name (see broker_dynamic.go); replaced whole on change.
	brokerDynamic atomic.Pointer[map[string]string]
}

// Open loads the topics recorded in the store and opens (recovering) their
// partition logs. Partition directories that belong to no known topic are
// leftovers of an interrupted create or delete and are removed.
func Open(dataDir string, broker *config.Config, store meta.Store, logger *slog.Logger) (*Manager, error) {
	m := &Manager{dataDir: dataDir, broker: broker, store: store, logger: logger,
		byName: map[string]*Topic{}, byID: map[[16]byte]*Topic{}}
	dyn, err := store.BrokerConfigs()
	if err != nil {
		return nil, err
	}
	m.brokerDynamic.Store(&dyn)
	recs, err := store.Topics()
	if err != nil {
		return nil, err
	}
	keep := map[string]bool{}
	for _, rec := range recs {
		t := &Topic{Name: rec.Name, ID: rec.ID, CreatedAt: rec.CreatedAt, configs: rec.Configs}
		if t.configs == nil {
			t.configs = map[string]string{}
		}
		t.resolveCodec(m.effective(t.configs, "compression.type"))
		for i := int32(0); i < rec.Partitions; i++ {
			p, err := m.openPartition(t, i)
			if err != nil {
				m.Close()
				return nil, err
			}
			t.partitions = append(t.partitions, p)
			keep[partitionDirName(t.Name, i)] = true
		}
		m.byName[t.Name] = t
		m.byID[t.ID] = t
	}
	m.removeStrays(keep)
	return m, nil
}

// PartitionDir is the directory of a partition's log under dataDir.
func PartitionDir(dataDir, topic string, p int32) string {
	return filepath.Join(dataDir, partitionDirName(topic, p))
}

func partitionDirName(topic string, p int32) string {
	return topic + "-" + strconv.Itoa(int(p))
}

var partitionDirRE = regexp.MustCompile(`^[a-zA-Z0-9._-]+-[0-9]+$`)

// removeStrays deletes partition directories the store does not know.
func (m *Manager) removeStrays(keep map[string]bool) {
	entries, err := os.ReadDir(m.dataDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || keep[name] {
			continue
		}
		if strings.HasSuffix(name, "-delete") || partitionDirRE.MatchString(name) {
			m.logger.Info("removing partition directory of a deleted topic", "dir", name)
			_ = os.RemoveAll(filepath.Join(m.dataDir, name))
		}
	}
}

func (m *Manager) openPartition(t *Topic, i int32) (*Partition, error) {
	dir := filepath.Join(m.dataDir, partitionDirName(t.Name, i))
	l, err := plog.Open(dir, m.logConfig(t.configs), m.logger.With("topic", t.Name, "partition", i))
	if err != nil {
		return nil, fmt.Errorf("open partition %s-%d: %w", t.Name, i, err)
	}
	return &Partition{Topic: t, Index: i, Log: l}, nil
}

// ValidateName checks a topic name as Kafka does.
func ValidateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: the name is empty", ErrInvalidTopic)
	case name == "." || name == "..":
		return fmt.Errorf("%w: %q is not allowed", ErrInvalidTopic, name)
	case len(name) > 249:
		return fmt.Errorf("%w: longer than 249 characters", ErrInvalidTopic)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: %q contains %q; legal characters are ASCII letters, digits, '.', '_' and '-'", ErrInvalidTopic, name, c)
		}
	}
	return nil
}

// CreateSpec is a request to create a topic.
type CreateSpec struct {
	Name              string
	Partitions        int32 // -1: broker default
	ReplicationFactor int16 // -1: broker default
	Configs           map[string]string
	ValidateOnly      bool
}

// Create creates a topic and its partition logs, and returns it.
func (m *Manager) Create(spec CreateSpec) (*Topic, error) {
	if err := ValidateName(spec.Name); err != nil {
		return nil, err
	}
	if spec.Partitions == -1 {
		spec.Partitions = m.broker.Consumer.NumPartitions
	}
	if spec.ReplicationFactor == -1 {
		spec.ReplicationFactor = m.broker.Consumer.ReplicationFactor
	}
	if spec.Partitions <= 0 || spec.Partitions > MaxPartitions {
		return nil, fmt.Errorf("%w: %d (must be 1 to %d)", ErrInvalidPartitions, spec.Partitions, MaxPartitions)
	}
	if spec.ReplicationFactor != 1 {
		return nil, fmt.Errorf("%w: %d; this is a single-node cluster, so it must be 1", ErrInvalidReplication, spec.ReplicationFactor)
	}
	configs := maps.Clone(spec.Configs)
	if configs == nil {
		configs = map[string]string{}
	}
	if err := m.validateConfigSet(configs); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.byName[spec.Name]; ok {
		return nil, fmt.Errorf("%w: %s", ErrTopicExists, spec.Name)
	}
	if c := m.collision(spec.Name); c != "" {
		return nil, fmt.Errorf("%w: %q collides with existing topic %q ('.' and '_' are the same in metric names)", ErrInvalidTopic, spec.Name, c)
	}
	t := &Topic{Name: spec.Name, CreatedAt: time.Now().UTC(), configs: configs}
	t.resolveCodec(m.effective(configs, "compression.type"))
	for {
		_, _ = rand.Read(t.ID[:])
		// Kafka reserves the zero UUID and the "metadata" UUID (1).
		if _, taken := m.byID[t.ID]; !taken && t.ID != ([16]byte{}) && t.ID != ([16]byte{15: 1}) {
			break
		}
	}
	if spec.ValidateOnly {
		t.partitions = make([]*Partition, spec.Partitions)
		return t, nil
	}
	// Logs first, then the record: a crash in between leaves directories
	// the store doesn't know, which the next start removes.
	for i := int32(0); i < spec.Partitions; i++ {
		p, err := m.openPartition(t, i)
		if err != nil {
			for _, p := range t.partitions {
				_ = p.Log.Delete()
			}
			return nil, err
		}
		t.partitions = append(t.partitions, p)
	}
	if err := m.store.PutTopic(t.record()); err != nil {
		for _, p := range t.partitions {
			_ = p.Log.Delete()
		}
		return nil, fmt.Errorf("record topic %s: %w", t.Name, err)
	}
	m.byName[t.Name] = t
	m.byID[t.ID] = t
	m.logger.Info("created topic", "topic", t.Name, "partitions", spec.Partitions, "configs", configs)
	return t, nil
}

// collision returns an existing topic whose name equals name once '.' and
// '_' are folded together, as Kafka refuses such pairs.
func (m *Manager) collision(name string) string {
	fold := func(s string) string { return strings.ReplaceAll(s, ".", "_") }
	f := fold(name)
	for n := range m.byName {
		if fold(n) == f {
			return n
		}
	}
	return ""
}

func (t *Topic) record() meta.TopicRecord {
	return meta.TopicRecord{Name: t.Name, ID: t.ID, Partitions: int32(len(t.partitions)), Configs: t.configs, CreatedAt: t.CreatedAt}
}

// Delete removes a topic and its data.
func (m *Manager) Delete(name string) error {
	m.mu.Lock()
	t, ok := m.byName[name]
	if !ok {
		m.mu.Unlock()
		return ErrUnknownTopic
	}
	// The record goes first: once it is gone, the directories are strays
	// that the next start removes even if we crash now.
	if err := m.store.DeleteTopic(name); err != nil {
		m.mu.Unlock()
		return fmt.Errorf("delete topic %s: %w", name, err)
	}
	delete(m.byName, name)
	delete(m.byID, t.ID)
	parts := t.partitions
	m.mu.Unlock()

	for _, p := range parts {
		if err := p.Log.Delete(); err != nil {
			m.logger.Warn("removing partition data failed", "topic", name, "partition", p.Index, "err", err)
		}
	}
	m.logger.Info("deleted topic", "topic", name)
	return nil
}

// AddPartitions grows a topic to count partitions.
func (m *Manager) AddPartitions(name string, count int32, validateOnly bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.byName[name]
	if !ok {
		return ErrUnknownTopic
	}
	cur := int32(len(t.partitions))
	if count <= cur {
		return fmt.Errorf("%w: topic %s has %d partitions; the new count %d must be larger", ErrInvalidPartitions, name, cur, count)
	}
	if count > MaxPartitions {
		return fmt.Errorf("%w: %d is more than %d", ErrInvalidPartitions, count, MaxPartitions)
	}
	if validateOnly {
		return nil
	}
	parts := append([]*Partition(nil), t.partitions...)
	for i := cur; i < count; i++ {
		p, err := m.openPartition(t, i)
		if err != nil {
			for _, p := range parts[cur:] {
				_ = p.Log.Delete()
			}
			return err
		}
		parts = append(parts, p)
	}
	old := t.partitions
	t.partitions = parts
	if err := m.store.PutTopic(t.record()); err != nil {
		t.partitions = old
		for _, p := range parts[cur:] {
			_ = p.Log.Delete()
		}
		return fmt.Errorf("record topic %s: %w", name, err)
	}
	return nil
}

// Get returns a topic by name.
func (m *Manager) Get(name string) (*Topic, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	t, ok := m.byName[name]
	return t, ok
}

// GetByID returns a topic by id.
func (m *Manager) GetByID(id [16]byte) (*Topic, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	t, ok := m.byID[id]
	return t, ok
}

// Partition returns one partition of a topic.
func (m *Manager) Partition(topic string, partition int32) (*Partition, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	t, ok := m.byName[topic]
	if !ok || partition < 0 || int(partition) >= len(t.partitions) {
		return nil, ErrUnknownTopic
	}
	return t.partitions[partition], nil
}

// List returns every topic, sorted by name.
func (m *Manager) List() []*Topic {
	m.mu.RLock()
	out := make([]*Topic, 0, len(m.byName))
	for _, t := range m.byName {
		out = append(out, t)
	}
	m.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Partitions returns the topic's partitions.
func (m *Manager) Partitions(t *Topic) []*Partition {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return t.partitions
}

// Configs returns a copy of the topic's explicitly set configs.
func (m *Manager) Configs(t *Topic) map[string]string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make(map[string]string, len(t.configs))
	for k, v := range t.configs {
		out[k] = v
	}
	return out
}

// ConfigValue resolves a topic config: the topic's own value, else the
// broker's default for it (dynamic, else from the configuration).
func (m *Manager) ConfigValue(explicit map[string]string, name string) (value string, isSet bool) {
	if v, ok := explicit[name]; ok {
		return v, true
	}
	if d, ok := topicConfigs[name]; ok {
		v, _ := m.BrokerDefault(d)
		return v, false
	}
	return "", false
}

// logConfig resolves the configs the partition log acts on.
func (m *Manager) logConfig(explicit map[string]string) plog.Config {
	num := func(name string) int64 {
		v, _ := m.ConfigValue(explicit, name)
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	ts := plog.CreateTime
	if v, _ := m.ConfigValue(explicit, "message.timestamp.type"); v == "LogAppendTime" {
		ts = plog.LogAppendTime
	}
	fsync := plog.FsyncAlways
	switch m.broker.Storage.Fsync {
	case "interval":
		fsync = plog.FsyncInterval
	case "never":
		fsync = plog.FsyncNever
	}
	policy, _ := m.ConfigValue(explicit, "cleanup.policy")
	remote, _ := m.ConfigValue(explicit, "remote.storage.enable")
	ratioText, _ := m.ConfigValue(explicit, "min.cleanable.dirty.ratio")
	ratio, err := strconv.ParseFloat(ratioText, 64)
	if err != nil {
		ratio = -1 // the log's default
	}
	return plog.Config{
		Compact:                strings.Contains(policy, "compact"),
		Delete:                 strings.Contains(policy, "delete"),
		DeleteRetentionMs:      num("delete.retention.ms"),
		MinCleanableDirtyRatio: ratio,
		MinCompactionLagMs:     num("min.compaction.lag.ms"),
		MaxCompactionLagMs:     num("max.compaction.lag.ms"),
		SegmentBytes:           num("segment.bytes"),
		SegmentMs:              num("segment.ms"),
		RetentionMs:            num("retention.ms"),
		RetentionBytes:         num("retention.bytes"),
		MaxMessageBytes:        int32(num("max.message.bytes")),
		TimestampType:          ts,
		IndexIntervalBytes:     int32(num("index.interval.bytes")),
		Fsync:                  fsync,
		RemoteStorage:          remote == "true",
		LocalRetentionMs:       num("local.retention.ms"),
		LocalRetentionBytes:    num("local.retention.bytes"),
		FlushIntervalMs:        m.broker.Storage.FsyncIntervalMs,
		ProducerIDExpirationMs: m.broker.Storage.ProducerIDExpirationMs,
	}
}

// Maintain runs periodic log maintenance (segment roll by age, retention,
// producer expiry, compaction) on every partition.
func (m *Manager) Maintain(now time.Time) {
	for _, t := range m.List() {
		for _, p := range m.Partitions(t) {
			p.Log.Maintain(now)
			// A no-op unless cleanup.policy has compact.
			if _, err := p.Log.Clean(now); err != nil {
				m.logger.Warn("compaction failed", "topic", t.Name, "partition", p.Index, "err", err)
			}
		}
	}
}

// Close closes every partition log, checkpointing them for a fast restart.
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var first error
	for _, t := range m.byName {
		for _, p := range t.partitions {
			if err := p.Log.Close(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// SearchEnabled reports whether t's messages are indexed for search (the
// topic's chronik.search.enabled, else the broker's search_enabled).
func (m *Manager) SearchEnabled(t *Topic) bool {
	m.mu.RLock()
	v, _ := m.ConfigValue(t.configs, SearchEnabledConfig)
	m.mu.RUnlock()
	return v == "true"
}

// LogDir describes the data directory as DescribeLogDirs reports it.
type LogDir struct {
	Path string // absolute
	// TotalBytes and UsableBytes describe the volume holding it (-1 when
	// unknown).
	TotalBytes, UsableBytes int64
}

// LogDir returns the data directory, its volume's size and free space.
func (m *Manager) LogDir() (LogDir, error) {
	path, err := filepath.Abs(m.dataDir)
	if err != nil {
		path = m.dataDir
	}
	total, usable, err := volumeBytes(path)
	return LogDir{Path: path, TotalBytes: total, UsableBytes: usable}, err
}
