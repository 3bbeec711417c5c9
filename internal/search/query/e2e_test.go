package query

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/standard"
	"github.com/blevesearch/bleve/v2/mapping"
)

// testMapping is the record layout in small: value text, key keyword,
// numbers, a datetime, keyword headers and a JSON object whose strings are
// both text (user.name) and keyword (user.name.keyword); the rest of user
// is mapped dynamically.
func testMapping() mapping.IndexMapping {
	text := bleve.NewTextFieldMapping()
	text.Analyzer = standard.Name
	kw := bleve.NewKeywordFieldMapping()

	doc := bleve.NewDocumentMapping()
	doc.AddFieldMappingsAt("value", text)
	doc.AddFieldMappingsAt("key", kw)
	doc.AddFieldMappingsAt("partition", bleve.NewNumericFieldMapping())
	doc.AddFieldMappingsAt("offset", bleve.NewNumericFieldMapping())
	doc.AddFieldMappingsAt("timestamp", bleve.NewDateTimeFieldMapping())

	headers := bleve.NewDocumentMapping()
	headers.DefaultAnalyzer = keyword.Name
	doc.AddSubDocumentMapping("headers", headers)

	nameKw := bleve.NewKeywordFieldMapping()
	nameKw.Name = "name.keyword"
	user := bleve.NewDocumentMapping()
	user.AddFieldMappingsAt("name", text, nameKw)
	doc.AddSubDocumentMapping("user", user)

	im := bleve.NewIndexMapping()
	im.DefaultMapping = doc
	im.DefaultAnalyzer = standard.Name
	return im
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// testDocs are ten records; now is 2024-06-15T12:34:56Z.
var testDocs = map[string]map[string]any{
	"d1": {"value": "connection refused by upstream", "key": "order-1", "partition": 0, "offset": 100,
		"timestamp": ts("2024-06-15T10:00:00Z"), "headers": map[string]any{"env": "prod", "trace": "abc-123"},
		"user": map[string]any{"name": "Ada Lovelace", "age": 36, "city": "London", "score": 7.5, "joined": "2020-05-01T00:00:00Z"}},
	"d2": {"value": "ERROR: disk full on /var/log", "key": "order-2", "partition": 0, "offset": 101,
		"timestamp": ts("2024-06-15T11:30:00Z"), "headers": map[string]any{"env": "prod"},
		"user": map[string]any{"name": "Alan Turing", "age": 41, "city": "Manchester", "score": 3, "joined": "2019-01-01T00:00:00Z"}},
	"d3": {"value": "request completed in 35ms", "key": "order-3", "partition": 1, "offset": 5,
		"timestamp": ts("2024-06-14T23:59:59Z"), "headers": map[string]any{"env": "staging"}},
	"d4": {"value": "timeout while connecting to database", "key": "payment-1", "partition": 1, "offset": 6,
		"timestamp": ts("2024-06-15T12:00:00Z")},
	"d5": {"value": "error: connection reset", "key": "payment-2", "partition": 2, "offset": 199,
		"timestamp": ts("2024-06-10T08:00:00Z"),
		"user":      map[string]any{"name": "Grace Hopper", "age": 85, "city": "New York"}},
	"d6": {"value": "user logged in", "key": "Order-4", "partition": 2, "offset": 200,
		"timestamp": ts("2024-05-01T00:00:00Z")},
	"d7": {"value": "user logged out", "key": "a*b", "partition": 0, "offset": 0,
		"timestamp": ts("2024-06-15T12:30:00Z")},
	"d8": {"value": "the quick brown fox", "key": "fox", "partition": 3, "offset": 1000,
		"timestamp": ts("2023-12-31T23:00:00Z"), "headers": map[string]any{"env": "dev"}},
	"d9": {"value": "retrying connection", "key": "order-10", "partition": 3, "offset": 150,
		"timestamp": ts("2024-06-15T12:34:00Z"), "user": map[string]any{"name": "Ada Byron"}},
	"d10": {"value": "disk almost full", "partition": 4, "offset": 42,
		"timestamp": ts("2024-06-01T00:00:00Z")},
}

func TestEndToEnd(t *testing.T) {
	idx, err := bleve.NewMemOnly(testMapping())
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	for id, d := range testDocs {
		if err := idx.Index(id, d); err != nil {
			t.Fatalf("index %s: %v", id, err)
		}
	}

	all := "d1 d2 d3 d4 d5 d6 d7 d8 d9 d10"
	tests := []struct {
		q    string
		want string // space-separated doc IDs, any order
	}{
		{"", all},
		{"*", all},
		{"*:*", all},
		{"error", "d2 d5"},
		{"ERROR", "d2 d5"},
		{`"connection refused"`, "d1"},
		{`"refused connection"`, ""},
		{"connect*", "d1 d4 d5 d9"},
		{"Conn*", "d1 d4 d5 d9"},
		{"c?nnection", "d1 d5 d9"},
		{"conection~1", "d1 d5 d9"},
		{"error AND connection", "d5"},
		{"error OR timeout", "d2 d4 d5"},
		{"error timeout", "d2 d4 d5"},
		{"error -disk", "d5"},
		{"error AND NOT disk", "d5"},
		{"NOT user", "d1 d2 d3 d4 d5 d8 d9 d10"},
		{"-user", "d1 d2 d3 d4 d5 d8 d9 d10"},
		{"NOT (error OR user)", "d1 d3 d4 d8 d9 d10"},
		{"+connection -refused", "d5 d9"},
		{"+connection refused", "d1 d5 d9"},
		{"(error OR timeout) AND partition:1", "d4"},
		{"error || timeout && partition:1", "d2 d4 d5"},
		{"!headers.env:prod AND key:order*", "d3 d9"},
		{"disk^2 OR full", "d2 d10"},
		{"the", ""},
		{"+the -fox", ""},
		{"the -fox", ""},
		{"the OR fox", "d8"},

		{"key:order-1", "d1"},
		{"key:Order-4", "d6"},
		{"key:order-4", ""},
		{"key:order*", "d1 d2 d3 d9"},
		{"key:?rder-*", "d1 d2 d3 d6 d9"},
		{`key:a\*b`, "d7"},
		{`key:a\**`, "d7"},
		{"key:a*b", "d7"},
		{"key:fx~1", "d8"},
		{"key:[order-1 TO order-3]", "d1 d2 d3 d9"},
		{"key:{order-1 TO order-3}", "d2 d9"},
		{"key:*", "d1 d2 d3 d4 d5 d6 d7 d8 d9"},
		{"NOT key:*", "d10"},

		{"partition:1", "d3 d4"},
		{"partition:(1 OR 3)", "d3 d4 d8 d9"},
		{"offset:[100 TO 199]", "d1 d2 d5 d9"},
		{"offset:{100 TO 199}", "d2 d9"},
		{"offset:[100 TO 199}", "d1 d2 d9"},
		{"offset:>=200", "d6 d8"},
		{"offset:<5", "d7"},
		{"offset:[* TO 5]", "d3 d7"},
		{"partition:*", all},

		{"timestamp:>now-1h", "d4 d7 d9"},
		{"timestamp:>=now-1h/h", "d2 d4 d7 d9"},
		{"timestamp:[now-15m TO now]", "d7 d9"},
		{"timestamp:[now-7d TO now]", "d1 d2 d3 d4 d5 d7 d9"},
		{"timestamp:2024-06-15", "d1 d2 d4 d7 d9"},
		{"timestamp:[2024-06-15 TO 2024-06-15]", "d1 d2 d4 d7 d9"},
		{"timestamp:{2024-06-14 TO 2024-06-16}", "d1 d2 d4 d7 d9"},
		{"timestamp:<2024-06-01", "d6 d8"},
		{"timestamp:<=2024-06-01", "d6 d8 d10"},
		{`timestamp:"2024-06-15T10:00:00Z"`, "d1"},
		{"timestamp:2024-06-15T12:00:00+00:00", "d4"},
		{"timestamp:1718452800000", "d4"},
		{"timestamp:[2024-06-15T11:30:00Z TO 2024-06-15T12:00:00Z}", "d2"},

		{"headers.env:prod", "d1 d2"},
		{"headers.env:(staging OR dev)", "d3 d8"},
		{"headers.trace:abc-123", "d1"},
		{"headers.env:*", "d1 d2 d3 d8"},
		{`user.name:"Ada Lovelace"`, "d1"},
		{"user.name:ada", "d1 d9"},
		{"user.name:ADA*", "d1 d9"},
		{`user.name.keyword:"Ada Lovelace"`, "d1"},
		{"user.name.keyword:ada", ""},
		{"user.name.keyword:Ada*", "d1 d9"},
		{"user.name:*", "d1 d2 d5 d9"},
		{"user.age:>40", "d2 d5"},
		{"user.age:36", "d1"},
		{"user.city:london", "d1"},
		{`user.city:"new york"`, "d5"},
		{"user.score:[5 TO *]", "d1"},
		{"user.joined:[2020-01-01 TO 2020-12-31]", "d1"},
		{"user.joined:<2020-01-01", "d2"},
		// field:* on fields the parser knows nothing about, whatever
		// bleve's dynamic mapping made of them
		{"user.city:*", "d1 d2 d5"},
		{"user.score:*", "d1 d2"},
		{"user.joined:*", "d1 d2"},
		{"_exists_:user.city", "d1 d2 d5"},
		{"NOT _exists_:headers.env", "d4 d5 d6 d7 d9 d10"},
		// unknown fields holding JSON numbers or dates: the match query
		// cannot find them, the numeric/date alternative does
		{"user.score:7.5", "d1"},
		{"user.score:3", "d2"},
		{"user.joined:2020-05-01", "d1"},
	}
	opt := testOptions()
	for _, tt := range tests {
		q, err := Parse(tt.q, opt)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.q, err)
			continue
		}
		req := bleve.NewSearchRequestOptions(q, 100, 0, false)
		res, err := idx.Search(req)
		if err != nil {
			t.Errorf("search %q (%s): %v", tt.q, render(q), err)
			continue
		}
		var got []string
		for _, h := range res.Hits {
			got = append(got, h.ID)
		}
		slices.Sort(got)
		want := strings.Fields(tt.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%q (%s)\n got  %v\n want %v", tt.q, render(q), got, want)
		}
	}

	// Several default fields: a bare term matches in either.
	opt.DefaultFields = []string{"value", "key"}
	for q, want := range map[string]string{"fox": "d8", "order-1": "d1", "payment* OR disk": "d2 d4 d5 d10", "a\\*b": "d7"} {
		pq, err := Parse(q, opt)
		if err != nil {
			t.Fatal(err)
		}
		res, err := idx.Search(bleve.NewSearchRequestOptions(pq, 100, 0, false))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, h := range res.Hits {
			got = append(got, h.ID)
		}
		slices.Sort(got)
		w := strings.Fields(want)
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Errorf("default fields value,key: %q got %v want %v", q, got, w)
		}
	}
}
