// Package tiering is Chronik's tiered storage (Kafka's KIP-405): closed
// segments of topics with remote.storage.enable=true are copied to an
// object store (internal/tier) in the background, local retention
// (local.retention.*) then frees the disk, reads below the local log come
// back from the bucket, retention.* bounds the whole log, and the cluster's
// metadata is kept in the bucket so that a broker on an empty data
// directory can be restored from it (restore.go).
//
// What a crash can lose is bounded by settings: records in a partition's
// active segment live only on local disk until the segment rolls
// (segment.ms / segment.bytes) and the next upload round
// (storage.upload_interval_ms) copies it; topics, configs and committed
// offsets reach the bucket every storage.metadata_interval_ms.
package tiering

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	plog "github.com/chronik-streaming/chronik/internal/log"
	"github.com/chronik-streaming/chronik/internal/tier"
	"github.com/chronik-streaming/chronik/internal/topics"
)

// Options configure a Manager.
type Options struct {
	UploadInterval   time.Duration
	MetadataInterval time.Duration
	// Snapshot returns the cluster metadata to keep in the bucket (see
	// restore.go); nil keeps none.
	Snapshot func() ([]byte, error)
}

// behindAfter is how long uploads may keep failing before readiness says
// the broker is behind on them: ten upload rounds, at least 10 s.
func (m *Manager) behindAfter() time.Duration { return max(10*m.opts.UploadInterval, 10*time.Second) }

// Manager runs tiered storage for every tiered topic.
type Manager struct {
	store  *tier.Store
	topics *topics.Manager
	opts   Options
	logger *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	parts map[partKey]*remotePartition

	failingSince atomic.Int64 // unix ms of the first failure of the current streak; 0 when fine
	lastErr      atomic.Pointer[string]
	lastMeta     []byte // the snapshot last stored (loop goroutine only)

	stats Stats
}

// Stats are counters for /metrics.
type Stats struct {
	SegmentsUploaded atomic.Int64
	BytesUploaded    atomic.Int64
	UploadErrors     atomic.Int64
	SegmentsDeleted  atomic.Int64
	RemoteReads      atomic.Int64
	RemoteReadBytes  atomic.Int64
	RemoteReadErrors atomic.Int64
}

type partKey struct {
	topicID   [16]byte
	partition int32
}

// New starts tiering over store for the topics of tm.
func New(store *tier.Store, tm *topics.Manager, opts Options, logger *slog.Logger) *Manager {
	if opts.UploadInterval <= 0 {
		opts.UploadInterval = time.Second
	}
	if opts.MetadataInterval <= 0 {
		opts.MetadataInterval = 5 * time.Second
	}
	m := &Manager{store: store, topics: tm, opts: opts, logger: logger.With("component", "tiering"), parts: map[partKey]*remotePartition{}}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.reconcile()
	// Manifests load before clients are served, so that the earliest
	// offsets are right from the start (a slow store delays this by at
	// most loadTimeout; reads then wait for the loop).
	ctx, cancel := context.WithTimeout(m.ctx, loadTimeout)
	for _, rp := range m.partitions() {
		if err := rp.load(ctx); err != nil {
			rp.logger.Warn("tiered storage manifest not loaded yet; retrying in the background", "err", err)
		}
	}
	cancel()
	m.wg.Add(1)
	go m.loop()
	return m
}

// loadTimeout bounds the manifest loading of New.
const loadTimeout = 10 * time.Second

// Close stops uploading; the store is the caller's to close.
func (m *Manager) Close() {
	m.cancel()
	m.wg.Wait()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.parts {
		p.p.SetRemote(nil)
	}
}

// Stats returns the manager's counters.
func (m *Manager) Stats() *Stats { return &m.stats }

// Behind reports whether uploads are behind, and why: a closed segment has
// waited for its upload longer than behindAfter (the store fails, or hangs).
func (m *Manager) Behind() (bool, string) {
	var oldest int64
	for _, p := range m.partitions() {
		if s := p.pendingSince.Load(); s != 0 && (oldest == 0 || s < oldest) {
			oldest = s
		}
	}
	if oldest == 0 || time.Since(time.UnixMilli(oldest)) < m.behindAfter() {
		return false, ""
	}
	reason := fmt.Sprintf("object store uploads behind: a closed segment has waited %s", time.Since(time.UnixMilli(oldest)).Round(time.Second))
	if e := m.lastErr.Load(); e != nil && m.failingSince.Load() != 0 {
		reason += "; last error: " + *e
	}
	return true, reason
}

// PendingBytes returns the bytes of closed segments not yet uploaded.
func (m *Manager) PendingBytes() int64 {
	var n int64
	for _, p := range m.partitions() {
		n += p.pendingBytes.Load()
	}
	return n
}

func (m *Manager) partitions() []*remotePartition {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*remotePartition, 0, len(m.parts))
	for _, p := range m.parts {
		out = append(out, p)
	}
	return out
}

func (m *Manager) loop() {
	defer m.wg.Done()
	upload := time.NewTicker(m.opts.UploadInterval)
	defer upload.Stop()
	meta := time.NewTicker(m.opts.MetadataInterval)
	defer meta.Stop()
	m.storeMetadata()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-upload.C:
			m.reconcile()
			m.round()
		case <-meta.C:
			m.storeMetadata()
		}
	}
}

// reconcile attaches a remote log to each partition of each tiered topic,
// and drops the bucket's copy of partitions whose topic was deleted.
func (m *Manager) reconcile() {
	want := map[partKey]*topics.Partition{}
	for _, t := range m.topics.List() {
		if v, _ := m.topics.ConfigValue(m.topics.Configs(t), "remote.storage.enable"); v != "true" {
			continue
		}
		for _, p := range m.topics.Partitions(t) {
			want[partKey{t.ID, p.Index}] = p
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, rp := range m.parts {
		if _, ok := want[k]; ok {
			continue
		}
		delete(m.parts, k)
		rp.p.SetRemote(nil)
		if _, exists := m.topics.GetByID(k.topicID); !exists {
			// The topic is gone: so is its copy in the bucket.
			m.wg.Add(1)
			go func() {
				defer m.wg.Done()
				ctx, cancel := context.WithTimeout(m.ctx, time.Minute)
				defer cancel()
				if err := m.store.DeletePartition(ctx, k.topicID, k.partition); err != nil {
					m.logger.Warn("deleting a deleted topic's objects failed", "topic", rp.topic, "partition", rp.index, "err", err)
				}
			}()
		}
	}
	for k, p := range want {
		if rp, ok := m.parts[k]; ok && rp.p == p {
			continue
		}
		rp := &remotePartition{m: m, topicID: k.topicID, topic: p.Topic.Name, index: p.Index, p: p,
			logger: m.logger.With("topic", p.Topic.Name, "partition", p.Index)}
		m.parts[k] = rp
		p.SetRemote(rp)
	}
}

// round uploads what each tiered partition has closed and applies remote
// retention.
func (m *Manager) round() {
	failed := false
	for _, rp := range m.partitions() {
		if m.ctx.Err() != nil {
			return
		}
		if err := rp.sync(m.ctx); err != nil {
			if m.ctx.Err() != nil {
				return
			}
			failed = true
			m.stats.UploadErrors.Add(1)
			msg := err.Error()
			m.lastErr.Store(&msg)
			rp.logger.Warn("tiered storage upload failed; retrying", "err", err, "retry_in", rp.backoff)
		}
	}
	if failed {
		m.failingSince.CompareAndSwap(0, time.Now().UnixMilli())
	} else {
		m.failingSince.Store(0)
	}
}

// remotePartition is one tiered partition: its manifest and its uploader.
// It is the partition's topics.RemoteLog.
type remotePartition struct {
	m        *Manager
	topicID  [16]byte
	topic    string
	index    int32
	p        *topics.Partition
	logger   *slog.Logger
	manifest atomic.Pointer[tier.Manifest] // nil until loaded

	// Uploader state (the manager's loop only).
	nextTry      time.Time
	backoff      time.Duration
	pendingBytes atomic.Int64
	pendingSince atomic.Int64 // unix ms since a closed segment waits for upload; 0 when none
}

const (
	minBackoff = time.Second
	maxBackoff = 30 * time.Second
	// opTimeout bounds one segment upload; metaOpTimeout a manifest or
	// metadata read or write.
	opTimeout     = 2 * time.Minute
	metaOpTimeout = 15 * time.Second
)

// sync loads the manifest once, uploads closed segments in order, then
// applies retention to the remote part.
func (rp *remotePartition) sync(ctx context.Context) error {
	if time.Now().Before(rp.nextTry) {
		return nil
	}
	err := rp.syncOnce(ctx)
	if err != nil {
		rp.backoff = min(max(2*rp.backoff, minBackoff), maxBackoff)
		rp.nextTry = time.Now().Add(rp.backoff)
	} else {
		rp.backoff = 0
	}
	return err
}

// load reads the partition's manifest from the bucket (once), cleans
// the objects of uploads a crash interrupted, and tells the log how far the
// bucket holds its data.
func (rp *remotePartition) load(ctx context.Context) error {
	if rp.manifest.Load() != nil {
		return nil
	}
	octx, cancel := context.WithTimeout(ctx, metaOpTimeout)
	loaded, err := rp.m.store.ReadManifest(octx, rp.topicID, rp.index)
	cancel()
	if err != nil {
		return fmt.Errorf("read manifest: %w", err)
	}
	if loaded == nil {
		loaded = &tier.Manifest{TopicID: fmt.Sprintf("%x", rp.topicID), Topic: rp.topic, Partition: rp.index, LogStartOffset: -1}
	} else {
		octx, cancel := context.WithTimeout(ctx, metaOpTimeout)
		if n, err := rp.m.store.DeleteUnreferenced(octx, loaded); err != nil {
			rp.logger.Warn("cleaning unreferenced objects failed", "err", err)
		} else if n > 0 {
			rp.logger.Info("deleted objects of interrupted uploads", "count", n)
		}
		cancel()
	}
	rp.manifest.Store(loaded)
	if end := manifestEnd(loaded); end > 0 {
		rp.p.Log.SetTieredUpTo(end)
	}
	return nil
}

func (rp *remotePartition) syncOnce(ctx context.Context) error {
	l := rp.p.Log
	if err := rp.load(ctx); err != nil {
		return err
	}
	man := rp.manifest.Load()

	closed := l.ClosedSegments(l.LastStableOffset())
	var pending int64
	for _, c := range closed {
		if c.Next > manifestEnd(man) {
			pending += c.Size
		}
	}
	rp.pendingBytes.Store(pending)
	if pending == 0 {
		rp.pendingSince.Store(0)
	} else {
		rp.pendingSince.CompareAndSwap(0, time.Now().UnixMilli())
	}
	for _, c := range closed {
		if c.Next <= manifestEnd(man) {
			continue // uploaded already
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		next, err := rp.upload(ctx, man, c)
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted meanwhile (DeleteRecords): nothing to keep
		}
		if err != nil {
			return err
		}
		man = next
		rp.pendingBytes.Add(-c.Size)
		l.SetTieredUpTo(c.Next)
	}
	rp.pendingSince.Store(0)
	return rp.applyRetention(ctx, man)
}

// upload copies one closed segment and then records it in a new manifest:
// the manifest never names an object that is not completely written.
func (rp *remotePartition) upload(ctx context.Context, man *tier.Manifest, c plog.ClosedSegment) (*tier.Manifest, error) {
	octx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	desc := tier.RemoteSegment{BaseOffset: c.Base, NextOffset: c.Next, MaxTimestamp: c.MaxTimestamp, SizeBytes: c.Size,
		LeaderEpoch: c.LeaderEpoch, UploadedAt: time.Now().UTC()}
	for _, a := range c.Aborted {
		desc.Aborted = append(desc.Aborted, tier.AbortedTxn{ProducerID: a.ProducerID, FirstOffset: a.FirstOffset, LastOffset: a.LastOffset})
	}
	seg, err := rp.m.store.UploadSegment(octx, rp.topicID, rp.index, desc, c.Files)
	if err != nil {
		return nil, fmt.Errorf("upload segment %d: %w", c.Base, err)
	}
	next := cloneManifest(man)
	next.Segments = append(next.Segments, seg)
	if next.LogStartOffset < 0 {
		next.LogStartOffset = seg.BaseOffset
	}
	if err := rp.m.store.WriteManifest(octx, next); err != nil {
		// The uploaded objects are unreferenced: the next load deletes them.
		return nil, fmt.Errorf("write manifest: %w", err)
	}
	rp.manifest.Store(next)
	rp.m.stats.SegmentsUploaded.Add(1)
	rp.m.stats.BytesUploaded.Add(c.Size)
	rp.logger.Debug("segment uploaded", "base", c.Base, "next", c.Next, "bytes", c.Size)
	return next, nil
}

// applyRetention deletes remote segments beyond retention.ms and
// retention.bytes (which bound the whole log, local and remote): the
// manifest drops them first, then their objects go.
func (rp *remotePartition) applyRetention(ctx context.Context, man *tier.Manifest) error {
	if len(man.Segments) == 0 {
		return nil
	}
	cfg := rp.m.topics.Configs(rp.p.Topic)
	num := func(name string) int64 {
		v, _ := rp.m.topics.ConfigValue(cfg, name)
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	retentionMs, retentionBytes := num("retention.ms"), num("retention.bytes")
	l := rp.p.Log
	localStart := l.LogStartOffset()
	// The bytes of the whole log: local, plus remote segments below it.
	total := l.Size()
	for _, s := range man.Segments {
		if s.BaseOffset < localStart {
			total += s.SizeBytes
		}
	}
	n := 0
	now := time.Now().UnixMilli()
	for n < len(man.Segments) {
		s := man.Segments[n]
		expired := retentionMs >= 0 && s.MaxTimestamp >= 0 && s.MaxTimestamp < now-retentionMs
		oversize := retentionBytes >= 0 && total > retentionBytes && s.BaseOffset < localStart
		if !expired && !oversize {
			break
		}
		if s.BaseOffset < localStart {
			total -= s.SizeBytes
		}
		n++
	}
	if n == 0 {
		return nil
	}
	gone := slices.Clone(man.Segments[:n])
	next := cloneManifest(man)
	next.Segments = next.Segments[n:]
	if len(next.Segments) > 0 {
		next.LogStartOffset = next.Segments[0].BaseOffset
	} else {
		next.LogStartOffset = gone[len(gone)-1].NextOffset
	}
	octx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if err := rp.m.store.WriteManifest(octx, next); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	rp.manifest.Store(next)
	for _, s := range gone {
		if err := rp.m.store.DeleteSegment(octx, s); err != nil {
			rp.logger.Warn("deleting an expired remote segment failed (it is unreferenced and goes at the next start)", "base", s.BaseOffset, "err", err)
			continue
		}
		rp.m.stats.SegmentsDeleted.Add(1)
	}
	rp.logger.Info("remote segments deleted by retention", "count", len(gone), "log_start", next.LogStartOffset)
	return nil
}

func cloneManifest(m *tier.Manifest) *tier.Manifest {
	c := *m
	c.Segments = slices.Clone(m.Segments)
	return &c
}

// manifestEnd is one past the last offset the manifest holds (0 when none).
func manifestEnd(m *tier.Manifest) int64 {
	if m == nil || len(m.Segments) == 0 {
		return 0
	}
	return m.Segments[len(m.Segments)-1].NextOffset
}

// storeMetadata copies the cluster metadata to the bucket when it changed.
func (m *Manager) storeMetadata() {
	if m.opts.Snapshot == nil {
		return
	}
	data, err := m.opts.Snapshot()
	if err != nil {
		m.logger.Warn("cluster metadata snapshot failed", "err", err)
		return
	}
	if string(data) == string(m.lastMeta) {
		return
	}
	ctx, cancel := context.WithTimeout(m.ctx, opTimeout)
	defer cancel()
	if err := m.store.PutMeta(ctx, metadataObject, data); err != nil {
		if m.ctx.Err() == nil {
			m.logger.Warn("storing cluster metadata in the bucket failed; retrying", "err", err)
		}
		return
	}
	m.lastMeta = data
}

// RegisterMetrics exports the tiering counters under chronik_tiered_*.
func (m *Manager) RegisterMetrics(reg prometheus.Registerer) {
	counter := func(name, help string, v *atomic.Int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v.Load()) })
	}
	reg.MustRegister(
		counter("chronik_tiered_segments_uploaded_total", "Segments copied to the object store.", &m.stats.SegmentsUploaded),
		counter("chronik_tiered_uploaded_bytes_total", "Bytes of segments copied to the object store.", &m.stats.BytesUploaded),
		counter("chronik_tiered_upload_errors_total", "Failed upload rounds of a partition (retried with backoff).", &m.stats.UploadErrors),
		counter("chronik_tiered_segments_deleted_total", "Remote segments deleted by retention.", &m.stats.SegmentsDeleted),
		counter("chronik_tiered_remote_reads_total", "Reads served from the object store (fetches below the local log).", &m.stats.RemoteReads),
		counter("chronik_tiered_remote_read_bytes_total", "Bytes read from remote segments.", &m.stats.RemoteReadBytes),
		counter("chronik_tiered_remote_read_errors_total", "Remote reads that failed (answered KAFKA_STORAGE_ERROR).", &m.stats.RemoteReadErrors),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "chronik_tiered_pending_bytes", Help: "Bytes of closed segments not yet in the object store."},
			func() float64 { return float64(m.PendingBytes()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "chronik_tiered_uploads_failing_seconds", Help: "How long uploads have been failing; 0 when they work."},
			func() float64 {
				if s := m.failingSince.Load(); s != 0 {
					return time.Since(time.UnixMilli(s)).Seconds()
				}
				return 0
			}),
	)
}
