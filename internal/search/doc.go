package search

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	"github.com/blevesearch/bleve/v2/document"
	"github.com/blevesearch/bleve/v2/mapping"
	index "github.com/blevesearch/bleve_index_api"

	"github.com/chronik-streaming/chronik/internal/search/query"
)

// Field names of an indexed record. JSON values add one field per leaf
// path (user.id), plus <path>.keyword for strings.
const (
	fieldValue     = "value"     // a text value that is not JSON, as full text
	fieldKey       = "key"       // keyword
	fieldTimestamp = "timestamp" // datetime
	fieldPartition = "partition" // keyword (one term: cheaper than a number's 16)
	fieldOffset    = "offset"    // number
	headerPrefix   = "headers."  // headers.<name>: keyword
	keywordSuffix  = ".keyword"  // <json path>.keyword: exact string
	// fieldExists lists the fields a record has (what _exists_ and field:*
	// search); fieldNull lists the JSON paths whose value is null, so null
	// stays distinct from "" and from a missing field.
	//
	// A JSON value is indexed by its fields only, not also as one text:
	// bare words search the JSON text fields too (see Service.textFields),
	// which halves the work of indexing a JSON record.
	fieldTopic  = "_topic" // keyword, for the log start floor of a search
	fieldExists = "_fields"
	fieldNull   = "_null"
)

// textAnalyzer splits on Unicode word boundaries and lowercases, without
// stop words or stemming: log search wants "the" and "errors" to match as
// typed, as Elasticsearch's standard analyzer does.
const textAnalyzer = "chronik_text"

// Limits that keep one huge or deeply nested record from costing more than
// it is worth; the rest of such a record is still indexed as text.
const (
	maxIndexedValue = 1 << 20 // bytes of a value indexed as text
	maxJSONFields   = 1000    // leaf fields per record
	maxJSONDepth    = 32
	// maxKeyword is the longest string kept as an exact keyword too
	// (Elasticsearch's ignore_above default); longer ones are text only.
	maxKeyword = 256
)

// newMapping is the index mapping: documents are built by hand (see
// buildDoc), so the mapping only tells queries which analyzer each field
// uses.
func newMapping() *mapping.IndexMappingImpl {
	m := bleve.NewIndexMapping()
	if err := m.AddCustomAnalyzer(textAnalyzer, map[string]any{
		"type":          custom.Name,
		"tokenizer":     unicode.Name,
		"token_filters": []string{lowercase.Name},
	}); err != nil {
		panic(err) // static configuration
	}
	m.DefaultAnalyzer = textAnalyzer
	m.DefaultField = fieldValue
	m.DefaultMapping.Dynamic = false
	kw := mapping.NewKeywordFieldMapping()
	for _, f := range []string{fieldKey, fieldExists, fieldNull, fieldPartition, fieldTopic} {
		m.DefaultMapping.AddFieldMappingsAt(f, kw)
	}
	return m
}

// fieldKind tells the query parser how a field was indexed by buildDoc.
func fieldKind(f string) query.Kind {
	switch {
	case f == fieldValue:
		return query.KindText
	case f == fieldKey, f == fieldExists, f == fieldNull, f == fieldPartition, f == fieldTopic,
		strings.HasPrefix(f, headerPrefix), strings.HasSuffix(f, keywordSuffix):
		return query.KindKeyword
	case f == fieldOffset:
		return query.KindNumber
	case f == fieldTimestamp:
		return query.KindDate
	}
	return query.KindUnknown // a JSON path: text, number, date or bool
}

// Record is one record as the indexer sees it.
type Record struct {
	Partition int32
	Offset    int64
	Timestamp int64 // ms
	Key       []byte
	Value     []byte
	Headers   []Header
}

// Header is a record header.
type Header struct {
	Key   string
	Value []byte
}

// docID is a record's document id: topic/partition/offset, so indexing a
// record again replaces it.
func docID(topic string, partition int32, offset int64) string {
	return topic + "/" + strconv.Itoa(int(partition)) + "/" + strconv.FormatInt(offset, 10)
}

// parseDocID splits a document id; the topic may contain no slash (Kafka
// topic names cannot).
func parseDocID(id string) (topic string, partition int32, offset int64, ok bool) {
	i := strings.IndexByte(id, '/')
	j := strings.LastIndexByte(id, '/')
	if i < 0 || j <= i {
		return "", 0, 0, false
	}
	p, err1 := strconv.ParseInt(id[i+1:j], 10, 32)
	o, err2 := strconv.ParseInt(id[j+1:], 10, 64)
	if err1 != nil || err2 != nil {
		return "", 0, 0, false
	}
	return id[:i], int32(p), o, true
}

type docBuilder struct {
	text    analysis.Analyzer
	keyword analysis.Analyzer
}

func newDocBuilder(m *mapping.IndexMappingImpl) *docBuilder {
	return &docBuilder{text: m.AnalyzerNamed(textAnalyzer), keyword: m.AnalyzerNamed(keyword.Name)}
}

const (
	// Nothing is stored in the index: hits are read back from the log,
	// and highlighted from there (see highlight.go).
	optIndexed = index.IndexField
	// Text keeps term positions, which phrase queries need.
	optText = index.IndexField | index.IncludeTermVectors
	// The offset and the timestamp have doc values for sorting.
	optSorted = index.IndexField | index.DocValues
)

// build turns a record into a document. A value that is not UTF-8 is not
// indexed as text: the record stays findable by key, headers and metadata.
func (b *docBuilder) build(topic string, r *Record) *document.Document {
	d := document.NewDocument(docID(topic, r.Partition, r.Offset))
	d.AddField(document.NewTextFieldCustom(fieldTopic, nil, []byte(topic), optIndexed, b.keyword))
	d.AddField(document.NewTextFieldCustom(fieldPartition, nil, []byte(strconv.Itoa(int(r.Partition))), optIndexed, b.keyword))
	d.AddField(document.NewNumericFieldWithIndexingOptions(fieldOffset, nil, float64(r.Offset), optSorted))
	if ts, err := document.NewDateTimeFieldWithIndexingOptions(fieldTimestamp, nil, time.UnixMilli(r.Timestamp).UTC(), time.RFC3339Nano, optSorted); err == nil {
		d.AddField(ts)
	}
	f := &fields{d: d, b: b}
	if r.Key != nil && utf8.Valid(r.Key) {
		f.keyword(fieldKey, r.Key)
		f.exists(fieldKey)
	}
	for _, h := range r.Headers {
		if utf8.ValidString(h.Key) && (h.Value == nil || utf8.Valid(h.Value)) {
			f.keyword(headerPrefix+h.Key, h.Value)
			f.exists(headerPrefix + h.Key)
		}
	}
	v := r.Value
	if len(v) > maxIndexedValue {
		v = v[:maxIndexedValue]
	}
	if v != nil && utf8.Valid(v) {
		if t := bytes.TrimSpace(v); len(t) == 0 || (t[0] != '{' && t[0] != '[') || len(v) != len(r.Value) || !f.json(v) {
			d.AddField(document.NewTextFieldCustom(fieldValue, nil, v, optText, b.text))
			f.exists(fieldValue)
		}
	}
	return d
}

// fields adds fields to one document.
type fields struct {
	d        *document.Document
	b        *docBuilder
	nJSON    int
	seenPath map[string]bool
}

func (f *fields) keyword(name string, v []byte) {
	f.d.AddField(document.NewTextFieldCustom(name, nil, v, optIndexed, f.b.keyword))
}

func (f *fields) exists(name string) {
	if f.seenPath == nil {
		f.seenPath = map[string]bool{}
	}
	if !f.seenPath[name] {
		f.seenPath[name] = true
		f.keyword(fieldExists, []byte(name))
	}
}

// json indexes every leaf of a JSON value by its dotted path (array
// elements under the array's path). It reports false for text that is not
// valid JSON, which is then indexed as full text.
func (f *fields) json(v []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil || dec.More() {
		return false
	}
	f.walk("", root, 0)
	return true
}

func (f *fields) walk(path string, v any, depth int) {
	if depth > maxJSONDepth || f.nJSON >= maxJSONFields {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := k
			if path != "" {
				p = path + "." + k
			}
			f.walk(p, e, depth+1)
		}
		return
	case []any:
		for _, e := range x {
			f.walk(path, e, depth+1)
		}
		return
	}
	if path == "" {
		return // a scalar at the top is just the text value
	}
	f.nJSON++
	switch x := v.(type) {
	case nil:
		f.keyword(fieldNull, []byte(path))
		return
	case string:
		if len(x) <= maxKeyword {
			f.keyword(path+keywordSuffix, []byte(x))
			f.exists(path + keywordSuffix)
		}
		// A timestamp is a date (and its keyword), not words.
		if t, ok := parseTime(x); ok {
			if dt, err := document.NewDateTimeFieldWithIndexingOptions(path, nil, t, time.RFC3339Nano, optIndexed); err == nil {
				f.d.AddField(dt)
				break
			}
		}
		f.d.AddField(document.NewTextFieldCustom(path, nil, []byte(x), optText, f.b.text))
	case json.Number:
		if n, err := x.Float64(); err == nil && !math.IsInf(n, 0) {
			f.d.AddField(document.NewNumericFieldWithIndexingOptions(path, nil, n, optIndexed))
		}
	case bool:
		f.d.AddField(document.NewTextFieldCustom(path, nil, []byte(strconv.FormatBool(x)), optIndexed, f.b.keyword))
	}
	f.exists(path)
}

// parseTime recognises RFC 3339 timestamps (with or without fractions).
func parseTime(s string) (time.Time, bool) {
	if len(s) < 20 || len(s) > 40 || s[4] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, strings.Replace(s, " ", "T", 1))
	return t, err == nil
}
