// Package broker wires Chronik's parts together: the metadata store, the
// partition logs, the Kafka listener and the HTTP listener.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chronik-streaming/chronik/internal/admin"
	"github.com/chronik-streaming/chronik/internal/config"
	"github.com/chronik-streaming/chronik/internal/group"
	"github.com/chronik-streaming/chronik/internal/kafka"
	"github.com/chronik-streaming/chronik/internal/lag"
	"github.com/chronik-streaming/chronik/internal/meta"
	"github.com/chronik-streaming/chronik/internal/metrics"
	"github.com/chronik-streaming/chronik/internal/offsets"
	"github.com/chronik-streaming/chronik/internal/search"
	"github.com/chronik-streaming/chronik/internal/server"
	"github.com/chronik-streaming/chronik/internal/tier"
	"github.com/chronik-streaming/chronik/internal/tiering"
	"github.com/chronik-streaming/chronik/internal/topics"
	"github.com/chronik-streaming/chronik/internal/txn"
)

// maintenanceInterval is how often segments are rolled by age and retention
// is enforced.
const maintenanceInterval = 5 * time.Second

// Broker is a running Chronik node.
type Broker struct {
	cfg    *config.Config
	logger *slog.Logger

	store   *meta.BoltStore
	topics  *topics.Manager
	offsets *offsets.Store
	groups  *group.Coordinator
	txns    *txn.Coordinator
	search  *search.Service
	metrics *metrics.Metrics
	kafka   *server.Server
	http    *http.Server
	admin   *admin.Server
	bucket  *tier.Store      // nil without tiered storage
	tiering *tiering.Manager // nil without tiered storage

	kafkaLn, httpLn net.Listener
	ready           atomic.Bool
	storageErr      atomic.Pointer[string] // the last append failure, until appends work again
	stop            chan struct{}
	wg              sync.WaitGroup
}

// Run starts the broker and blocks until ctx is cancelled or a listener fails.
func Run(ctx context.Context, cfg *config.Config, logger *slog.Logger) error {
	b, err := Start(cfg, logger)
	if err != nil {
		return err
	}
	errc := make(chan error, 2)
	go func() { errc <- b.kafka.Serve(b.kafkaLn) }()
	go func() {
		if err := b.http.Serve(b.httpLn); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	select {
	case <-ctx.Done():
	case err = <-errc:
		logger.Error("listener failed", "err", err)
	}
	if cerr := b.Close(); err == nil {
		err = cerr
	}
	return err
}

// Start opens the data directory, recovers the logs and binds both
// listeners; the caller serves them (Run) or uses Serve for tests.
func Start(cfg *config.Config, logger *slog.Logger) (*Broker, error) {
	if err := os.MkdirAll(cfg.Server.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("data directory %s: %w", cfg.Server.DataDir, err)
	}
	b := &Broker{cfg: cfg, logger: logger, stop: make(chan struct{})}
	var err error
	if b.store, err = meta.Open(cfg.Server.DataDir); err != nil {
		return nil, err
	}
	// Tiered storage: the object store opens first, so that a broker on an
	// empty data directory can be restored from it.
	var restored *tiering.Restored
	if cfg.Storage.Backend != config.BackendLocal {
		if restored, err = b.openBucket(); err != nil {
			b.store.Close()
			return nil, err
		}
	}
	start := time.Now()
	if b.topics, err = topics.Open(cfg.Server.DataDir, cfg, b.store, logger); err != nil {
		b.closeBucket()
		b.store.Close()
		return nil, err
	}
	// Committed offsets load before the listener binds, so no consumer can
	// ever be told "no committed offset" while they are loading.
	if b.offsets, err = offsets.Open(cfg.Server.DataDir, logger); err != nil {
		b.topics.Close()
		b.closeBucket()
		b.store.Close()
		return nil, err
	}
	if err := tiering.ApplyRestored(restored, b.topics, b.offsets, cfg.Server.DataDir); err != nil {
		b.closeStorage()
		return nil, err
	}
	b.groups = group.NewCoordinator(group.Config{
		InitialRebalanceDelay: time.Duration(cfg.Consumer.GroupInitialRebalanceDelayMs) * time.Millisecond,
		MinSessionTimeout:     time.Duration(cfg.Consumer.GroupMinSessionTimeoutMs) * time.Millisecond,
		MaxSessionTimeout:     time.Duration(cfg.Consumer.GroupMaxSessionTimeoutMs) * time.Millisecond,
		// KIP-848 groups: the broker decides these for its members.
		ConsumerSessionTimeout:    time.Duration(cfg.Consumer.GroupConsumerSessionTimeoutMs) * time.Millisecond,
		ConsumerHeartbeatInterval: time.Duration(cfg.Consumer.GroupConsumerHeartbeatIntervalMs) * time.Millisecond,
	}, logger)
	b.groups.SetTopicLookup(kafka.NewTopicLookup(b.topics))
	// Group membership persists in the offsets store: members of stable
	// groups carry on across a restart.
	b.groups.SetMetadataStore(b.offsets)
	if md, err := b.offsets.GroupMetadata(); err != nil {
		logger.Warn("stored group metadata unreadable; groups start empty", "err", err)
	} else {
		b.groups.RestoreGroups(md)
	}
	for _, g := range b.offsets.Groups() {
		b.groups.Touch(g) // groups with offsets exist, Empty, as in Kafka
	}
	producerIDs := txn.NewProducerIDs(b.store)
	// Transactions left in PrepareCommit/PrepareAbort by a crash are
	// completed (markers written again) as soon as the coordinator opens.
	b.txns, err = txn.OpenCoordinator(cfg.Server.DataDir, producerIDs,
		markerWriter{topics: b.topics, logger: logger}, offsetMaterializer{b.offsets},
		txn.Config{MaxTimeout: time.Duration(cfg.Consumer.TransactionMaxTimeoutMs) * time.Millisecond}, logger)
	if err != nil {
		b.closeStorage()
		return nil, err
	}
	// Indexing follows the logs in the background; a missing or damaged
	// index is rebuilt while the broker serves.
	if b.search, err = search.Open(cfg.Server.DataDir, b.topics, cfg.Search.SearchIndexDocs, logger); err != nil {
		b.closeStorage()
		return nil, err
	}
	logger.Info("logs loaded", "topics", len(b.topics.List()), "groups", len(b.offsets.Groups()), "took", time.Since(start).Round(time.Millisecond))

	if b.kafkaLn, err = net.Listen("tcp", cfg.Server.KafkaListen); err != nil {
		b.closeStorage()
		return nil, fmt.Errorf("kafka listener %s: %w", cfg.Server.KafkaListen, err)
	}
	if b.httpLn, err = net.Listen("tcp", cfg.Server.HTTPListen); err != nil {
		b.kafkaLn.Close()
		b.closeStorage()
		return nil, fmt.Errorf("http listener %s: %w", cfg.Server.HTTPListen, err)
	}
	host, port := advertised(cfg, b.kafkaLn.Addr())
	b.metrics = metrics.New(metrics.Options{
		PerPartition: cfg.Server.MetricsPerPartition,
		LogStats:     b.logStats,
		GroupLag:     b.allGroupLag,
		SearchLag:    b.searchLag,
	})
	if b.bucket != nil {
		b.tiering = tiering.New(b.bucket, b.topics, tiering.Options{
			UploadInterval:   time.Duration(cfg.Storage.UploadIntervalMs) * time.Millisecond,
			MetadataInterval: time.Duration(cfg.Storage.MetadataIntervalMs) * time.Millisecond,
			Snapshot:         func() ([]byte, error) { return tiering.TakeSnapshot(b.store, b.topics, b.offsets) },
		}, logger)
		b.tiering.RegisterMetrics(b.metrics.Registry())
	}
	handler := kafka.New(kafka.Broker{NodeID: cfg.Server.NodeID, Host: host, Port: port, ClusterID: b.store.ClusterID()}, cfg,
		kafka.Deps{Topics: b.topics, ProducerIDs: producerIDs, Txns: b.txns, Groups: b.groups, Offsets: b.offsets, Metrics: b.metrics}, logger)
	handler.SetStorageObserver(b)
	b.kafka = server.New(handler, cfg.Server.MaxRequestBytes, logger)
	b.kafka.SetObserver(b.metrics)
	b.admin = admin.New(admin.Deps{Ready: b.readiness, GroupLag: b.groupLag, Search: b.search,
		Metrics: b.metrics.Handler(), KafkaAddr: b.kafkaLn.Addr().String()})
	b.http = &http.Server{Handler: b.admin, ReadHeaderTimeout: 10 * time.Second}

	b.wg.Add(1)
	go b.maintain()
	b.ready.Store(true)
	logger.Info("chronik started", "kafka", b.kafkaLn.Addr().String(), "advertised", net.JoinHostPort(host, strconv.Itoa(int(port))),
		"http", b.httpLn.Addr().String(), "data_dir", cfg.Server.DataDir, "cluster_id", b.store.ClusterID(), "fsync", cfg.Storage.Fsync)
	return b, nil
}

// Serve serves both listeners in the background (for in-process tests).
func (b *Broker) Serve() {
	go func() { _ = b.kafka.Serve(b.kafkaLn) }()
	go func() { _ = b.http.Serve(b.httpLn) }()
}

// KafkaAddr is the bound Kafka listener address.
func (b *Broker) KafkaAddr() string { return b.kafkaLn.Addr().String() }

// HTTPAddr is the bound HTTP listener address.
func (b *Broker) HTTPAddr() string { return b.httpLn.Addr().String() }

// advertised returns the host and port clients are told to use: the
// configured ones, else the listener's, with localhost for a wildcard bind.
func advertised(cfg *config.Config, addr net.Addr) (string, int32) {
	host, port := cfg.Advertised()
	if port == 0 {
		if ta, ok := addr.(*net.TCPAddr); ok {
			port = int32(ta.Port)
		}
	}
	return host, port
}

func (b *Broker) maintain() {
	defer b.wg.Done()
	t := time.NewTicker(maintenanceInterval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case now := <-t.C:
			b.topics.Maintain(now)
			b.expireOffsets(now)
		}
	}
}

// expireOffsets drops committed offsets of empty groups after
// offsets.retention.minutes, then the empty groups left without offsets.
func (b *Broker) expireOffsets(now time.Time) {
	retention := time.Duration(b.cfg.Consumer.OffsetsRetentionMinutes) * time.Minute
	b.offsets.Expire(now, retention, b.groups.IsEmpty)
	for _, l := range b.groups.List([]string{group.StateEmpty}, nil) {
		if len(b.offsets.FetchGroup(l.GroupID)) == 0 {
			_ = b.groups.Delete(l.GroupID)
		}
	}
}

// groupLag is a group's lag, for the HTTP API.
func (b *Broker) groupLag(groupID string) ([]lag.Partition, bool) {
	if !b.groups.Describe(groupID).Exists {
		return nil, false
	}
	return lag.Group(b.offsets, b.topics, groupID), true
}

// StorageFailed implements kafka.StorageObserver.
func (b *Broker) StorageFailed(err error) {
	msg := err.Error()
	b.storageErr.Store(&msg)
}

// StorageRecovered implements kafka.StorageObserver; it is on the produce
// path, so it only writes when there is something to clear.
func (b *Broker) StorageRecovered() {
	if b.storageErr.Load() != nil {
		b.storageErr.Store(nil)
	}
}

// readiness is /ready: serving, and the data directory takes writes. The
// probe writes a filesystem block with fsync; after an append failed for
// storage, it must fit a whole max-size batch before the broker is ready.
func (b *Broker) readiness() (bool, string) {
	if !b.ready.Load() {
		return false, "starting or stopping"
	}
	size := 4096
	failed := b.storageErr.Load()
	if failed != nil {
		size = int(b.cfg.Storage.MessageMaxBytes)
	}
	if err := probeWrite(b.cfg.Server.DataDir, size); err != nil {
		reason := "data directory is not writable: " + err.Error()
		if failed != nil {
			reason = "appends are failing (" + *failed + "); " + reason
		}
		return false, reason
	}
	if failed != nil {
		b.storageErr.CompareAndSwap(failed, nil)
	}
	if b.tiering != nil {
		if behind, reason := b.tiering.Behind(); behind {
			return false, reason
		}
	}
	return true, ""
}

func probeWrite(dir string, size int) error {
	f, err := os.CreateTemp(dir, ".ready-probe-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(make([]byte, size))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Close stops serving and closes the logs cleanly (checkpointed, so the
// next start recovers nothing).
func (b *Broker) Close() error {
	b.ready.Store(false)
	close(b.stop)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = b.http.Shutdown(ctx)
	b.admin.Close() // its Kafka client, before the Kafka listener closes
	_ = b.kafka.Close()
	b.wg.Wait()
	err := b.closeStorage()
	b.logger.Debug("broker closed")
	return err
}

// openBucket opens the object store and, on an empty data directory,
// restores the cluster from it.
func (b *Broker) openBucket() (*tiering.Restored, error) {
	st := b.cfg.Storage
	have, err := b.store.Topics()
	if err != nil {
		return nil, err
	}
	// A broker with topics of its own serves them while the store is down;
	// an empty one may need the bucket to restore from, so it waits.
	timeout, lenient := time.Minute, len(have) > 0
	if lenient {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	bucket, err := tier.Open(ctx, tier.Options{Backend: st.Backend, Bucket: st.Bucket, Prefix: st.Prefix, Endpoint: st.Endpoint,
		Region: st.Region, CacheDir: filepath.Join(b.cfg.Server.DataDir, "remote-cache"), CacheBytes: st.RemoteCacheMB << 20,
		WarnInaccessible: lenient}, b.logger)
	if err != nil {
		return nil, fmt.Errorf("object store: %w", err)
	}
	b.bucket = bucket
	restored, err := tiering.Restore(ctx, bucket, b.store, b.cfg.Server.DataDir, b.logger)
	if err != nil {
		b.closeBucket()
		return nil, err
	}
	b.logger.Info("tiered storage on", "bucket", bucket.String())
	return restored, nil
}

func (b *Broker) closeBucket() {
	if b.tiering != nil {
		b.tiering.Close()
		b.tiering = nil
	}
	if b.bucket != nil {
		if err := b.bucket.Close(); err != nil {
			b.logger.Warn("closing the object store", "err", err)
		}
		b.bucket = nil
	}
}

func (b *Broker) closeStorage() error {
	// Uploads read the logs: they stop first.
	b.closeBucket()
	// The indexers read the logs: they stop first.
	if b.search != nil {
		_ = b.search.Close()
	}
	if b.groups != nil {
		b.groups.Close()
	}
	// The transaction coordinator writes markers and offsets: it closes
	// before the logs and the offsets store.
	if b.txns != nil {
		if err := b.txns.Close(); err != nil {
			b.logger.Warn("closing the transaction coordinator failed", "err", err)
		}
	}
	err := b.topics.Close()
	if b.offsets != nil {
		if cerr := b.offsets.Close(); err == nil {
			err = cerr
		}
	}
	if cerr := b.store.Close(); err == nil {
		err = cerr
	}
	return err
}

// logStats feeds the log size and offset series of /metrics.
func (b *Broker) logStats() []metrics.PartitionLog {
	var out []metrics.PartitionLog
	for _, t := range b.topics.List() {
		for _, p := range b.topics.Partitions(t) {
			out = append(out, metrics.PartitionLog{Topic: t.Name, Partition: p.Index,
				SizeBytes: p.Log.Size(), LogStartOffset: p.Log.LogStartOffset(), LogEndOffset: p.Log.HighWatermark()})
		}
	}
	return out
}

// allGroupLag feeds the consumer group lag series of /metrics.
func (b *Broker) allGroupLag() []metrics.GroupLag {
	var out []metrics.GroupLag
	for _, g := range b.offsets.Groups() {
		for _, p := range lag.Group(b.offsets, b.topics, g) {
			out = append(out, metrics.GroupLag{Group: g, Topic: p.Topic, Partition: p.Partition, Lag: p.Lag})
		}
	}
	return out
}

// searchLag feeds the search indexing lag series of /metrics: per topic,
// records summed over the partitions and the largest lag in seconds.
func (b *Broker) searchLag() []metrics.SearchLag {
	if b.search == nil {
		return nil
	}
	idx := map[string]int{}
	var out []metrics.SearchLag
	for _, st := range b.search.Status() {
		i, ok := idx[st.Topic]
		if !ok {
			i = len(out)
			idx[st.Topic] = i
			out = append(out, metrics.SearchLag{Topic: st.Topic})
		}
		out[i].Records += st.LagRecords
		out[i].Seconds = max(out[i].Seconds, st.LagSeconds)
	}
	return out
}
