package query

import (
	"math"
	"regexp"
	"strings"
	"time"

	bq "github.com/blevesearch/bleve/v2/search/query"
)

// This file maps one parsed value onto one field, by the field's Kind.

type fuzz struct {
	on   bool
	auto bool // "term~" with no number: bleve picks the distance by length
	dist int
	pos  int
}

func (p *parser) termQuery(field string, k Kind, w word, fz fuzz) (bq.Query, error) {
	if w.isStar() {
		return p.exists(field, k), nil
	}
	switch k {
	case KindNumber, KindDate:
		if w.hasWild() {
			return nil, p.errAt(w.pos, "field %q holds %ss: wildcards are not supported (field:* finds any value)", field, k)
		}
		if fz.on {
			return nil, p.errAt(fz.pos, "field %q holds %ss: '~' is not supported", field, k)
		}
		return p.exactValue(field, k, w.text(), w.pos)
	case KindKeyword:
		if w.hasWild() {
			return wildQuery(field, w), nil
		}
		if fz.on {
			q := bq.NewFuzzyQuery(w.text())
			if fz.auto {
				q.SetAutoFuzziness(true)
			} else {
				q.SetFuzziness(fz.dist)
			}
			q.SetField(field)
			return q, nil
		}
		q := bq.NewTermQuery(w.text())
		q.SetField(field)
		return q, nil
	case KindText:
		if w.hasWild() {
			// Wildcards skip the analyzer, so mimic its lowercasing.
			return wildQuery(field, w.lower()), nil
		}
		return matchQuery(field, w.text(), fz), nil
	default:
		// Without knowing the analyzer, a wildcard is taken as written.
		if w.hasWild() {
			return wildQuery(field, w), nil
		}
		m := matchQuery(field, w.text(), fz)
		if fz.on {
			return m, nil
		}
		// bleve's dynamic mapping indexes JSON numbers and date strings
		// as numeric fields, which a match query never finds; also try
		// the value as what it looks like.
		if v, ok := parseNumber(w.text()); ok {
			return bq.NewDisjunctionQuery([]bq.Query{m, numEq(field, v)}), nil
		}
		if !strings.HasPrefix(w.text(), "now") {
			if d, why := p.parseDate(w.text(), false); why == "" {
				return bq.NewDisjunctionQuery([]bq.Query{m, dateEq(field, d)}), nil
			}
		}
		return m, nil
	}
}

func (p *parser) phraseQuery(field string, k Kind, text string, pos int) (bq.Query, error) {
	switch k {
	case KindNumber, KindDate:
		return p.exactValue(field, k, text, pos)
	case KindKeyword:
		q := bq.NewTermQuery(text)
		q.SetField(field)
		return q, nil
	default:
		q := bq.NewMatchPhraseQuery(text)
		q.SetField(field)
		return q, nil
	}
}

// exactValue is field:value on a number or date field: a range covering
// exactly that number, or the span the date was written with.
func (p *parser) exactValue(field string, k Kind, text string, pos int) (bq.Query, error) {
	if k == KindNumber {
		v, ok := parseNumber(text)
		if !ok {
			return nil, p.errAt(pos, "field %q holds numbers but %q is not a number", field, text)
		}
		return numEq(field, v), nil
	}
	d, why := p.parseDate(text, true)
	if why != "" {
		return nil, p.errAt(pos, "field %q holds dates but %q is not one: %s", field, text, why)
	}
	return dateEq(field, d), nil
}

func numEq(field string, v float64) bq.Query {
	q := bq.NewNumericRangeInclusiveQuery(&v, &v, ptr(true), ptr(true))
	q.SetField(field)
	return q
}

func dateEq(field string, d dateVal) bq.Query {
	var q *bq.DateRangeQuery
	if d.exact() {
		q = bq.NewDateRangeInclusiveQuery(d.lo, d.lo, ptr(true), ptr(true))
	} else {
		q = bq.NewDateRangeInclusiveQuery(d.lo, d.hi, ptr(true), ptr(false))
	}
	q.SetField(field)
	return q
}

func (p *parser) rangeQuery(field string, k Kind, r rangeSpec) (bq.Query, error) {
	if r.lo.open && r.hi.open {
		return p.exists(field, k), nil
	}
	switch k {
	case KindNumber:
		return p.numericRange(field, r)
	case KindDate:
		return p.dateRange(field, r, true)
	case KindKeyword:
		return termRange(field, r, false), nil
	case KindText:
		return termRange(field, r, true), nil
	default:
		// Guess from the bounds, as the field's type is not known.
		if p.boundsAre(r, func(s string) bool { _, ok := parseNumber(s); return ok }) {
			return p.numericRange(field, r)
		}
		if p.boundsAre(r, func(s string) bool { _, why := p.parseDate(s, false); return why == "" }) {
			return p.dateRange(field, r, false)
		}
		return termRange(field, r, false), nil
	}
}

func (p *parser) boundsAre(r rangeSpec, ok func(string) bool) bool {
	for _, b := range []bound{r.lo, r.hi} {
		if !b.open && !ok(b.text) {
			return false
		}
	}
	return true
}

func (p *parser) numericRange(field string, r rangeSpec) (bq.Query, error) {
	var lo, hi *float64
	for _, e := range []struct {
		b   bound
		dst **float64
	}{{r.lo, &lo}, {r.hi, &hi}} {
		if e.b.open {
			continue
		}
		v, ok := parseNumber(e.b.text)
		if !ok {
			return nil, p.errAt(e.b.pos, "field %q holds numbers but %q is not a number", field, e.b.text)
		}
		*e.dst = &v
	}
	q := bq.NewNumericRangeInclusiveQuery(lo, hi, ptr(r.loIncl), ptr(r.hiIncl))
	q.SetField(field)
	return q, nil
}

// dateRange widens or narrows each bound by the span it was written with,
// so [2024-01-01 TO 2024-01-31] covers the whole of the 31st and
// {2024-01-01 TO *] starts on the 2nd.
func (p *parser) dateRange(field string, r rangeSpec, epoch bool) (bq.Query, error) {
	var start, end time.Time // zero is open to bleve
	var startIncl, endIncl bool
	if !r.lo.open {
		d, why := p.parseDate(r.lo.text, epoch)
		if why != "" {
			return nil, p.errAt(r.lo.pos, "field %q holds dates but %q is not one: %s", field, r.lo.text, why)
		}
		switch {
		case r.loIncl:
			start, startIncl = d.lo, true
		case d.exact():
			start, startIncl = d.lo, false
		default:
			start, startIncl = d.hi, true
		}
	}
	if !r.hi.open {
		d, why := p.parseDate(r.hi.text, epoch)
		if why != "" {
			return nil, p.errAt(r.hi.pos, "field %q holds dates but %q is not one: %s", field, r.hi.text, why)
		}
		switch {
		case !r.hiIncl:
			end, endIncl = d.lo, false
		case d.exact():
			end, endIncl = d.lo, true
		default:
			end, endIncl = d.hi, false
		}
	}
	q := bq.NewDateRangeInclusiveQuery(start, end, ptr(startIncl), ptr(endIncl))
	q.SetField(field)
	return q, nil
}

func termRange(field string, r rangeSpec, lower bool) bq.Query {
	lo, hi := r.lo.text, r.hi.text // "" is open to bleve, and '*' gave ""
	if !r.hi.open && hi == "" {
		// An explicit "" upper bound would read as open to bleve; only
		// the empty term itself can be in such a range.
		if lo == "" && (r.lo.open || r.loIncl) && r.hiIncl {
			q := bq.NewTermQuery("")
			q.SetField(field)
			return q
		}
		return bq.NewMatchNoneQuery()
	}
	if lo == "" && r.hi.open {
		// ["" TO *] is every term; bleve needs one bound to be set.
		return existsRange(field, KindKeyword)
	}
	if lower {
		lo, hi = strings.ToLower(lo), strings.ToLower(hi)
	}
	q := bq.NewTermRangeInclusiveQuery(lo, hi, ptr(r.loIncl), ptr(r.hiIncl))
	q.SetField(field)
	return q
}

// exists is field:* — bleve has no exists query, so it is a range over
// every possible value (numbers, dates) or every term. The term range
// starts at "\x00" because bleve reads an empty bound as open and refuses a
// range with both bounds open (an empty prefix query finds nothing). Like
// any term range it expands to one clause per distinct term.
//
// With Options.ExistsField, text, keyword and unknown fields are looked up
// there instead: one term, however many distinct values the field has.
func (p *parser) exists(field string, k Kind) bq.Query {
	if ef := p.opt.ExistsField; ef != "" && k != KindNumber && k != KindDate {
		q := bq.NewTermQuery(field)
		q.SetField(ef)
		return q
	}
	return existsRange(field, k)
}

func existsRange(field string, k Kind) bq.Query {
	switch k {
	case KindNumber:
		lo, hi := -math.MaxFloat64, math.MaxFloat64
		q := bq.NewNumericRangeInclusiveQuery(&lo, &hi, ptr(true), ptr(true))
		q.SetField(field)
		return q
	case KindDate:
		q := bq.NewDateRangeInclusiveQuery(bq.MinRFC3339CompatibleTime, bq.MaxRFC3339CompatibleTime, ptr(true), ptr(true))
		q.SetField(field)
		return q
	default:
		q := bq.NewTermRangeInclusiveQuery("\x00", "", ptr(true), nil)
		q.SetField(field)
		return q
	}
}

func matchQuery(field, text string, fz fuzz) bq.Query {
	q := bq.NewMatchQuery(text)
	q.SetField(field)
	// A word the analyzer splits (connection-refused) must match all its
	// parts; OR'ing them would match nearly everything.
	q.SetOperator(bq.MatchQueryOperatorAnd)
	if fz.on {
		if fz.auto {
			q.SetAutoFuzziness(true)
		} else {
			q.SetFuzziness(fz.dist)
		}
	}
	return q
}

// wildQuery builds a prefix query for "abc*", and otherwise a wildcard
// query — or a regexp when the word has literal (escaped) '*', '?' or '\'
// that bleve's wildcard syntax cannot express.
func wildQuery(field string, w word) bq.Query {
	if w.isPrefix() {
		q := bq.NewPrefixQuery(w.lit[0])
		q.SetField(field)
		return q
	}
	if !w.hasLiteralWildChars() {
		q := bq.NewWildcardQuery(w.text())
		q.SetField(field)
		return q
	}
	var b strings.Builder
	for i, l := range w.lit {
		b.WriteString(regexp.QuoteMeta(l))
		if i < len(w.wild) {
			if w.wild[i] == '*' {
				b.WriteString(".*")
			} else {
				b.WriteString(".")
			}
		}
	}
	q := bq.NewRegexpQuery(b.String())
	q.SetField(field)
	return q
}

func ptr[T any](v T) *T { return &v }
