package search

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2"
	bq "github.com/blevesearch/bleve/v2/search/query"

	"github.com/chronik-streaming/chronik/internal/batch"
	"github.com/chronik-streaming/chronik/internal/search/query"
	"github.com/chronik-streaming/chronik/internal/topics"
)

// Limits of a search request.
const (
	DefaultLimit = 20
	MaxLimit     = 1000
	maxSkip      = 10000 // deeper pages: narrow the query or the ranges
)

// Sort orders of a search.
const (
	SortRelevance = "relevance" // best match first
	SortNewest    = "newest"    // by timestamp, newest first
	SortOldest    = "oldest"    // by timestamp, oldest first
	SortOffset    = "offset"    // by offset (partitions interleaved)
)

// Request is one search. Zero values mean no filter.
type Request struct {
	// Topics to search; empty means every searchable topic.
	Topics []string
	// Query is a Lucene/Kibana query string (see package query); empty
	// matches every record.
	Query      string
	Partitions []int32
	// FromOffset and ToOffset bound offsets (inclusive).
	FromOffset, ToOffset *int64
	// From and To bound timestamps (From inclusive, To exclusive).
	From, To time.Time
	Limit    int // DefaultLimit when 0, at most MaxLimit
	Skip     int // hits to skip (pagination)
	Sort     string
}

// RequestError is a request that cannot be run as asked (HTTP 400).
type RequestError struct {
	Field string
	Msg   string
}

func (e *RequestError) Error() string { return e.Field + ": " + e.Msg }

// Result is a page of hits.
type Result struct {
	Total  uint64  `json:"total"`
	TookMs float64 `json:"took_ms"`
	Hits   []Hit   `json:"hits"`
}

// Hit is one matching record, read back from the log.
type Hit struct {
	Topic      string              `json:"topic"`
	Partition  int32               `json:"partition"`
	Offset     int64               `json:"offset"`
	Timestamp  time.Time           `json:"timestamp"`
	Score      float64             `json:"score"`
	Key        *Bytes              `json:"key"`
	Value      *Bytes              `json:"value"`
	Headers    []HitHeader         `json:"headers"`
	Highlights map[string][]string `json:"highlights,omitempty"`
}

// HitHeader is a record header of a hit.
type HitHeader struct {
	Key   string `json:"key"`
	Value *Bytes `json:"value"`
}

// Bytes is a key, value or header value: the text when it is UTF-8,
// otherwise base64 (Encoding says which).
type Bytes struct {
	Data     string `json:"data"`
	Encoding string `json:"encoding"` // "text" or "base64"
}

// BytesOf returns b as Bytes; nil for nil (a null key or value).
func BytesOf(b []byte) *Bytes {
	if b == nil {
		return nil
	}
	if utf8.Valid(b) {
		return &Bytes{Data: string(b), Encoding: "text"}
	}
	return &Bytes{Data: base64.StdEncoding.EncodeToString(b), Encoding: "base64"}
}

// Search runs req. Errors: *query.SyntaxError for a bad query string,
// *RequestError for bad parameters, ErrUnknownTopic and ErrNotSearchable
// (wrapped with the topic's name).
func (s *Service) Search(ctx context.Context, req Request) (*Result, error) {
	start := time.Now()
	if req.Limit == 0 {
		req.Limit = DefaultLimit
	}
	switch {
	case req.Limit < 0 || req.Limit > MaxLimit:
		return nil, &RequestError{"limit", fmt.Sprintf("must be between 1 and %d", MaxLimit)}
	case req.Skip < 0 || req.Skip > maxSkip:
		return nil, &RequestError{"skip", fmt.Sprintf("must be between 0 and %d", maxSkip)}
	case req.FromOffset != nil && req.ToOffset != nil && *req.FromOffset > *req.ToOffset:
		return nil, &RequestError{"from_offset", "must not be above to_offset"}
	case !req.From.IsZero() && !req.To.IsZero() && !req.From.Before(req.To):
		return nil, &RequestError{"from", "must be before to"}
	}
	// The topics' partition indexes, read-locked for the search.
	var parts []*partIndex
	if len(req.Topics) == 0 {
		for _, t := range s.topics.List() {
			if s.topics.SearchEnabled(t) {
				parts = append(parts, s.partitionsOf(t)...)
			}
		}
	}
	for _, name := range req.Topics {
		t, ok := s.topics.Get(name)
		if !ok {
			return nil, fmt.Errorf("%w %q", ErrUnknownTopic, name)
		}
		if !s.topics.SearchEnabled(t) {
			return nil, fmt.Errorf("%w: %q (create it with the config %s=true)", ErrNotSearchable, name, topics.SearchEnabledConfig)
		}
		parts = append(parts, s.partitionsOf(t)...)
	}
	var idxs []bleve.Index
	var floors []bq.Query // per partition: offset >= its log start
	needFloor := false
	for _, p := range parts {
		if len(req.Partitions) > 0 && !containsInt32(req.Partitions, p.partition) {
			continue
		}
		pi, release := p.indexes()
		defer release()
		idxs = append(idxs, pi...)
		floors = append(floors, logStartFloor(p))
		needFloor = needFloor || p.log.LogStartOffset() > 0
	}
	res := &Result{Hits: []Hit{}}
	// Words without a field search text values and the text fields of
	// JSON values.
	q, err := query.Parse(req.Query, query.Options{
		DefaultFields: textFields(idxs),
		FieldKind:     fieldKind,
		ExistsField:   fieldExists,
	})
	if err != nil {
		return nil, err
	}
	if len(idxs) == 0 {
		res.TookMs = msSince(start)
		return res, nil
	}
	q = withFilters(q, req)
	if needFloor {
		// Records below a partition's log start (deleted by retention or
		// DeleteRecords, in an index not yet dropped) are not hits.
		q = bq.NewConjunctionQuery([]bq.Query{q, bq.NewDisjunctionQuery(floors)})
	}

	sr := bleve.NewSearchRequestOptions(q, req.Limit, req.Skip, false)
	switch req.Sort {
	case "", SortRelevance:
		// No tiebreak field: one would load the doc values of every
		// matching document.
		sr.SortBy([]string{"-_score"})
	case SortNewest:
		sr.SortBy([]string{"-" + fieldTimestamp, "-" + fieldOffset})
	case SortOldest:
		sr.SortBy([]string{fieldTimestamp, fieldOffset})
	case SortOffset:
		sr.SortBy([]string{fieldOffset})
	default:
		return nil, &RequestError{"sort", fmt.Sprintf("must be %s, %s, %s or %s", SortRelevance, SortNewest, SortOldest, SortOffset)}
	}
	alias := bleve.NewIndexAlias(idxs...)
	out, err := alias.SearchInContext(ctx, sr)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	res.Total = out.Total
	words := highlightWords(req.Query)
	reader := recordReader{topics: s.topics, batches: map[batchKey][]byte{}}
	for _, dm := range out.Hits {
		topic, partition, offset, ok := parseDocID(dm.ID)
		if !ok {
			continue
		}
		h, ok := reader.hit(topic, partition, offset)
		if !ok {
			continue // gone from the log (retention, compaction, deletion)
		}
		h.Score = dm.Score
		if h.Value != nil && h.Value.Encoding == "text" {
			if frags := highlight(h.Value.Data, words); len(frags) > 0 {
				h.Highlights = map[string][]string{fieldValue: frags}
			}
		}
		res.Hits = append(res.Hits, h)
	}
	d := time.Since(start)
	s.latency.add(d)
	res.TookMs = float64(d.Microseconds()) / 1000
	return res, nil
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }

func containsInt32(s []int32, v int32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// logStartFloor matches p's records at or after its log start.
func logStartFloor(p *partIndex) bq.Query {
	tq := bq.NewTermQuery(p.topic)
	tq.SetField(fieldTopic)
	pq := bq.NewTermQuery(strconv.Itoa(int(p.partition)))
	pq.SetField(fieldPartition)
	lo, t := float64(p.log.LogStartOffset()), true
	oq := bq.NewNumericRangeInclusiveQuery(&lo, nil, &t, nil)
	oq.SetField(fieldOffset)
	return bq.NewConjunctionQuery([]bq.Query{tq, pq, oq})
}

// maxDefaultFields bounds the fields a bare word is searched in.
const maxDefaultFields = 256

// textFields returns the fields bare words search: the text of non-JSON
// values and every field of JSON values that may hold words.
func textFields(idxs []bleve.Index) []string {
	out := []string{fieldValue}
	seen := map[string]bool{fieldValue: true}
	for _, idx := range idxs {
		names, err := idx.Fields()
		if err != nil {
			continue
		}
		for _, f := range names {
			if seen[f] || len(out) >= maxDefaultFields || fieldKind(f) != query.KindUnknown || strings.HasPrefix(f, "_") {
				continue
			}
			seen[f] = true
			out = append(out, f)
		}
	}
	slices.Sort(out[1:])
	return out
}

// withFilters adds the request's offset and time filters.
func withFilters(q bq.Query, req Request) bq.Query {
	conj := []bq.Query{q}
	t := true
	// Partitions are filtered by choosing their indexes.
	if req.FromOffset != nil || req.ToOffset != nil {
		var lo, hi *float64
		if req.FromOffset != nil {
			v := float64(*req.FromOffset)
			lo = &v
		}
		if req.ToOffset != nil {
			v := float64(*req.ToOffset)
			hi = &v
		}
		nq := bq.NewNumericRangeInclusiveQuery(lo, hi, &t, &t)
		nq.SetField(fieldOffset)
		conj = append(conj, nq)
	}
	if !req.From.IsZero() || !req.To.IsZero() {
		from, to := req.From, req.To
		if from.IsZero() {
			from = bq.MinRFC3339CompatibleTime
		}
		if to.IsZero() {
			to = bq.MaxRFC3339CompatibleTime
		}
		f := false
		dq := bq.NewDateRangeInclusiveQuery(from, to, &t, &f)
		dq.SetField(fieldTimestamp)
		conj = append(conj, dq)
	}
	if len(conj) == 1 {
		return q
	}
	return bq.NewConjunctionQuery(conj)
}

// recordReader reads hits back from the log. Each hit decodes only its own
// record (batches of a fast producer hold a thousand records); batches read
// for one search are kept for the hits that share them.
type recordReader struct {
	topics  *topics.Manager
	batches map[batchKey][]byte
}

type batchKey struct {
	topic     string
	partition int32
	base      int64
	last      int64
}

func (r *recordReader) hit(topic string, partition int32, offset int64) (Hit, bool) {
	p, err := r.topics.Partition(topic, partition)
	if err != nil || offset < p.Log.LogStartOffset() {
		return Hit{}, false
	}
	var raw []byte
	for k, b := range r.batches {
		if k.topic == topic && k.partition == partition && offset >= k.base && offset <= k.last {
			raw = b
			break
		}
	}
	if raw == nil {
		res, err := p.Log.Read(offset, 1, true)
		if err != nil {
			return Hit{}, false
		}
		it := batch.NewIterator(res.Records)
		for it.Next() {
			if h := it.Header(); offset >= h.BaseOffset && offset <= h.LastOffset() && !h.IsControl() {
				raw = it.Batch()
				r.batches[batchKey{topic, partition, h.BaseOffset, h.LastOffset()}] = raw
				break
			}
		}
	}
	if raw == nil {
		return Hit{}, false
	}
	rec, h, ok, err := batch.FindRecord(raw, offset)
	if err != nil || !ok {
		return Hit{}, false
	}
	hit := Hit{Topic: topic, Partition: partition, Offset: offset,
		Timestamp: time.UnixMilli(h.Timestamp(&rec)).UTC(), Key: BytesOf(rec.Key), Value: BytesOf(rec.Value),
		Headers: []HitHeader{}}
	for _, hd := range rec.Headers {
		hit.Headers = append(hit.Headers, HitHeader{Key: hd.Key, Value: BytesOf(hd.Value)})
	}
	return hit, true
}
