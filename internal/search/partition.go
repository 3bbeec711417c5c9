package search

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blevesearch/bleve/v2"

	"github.com/chronik-streaming/chronik/internal/batch"
	plog "github.com/chronik-streaming/chronik/internal/log"
)

// keyNext is the internal key holding the next offset to index. It is set
// in the same bleve batch as the documents it covers, so after a crash an
// index resumes exactly after the last batch it kept: nothing is missing,
// and nothing is indexed twice (a document id is its offset anyway).
var keyNext = []byte("chronik.next_offset")

const (
	// gatherDelay lets records accumulate after the log advances, so that
	// the index gets batches of hundreds of records instead of one
	// bleve segment per fsync; it bounds the freshness cost.
	gatherDelay = 100 * time.Millisecond
	readBytes   = 4 << 20 // log bytes read per step
	maxBatch    = 5000    // documents per bleve batch
	idleCheck   = time.Second
)

// segment is one bleve index of a partition, holding the records from
// first up to the next segment's first offset. Retention drops a segment
// whole once the log no longer holds any of its records.
type segment struct {
	first int64
	dir   string
	idx   bleve.Index
	docs  atomic.Int64 // written by the indexer, read by status
}

// partIndex is the search index of one partition and the indexer that
// follows its log.
type partIndex struct {
	topic     string
	partition int32
	dir       string
	log       *plog.Log
	maxDocs   int64
	builder   *docBuilder
	logger    *slog.Logger
	// slots is shared by every partition's indexer: holding one is
	// needed to index, which bounds indexing to a share of the CPUs and
	// leaves the rest to producers and consumers.
	slots chan struct{}

	// mu guards segs: searches hold it for reading while they use the
	// indexes; the indexer takes it for writing to roll or drop one.
	mu   sync.RWMutex
	segs []*segment

	next       atomic.Int64 // next offset to index
	caughtUpMs atomic.Int64 // when the indexer last reached the log's end
	failures   atomic.Int64 // batches that could not be decoded

	cancel context.CancelFunc
	done   chan struct{}
}

func segDirName(first int64) string { return fmt.Sprintf("%020d", first) }

// openPartIndex opens (or creates) the indexes in dir. A missing, corrupt or
// unusable index is not an error: the partition is indexed again from the
// log, in the background.
func openPartIndex(topic string, partition int32, dir string, l *plog.Log, maxDocs int64, b *docBuilder, slots chan struct{}, logger *slog.Logger) *partIndex {
	p := &partIndex{topic: topic, partition: partition, dir: dir, log: l, maxDocs: maxDocs, builder: b, slots: slots,
		logger: logger.With("topic", topic, "partition", partition)}
	if err := p.load(); err != nil {
		p.logger.Warn("search index unusable; rebuilding it from the log", "dir", dir, "err", err)
		p.closeSegs()
		p.segs = nil
		_ = os.RemoveAll(dir)
		p.next.Store(-1)
	}
	p.caughtUpMs.Store(time.Now().UnixMilli())
	return p
}

// load opens the existing segments and finds where to resume.
func (p *partIndex) load() error {
	entries, err := os.ReadDir(p.dir)
	if errors.Is(err, os.ErrNotExist) {
		p.next.Store(-1)
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		first, err := strconv.ParseInt(e.Name(), 10, 64)
		if !e.IsDir() || err != nil {
			continue
		}
		idx, err := bleve.Open(filepath.Join(p.dir, e.Name()))
		if err != nil {
			return fmt.Errorf("open %s: %w", e.Name(), err)
		}
		n, _ := idx.DocCount()
		seg := &segment{first: first, dir: filepath.Join(p.dir, e.Name()), idx: idx}
		seg.docs.Store(int64(n))
		p.segs = append(p.segs, seg)
	}
	slices.SortFunc(p.segs, func(a, b *segment) int { return int(min(max(a.first-b.first, -1), 1)) })
	if len(p.segs) == 0 {
		p.next.Store(-1)
		return nil
	}
	last := p.segs[len(p.segs)-1]
	v, err := last.idx.GetInternal(keyNext)
	switch {
	case err != nil:
		return err
	case len(v) == 8:
		p.next.Store(int64(binary.BigEndian.Uint64(v)))
	default:
		p.next.Store(last.first) // created, nothing kept yet
	}
	if hw := p.log.HighWatermark(); p.next.Load() > hw {
		// The log lost records the index holds (a torn tail cut at
		// recovery): the index cannot say which documents are stale.
		return fmt.Errorf("index is at offset %d, past the log's end %d", p.next.Load(), hw)
	}
	return nil
}

func (p *partIndex) start(parent context.Context) {
	ctx, cancel := context.WithCancel(parent)
	p.cancel = cancel
	p.done = make(chan struct{})
	go p.run(ctx)
}

// stop ends the indexer and closes the indexes.
func (p *partIndex) stop() {
	if p.cancel != nil {
		p.cancel()
		<-p.done
	}
	p.mu.Lock()
	p.closeSegs()
	p.segs = nil
	p.mu.Unlock()
}

func (p *partIndex) closeSegs() {
	for _, s := range p.segs {
		if err := s.idx.Close(); err != nil {
			p.logger.Warn("closing search index", "dir", s.dir, "err", err)
		}
	}
}

// run follows the log: it indexes what the log holds below its last stable
// offset, then waits for the log to advance.
func (p *partIndex) run(ctx context.Context) {
	defer close(p.done)
	backoff := time.Second
	for ctx.Err() == nil {
		notify := p.log.Notify()
		select {
		case p.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		progressed, err := p.step()
		<-p.slots
		p.dropExpired()
		if err != nil {
			if errors.Is(err, plog.ErrClosed) {
				return // the topic is being deleted
			}
			p.logger.Warn("search indexing failed; retrying", "err", err, "retry_in", backoff)
			sleep(ctx, backoff)
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		backoff = time.Second
		if progressed {
			continue
		}
		p.caughtUpMs.Store(time.Now().UnixMilli())
		select {
		case <-ctx.Done():
			return
		case <-notify:
			sleep(ctx, gatherDelay)
		case <-time.After(idleCheck):
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// step indexes one read of the log; it reports whether it got anywhere.
func (p *partIndex) step() (bool, error) {
	next := p.next.Load()
	if start := p.log.LogStartOffset(); next < start {
		next = start
	}
	end := p.log.LastStableOffset()
	if next >= end {
		if next != p.next.Load() {
			p.next.Store(next)
		}
		return false, nil
	}
	res, aborted, err := p.log.ReadCommitted(next, readBytes, true)
	if errors.Is(err, plog.ErrOffsetOutOfRange) {
		// Retention moved the log start past next meanwhile.
		p.next.Store(p.log.LogStartOffset())
		return true, nil
	}
	if err != nil {
		return false, err
	}
	seg, err := p.current(next)
	if err != nil {
		return false, err
	}
	b := seg.idx.NewBatch()
	docs, newNext := 0, next
	it := batch.NewIterator(res.Records)
	for it.Next() && docs < maxBatch {
		h := it.Header()
		if h.NextOffset() <= next {
			continue
		}
		newNext = h.NextOffset()
		if h.IsControl() || (h.IsTransactional() && abortedBatch(h, aborted)) {
			continue // markers and aborted transactions are never searchable
		}
		recs, err := batch.Records(it.Batch())
		if err != nil {
			// Indexing must never stop on one bad batch: the log's
			// consumers get the same bytes and their own error.
			p.failures.Add(1)
			p.logger.Warn("search: batch not indexed", "offset", h.BaseOffset, "err", err)
			continue
		}
		for i := range recs {
			r := &recs[i]
			off := h.BaseOffset + int64(r.OffsetDelta)
			if off < next {
				continue
			}
			rec := Record{Partition: p.partition, Offset: off, Timestamp: h.Timestamp(r), Key: r.Key, Value: r.Value}
			for _, hd := range r.Headers {
				rec.Headers = append(rec.Headers, Header{Key: hd.Key, Value: hd.Value})
			}
			if err := b.IndexAdvanced(p.builder.build(p.topic, &rec)); err != nil {
				return false, fmt.Errorf("index offset %d: %w", off, err)
			}
			docs++
		}
	}
	if newNext == next {
		return false, nil
	}
	var nb [8]byte
	binary.BigEndian.PutUint64(nb[:], uint64(newNext))
	b.SetInternal(keyNext, nb[:])
	if err := seg.idx.Batch(b); err != nil {
		return false, fmt.Errorf("write index batch: %w", err)
	}
	seg.docs.Add(int64(docs))
	p.next.Store(newNext)
	return true, nil
}

// abortedBatch reports whether a transactional batch belongs to one of the
// aborted transactions (its producer's, between its first offset and its
// ABORT marker).
func abortedBatch(h batch.Header, aborted []plog.AbortedTxn) bool {
	for _, a := range aborted {
		if a.ProducerID == h.ProducerID && h.BaseOffset >= a.FirstOffset && h.BaseOffset < a.LastOffset {
			return true
		}
	}
	return false
}

// current returns the segment to index offset next into, rolling a new one
// when the newest is full (or none exists).
func (p *partIndex) current(next int64) (*segment, error) {
	p.mu.RLock()
	var last *segment
	if n := len(p.segs); n > 0 {
		last = p.segs[n-1]
	}
	p.mu.RUnlock()
	if last != nil && last.docs.Load() < p.maxDocs {
		return last, nil
	}
	dir := filepath.Join(p.dir, segDirName(next))
	_ = os.RemoveAll(dir) // a leftover of a crash before its first batch
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return nil, err
	}
	idx, err := bleve.New(dir, newMapping())
	if err != nil {
		return nil, fmt.Errorf("create index %s: %w", dir, err)
	}
	s := &segment{first: next, dir: dir, idx: idx}
	p.mu.Lock()
	p.segs = append(p.segs, s)
	p.mu.Unlock()
	return s, nil
}

// dropExpired removes the segments whose records the log no longer holds.
func (p *partIndex) dropExpired() {
	start := p.log.LogStartOffset()
	p.mu.Lock()
	var drop []*segment
	for len(p.segs) > 1 && p.segs[1].first <= start {
		drop = append(drop, p.segs[0])
		p.segs = p.segs[1:]
	}
	p.mu.Unlock()
	for _, s := range drop {
		_ = s.idx.Close()
		if err := os.RemoveAll(s.dir); err != nil {
			p.logger.Warn("removing expired search index", "dir", s.dir, "err", err)
		}
		p.logger.Debug("search index dropped with its records", "first_offset", s.first)
	}
}

// indexes returns the partition's bleve indexes with the read lock held;
// release must be called when the search is done.
func (p *partIndex) indexes() (idx []bleve.Index, release func()) {
	p.mu.RLock()
	for _, s := range p.segs {
		idx = append(idx, s.idx)
	}
	return idx, p.mu.RUnlock
}

// PartitionStatus is the state of one partition's index.
type PartitionStatus struct {
	Topic         string  `json:"topic"`
	Partition     int32   `json:"partition"`
	IndexedOffset int64   `json:"indexed_offset"` // next offset to index
	EndOffset     int64   `json:"end_offset"`     // the log's last stable offset
	LagRecords    int64   `json:"lag_records"`
	LagSeconds    float64 `json:"lag_seconds"` // time since the index last caught up, while behind
	Indexes       int     `json:"indexes"`
	Documents     int64   `json:"documents"`
	SizeBytes     int64   `json:"size_bytes"`
	FailedBatches int64   `json:"failed_batches"`
}

func (p *partIndex) status() PartitionStatus {
	st := PartitionStatus{Topic: p.topic, Partition: p.partition, EndOffset: p.log.LastStableOffset(), FailedBatches: p.failures.Load()}
	st.IndexedOffset = max(p.next.Load(), p.log.LogStartOffset())
	if st.LagRecords = max(st.EndOffset-st.IndexedOffset, 0); st.LagRecords > 0 {
		st.LagSeconds = float64(time.Now().UnixMilli()-p.caughtUpMs.Load()) / 1000
	}
	p.mu.RLock()
	st.Indexes = len(p.segs)
	for _, s := range p.segs {
		st.Documents += s.docs.Load()
	}
	p.mu.RUnlock()
	st.SizeBytes = dirSize(p.dir)
	return st
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
