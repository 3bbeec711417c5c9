// Package query turns a Lucene/Kibana-style query string into a bleve query.
//
// The syntax is the query_string one people know from Kibana and
// Elasticsearch:
//
//	error                      bare term, searched in Options.DefaultFields
//	"connection refused"       phrase
//	level:error                field term; field names may be dotted (user.id)
//	user.name:"Ada Lovelace"   field phrase
//	err*  e?r*r                prefix and wildcard
//	timout~  timout~1          fuzzy (no number: bleve's automatic distance)
//	a AND b, a && b            both
//	a OR b, a || b, a b        either (adjacent clauses are OR'ed)
//	NOT a, !a, -a              must not
//	+a                         must (the other clauses become optional)
//	(a OR b) AND c             grouping; AND binds tighter than OR
//	status:(active OR pending) field group
//	n:[100 TO 199]  n:{1 TO 5] inclusive / exclusive / mixed ranges, * = open
//	n:>=100  n:<5              one-sided ranges
//	timestamp:>now-1h          date math: now, now-15m, now-7d, now/d, ...
//	field:*  _exists_:field    field has any value
//	*  *:*  (empty)            everything
//	term^2                     boost
//	\: \( \" \\ ...            backslash makes any character literal
//
// A value ends at whitespace, a parenthesis, a quote, ^ or ~; after
// "field:" it may contain colons (timestamp:2024-01-01T10:00:00Z). Inside
// a field group a leading - or ! is still an operator: write status:(\-1)
// or status:"-1". Regular expressions (/.../) are not supported and a
// phrase's ~slop is accepted but searched as an exact phrase.
//
// Clause semantics follow Lucene: inside one clause list NOT, ! and - mark a
// clause as excluded from the whole list, so "a OR NOT b" means "a but not
// b"; write "a OR (NOT b)" for the logical reading. A list made only of
// excluded clauses matches every document minus those.
//
// How a value turns into a query depends on the field's Kind, which the
// caller reports through Options.FieldKind.
package query

import (
	"fmt"
	"time"
	"unicode/utf8"

	bq "github.com/blevesearch/bleve/v2/search/query"
)

// Kind says how a field is indexed, so a value is searched the way it was
// stored.
type Kind int

const (
	// KindUnknown fields get match queries for terms (OR'ed with an exact
	// number or date match when the term looks like one, since bleve's
	// dynamic mapping indexes JSON numbers and dates numerically), and for
	// ranges a numeric, date or term range depending on what the bounds
	// look like. It is the zero value so a FieldKind that knows nothing
	// about a field is still safe.
	KindUnknown Kind = iota
	// KindText fields are analysed: terms go through the field's analyzer
	// (match queries) and wildcard, prefix and range terms are lowercased
	// the way the standard analyzers lowercase indexed tokens.
	KindText
	// KindKeyword fields hold exact values: terms, phrases, wildcards and
	// ranges are compared byte for byte.
	KindKeyword
	// KindNumber fields are bleve numeric fields: a value must be a number
	// and field:5 is the range [5, 5].
	KindNumber
	// KindDate fields are bleve datetime fields: values are RFC 3339 times,
	// YYYY-MM-DD days, epoch milliseconds or date math from now.
	KindDate
)

func (k Kind) String() string {
	switch k {
	case KindText:
		return "text"
	case KindKeyword:
		return "keyword"
	case KindNumber:
		return "number"
	case KindDate:
		return "date"
	default:
		return "unknown"
	}
}

// Options configure Parse.
type Options struct {
	// DefaultFields are searched by terms written without a field; with
	// several fields a term matches if it matches any of them, and a
	// field the value cannot apply to (a word for a number field) is
	// skipped. Empty means bleve's default field (the mapping's
	// DefaultField, usually _all).
	DefaultFields []string
	// FieldKind reports how a field is indexed. Nil treats every field as
	// KindUnknown. It is also asked about the default fields; the empty
	// name stands for bleve's default field.
	FieldKind func(field string) Kind
	// Now is the clock date math ("now-1h") is evaluated against; nil
	// means time.Now. Tests set it to get stable queries.
	Now func() time.Time
	// ExistsField, when set, names a keyword field listing the names of
	// the fields each document has: field:* and _exists_:field on text,
	// keyword and unknown fields become one term query on it instead of a
	// range over all the field's terms.
	ExistsField string
}

// SyntaxError reports a query string that cannot be parsed.
type SyntaxError struct {
	Pos int    // byte offset into the query string, 0-based; may equal its length
	Msg string // human-readable description
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("at position %d: %s", e.Pos, e.Msg)
}

// Parse parses s into a bleve query. An empty (or all-whitespace) string
// matches every document. Every error it returns is a *SyntaxError.
func Parse(s string, opt Options) (bq.Query, error) {
	p := &parser{s: s, opt: opt}
	// bleve terms are UTF-8 and its wildcard and regexp searchers reject
	// anything else at search time; say so here, where it has a position.
	if !utf8.ValidString(s) {
		for i, r := range s {
			if r == utf8.RuneError {
				if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
					return nil, p.errAt(i, "query is not valid UTF-8")
				}
			}
		}
	}
	if opt.Now != nil {
		p.now = opt.Now()
	} else {
		p.now = time.Now()
	}
	return p.parse()
}
