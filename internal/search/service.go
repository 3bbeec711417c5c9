// Package search makes messages searchable moments after they are
// produced. An indexer per searchable partition follows the log (never the
// produce path) into bleve indexes under <data_dir>/search, and Search
// answers Lucene-style queries (package query) over them, reading the
// records themselves back from the log.
package search

import (
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/blevesearch/bleve/v2/mapping"

	"github.com/chronik-streaming/chronik/internal/topics"
)

// reconcileEvery is how often the service looks for topics that became
// searchable, gained partitions or went away.
const reconcileEvery = 500 * time.Millisecond

// Errors of Search.
var (
	ErrUnknownTopic  = errors.New("unknown topic")
	ErrNotSearchable = errors.New("search is not enabled on this topic")
)

type partKey struct {
	topicID   [16]byte
	partition int32
}

// Service indexes the searchable topics and answers searches.
type Service struct {
	dir     string
	topics  *topics.Manager
	maxDocs int64
	logger  *slog.Logger
	mapping *mapping.IndexMappingImpl
	builder *docBuilder
	slots   chan struct{}

	mu    sync.Mutex
	parts map[partKey]*partIndex

	latency latencies

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Open starts indexing every searchable topic of tm; indexes live under
// dataDir/search. maxDocs rolls a partition's index after that many
// records.
func Open(dataDir string, tm *topics.Manager, maxDocs int64, logger *slog.Logger) (*Service, error) {
	dir := filepath.Join(dataDir, "search")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	m := newMapping()
	s := &Service{dir: dir, topics: tm, maxDocs: maxDocs, logger: logger, mapping: m,
		builder: newDocBuilder(m), parts: map[partKey]*partIndex{},
		// Indexing may use half the CPUs: on a busy broker it falls
		// behind rather than slowing producers down.
		slots: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2))}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.reconcile()
	s.wg.Add(1)
	go s.loop()
	return s, nil
}

// Close stops every indexer and closes the indexes.
func (s *Service) Close() error {
	s.cancel()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, p := range s.parts {
		p.stop()
		delete(s.parts, k)
	}
	return nil
}

func (s *Service) loop() {
	defer s.wg.Done()
	t := time.NewTicker(reconcileEvery)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			s.reconcile()
		}
	}
}

func topicDir(id [16]byte) string { return hex.EncodeToString(id[:]) }

// reconcile starts an indexer for each partition of each searchable topic
// and removes the indexes of topics that were deleted (their ids are gone)
// or are no longer searchable.
func (s *Service) reconcile() {
	want := map[partKey]*topics.Partition{}
	wantDirs := map[string]bool{}
	for _, t := range s.topics.List() {
		if !s.topics.SearchEnabled(t) {
			continue
		}
		wantDirs[topicDir(t.ID)] = true
		for _, p := range s.topics.Partitions(t) {
			want[partKey{t.ID, p.Index}] = p
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		return
	}
	for k, p := range s.parts {
		if _, ok := want[k]; !ok {
			p.stop()
			delete(s.parts, k)
			_ = os.RemoveAll(p.dir)
			s.logger.Info("search index removed", "topic", p.topic, "partition", p.partition)
		}
	}
	for k, tp := range want {
		if _, ok := s.parts[k]; ok {
			continue
		}
		dir := filepath.Join(s.dir, topicDir(k.topicID), strconv.Itoa(int(k.partition)))
		p := openPartIndex(tp.Topic.Name, k.partition, dir, tp.Log, s.maxDocs, s.builder, s.slots, s.logger)
		p.start(s.ctx)
		s.parts[k] = p
	}
	// Directories of topics that are gone (deleted while stopped).
	if entries, err := os.ReadDir(s.dir); err == nil {
		for _, e := range entries {
			if e.IsDir() && !wantDirs[e.Name()] {
				_ = os.RemoveAll(filepath.Join(s.dir, e.Name()))
			}
		}
	}
}

// partitionsOf returns the searchable partitions of a topic, sorted.
func (s *Service) partitionsOf(t *topics.Topic) []*partIndex {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*partIndex
	for k, p := range s.parts {
		if k.topicID == t.ID {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].partition < out[j].partition })
	return out
}

// Status returns every searchable partition's index state.
func (s *Service) Status() []PartitionStatus {
	s.mu.Lock()
	parts := make([]*partIndex, 0, len(s.parts))
	for _, p := range s.parts {
		parts = append(parts, p)
	}
	s.mu.Unlock()
	out := make([]PartitionStatus, 0, len(parts))
	for _, p := range parts {
		out = append(out, p.status())
	}
	slices.SortFunc(out, func(a, b PartitionStatus) int {
		if a.Topic != b.Topic {
			if a.Topic < b.Topic {
				return -1
			}
			return 1
		}
		return int(a.Partition - b.Partition)
	})
	return out
}

// QueryLatency returns the median and 99th percentile of recent searches.
func (s *Service) QueryLatency() (p50, p99 time.Duration, n int) { return s.latency.percentiles() }

// latencies keeps the durations of the last searches.
type latencies struct {
	mu   sync.Mutex
	ring [1024]time.Duration
	n    int
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.ring[l.n%len(l.ring)] = d
	l.n++
	l.mu.Unlock()
}

func (l *latencies) percentiles() (p50, p99 time.Duration, n int) {
	l.mu.Lock()
	n = min(l.n, len(l.ring))
	d := slices.Clone(l.ring[:n])
	l.mu.Unlock()
	if n == 0 {
		return 0, 0, 0
	}
	slices.Sort(d)
	return d[n/2], d[min(n*99/100, n-1)], n
}
