package query

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	bq "github.com/blevesearch/bleve/v2/search/query"
)

// testNow is the clock every test parses against.
var testNow = time.Date(2024, 6, 15, 12, 34, 56, 0, time.UTC)

// testKinds mirrors the record layout the search index uses.
func testKind(field string) Kind {
	switch field {
	case "value", "user.name":
		return KindText
	case "key", "user.name.keyword":
		return KindKeyword
	case "partition", "offset", "user.age":
		return KindNumber
	case "timestamp":
		return KindDate
	}
	if strings.HasPrefix(field, "headers.") {
		return KindKeyword
	}
	return KindUnknown
}

func testOptions() Options {
	return Options{
		DefaultFields: []string{"value"},
		FieldKind:     testKind,
		Now:           func() time.Time { return testNow },
	}
}

// render prints a query compactly so table tests read like the query they
// check. Only the types the parser builds are handled.
func render(q bq.Query) string {
	s := renderBare(q)
	if b, ok := q.(interface{ Boost() float64 }); ok && b.Boost() != 1 {
		s += "^" + strconv.FormatFloat(b.Boost(), 'g', -1, 64)
	}
	return s
}

func fieldPrefix(f string) string {
	if f == "" {
		return ""
	}
	return f + ":"
}

func fuzzinessOf(q any) string {
	b, _ := json.Marshal(q)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	switch v := m["fuzziness"].(type) {
	case string:
		return "~" + v
	case float64:
		if v != 0 {
			return "~" + strconv.Itoa(int(v))
		}
	}
	return ""
}

func renderList(qs []bq.Query) string {
	parts := make([]string, len(qs))
	for i, q := range qs {
		parts[i] = render(q)
	}
	return strings.Join(parts, ", ")
}

func brackets(lo, hi string, loIncl, hiIncl *bool) string {
	open, closeB := "{", "}"
	if loIncl != nil && *loIncl {
		open = "["
	}
	if hiIncl != nil && *hiIncl {
		closeB = "]"
	}
	return open + lo + " " + hi + closeB
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "*"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func fmtNum(v *float64) string {
	if v == nil {
		return "*"
	}
	return strconv.FormatFloat(*v, 'g', -1, 64)
}

func renderBare(q bq.Query) string {
	switch q := q.(type) {
	case *bq.MatchAllQuery:
		return "all"
	case *bq.MatchNoneQuery:
		return "none"
	case *bq.MatchQuery:
		return "match(" + fieldPrefix(q.FieldVal) + q.Match + fuzzinessOf(q) + ")"
	case *bq.MatchPhraseQuery:
		return "phrase(" + fieldPrefix(q.FieldVal) + strconv.Quote(q.MatchPhrase) + ")"
	case *bq.TermQuery:
		return "term(" + fieldPrefix(q.FieldVal) + q.Term + ")"
	case *bq.PrefixQuery:
		return "prefix(" + fieldPrefix(q.FieldVal) + q.Prefix + ")"
	case *bq.WildcardQuery:
		return "wildcard(" + fieldPrefix(q.FieldVal) + q.Wildcard + ")"
	case *bq.RegexpQuery:
		return "regexp(" + fieldPrefix(q.FieldVal) + q.Regexp + ")"
	case *bq.FuzzyQuery:
		return "fuzzy(" + fieldPrefix(q.FieldVal) + q.Term + fuzzinessOf(q) + ")"
	case *bq.NumericRangeQuery:
		return "num(" + fieldPrefix(q.FieldVal) + brackets(fmtNum(q.Min), fmtNum(q.Max), q.InclusiveMin, q.InclusiveMax) + ")"
	case *bq.DateRangeQuery:
		return "date(" + fieldPrefix(q.FieldVal) + brackets(fmtTime(q.Start.Time), fmtTime(q.End.Time), q.InclusiveStart, q.InclusiveEnd) + ")"
	case *bq.TermRangeQuery:
		if q.Min == "\x00" && q.Max == "" {
			return "exists(" + q.FieldVal + ")"
		}
		lo, hi := q.Min, q.Max
		if lo == "" {
			lo = "*"
		}
		if hi == "" {
			hi = "*"
		}
		return "trange(" + fieldPrefix(q.FieldVal) + brackets(lo, hi, q.InclusiveMin, q.InclusiveMax) + ")"
	case *bq.ConjunctionQuery:
		return "and(" + renderList(q.Conjuncts) + ")"
	case *bq.DisjunctionQuery:
		return "or(" + renderList(q.Disjuncts) + ")"
	case *bq.BooleanQuery:
		var parts []string
		if q.Must != nil {
			parts = append(parts, "must: "+renderList(q.Must.(*bq.ConjunctionQuery).Conjuncts))
		}
		if q.Should != nil {
			parts = append(parts, "should: "+renderList(q.Should.(*bq.DisjunctionQuery).Disjuncts))
		}
		if q.MustNot != nil {
			parts = append(parts, "not: "+renderList(q.MustNot.(*bq.DisjunctionQuery).Disjuncts))
		}
		return "bool(" + strings.Join(parts, "; ") + ")"
	}
	return fmt.Sprintf("?%T", q)
}
