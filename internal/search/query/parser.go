package query

import (
	"strconv"
	"strings"
	"time"

	bq "github.com/blevesearch/bleve/v2/search/query"
)

// Grammar (recursive descent, one parse function per rule):
//
//	query   = [ or ] EOF
//	or      = and { [ "OR" | "||" ] and }        adjacent clauses are OR'ed
//	and     = unary { ( "AND" | "&&" ) unary }
//	unary   = ( "NOT" | "!" | "-" | "+" ) unary | primary
//	primary = group | phrase | range | word [ ":" value ]   then [~n] [^boost]
//	value   = group | phrase | range | comparison | word
//	group   = "(" or ")"
//	range   = ( "[" | "{" ) bound "TO" bound ( "]" | "}" )
//	comparison = ( ">" | ">=" | "<" | "<=" ) bound

// maxDepth bounds nesting of groups and unary operators so a hostile query
// cannot run the parser (or bleve's searcher construction) out of stack.
const maxDepth = 100

type parser struct {
	s     string
	i     int
	opt   Options
	now   time.Time
	depth int
}

type occur int

const (
	should occur = iota
	must
	mustNot
)

// clause is a query with the role the operators in front of it gave it in
// its clause list.
type clause struct {
	occ occur
	q   bq.Query
}

// scope is where the values of a clause are searched: the default fields,
// or the one field of "field:" / "field:(...)". Inside an explicit scope a
// word is a value, so colons are ordinary and '>' '<' start comparisons.
type scope struct {
	fields   []string
	explicit bool
}

func (p *parser) defaultScope() scope {
	if len(p.opt.DefaultFields) == 0 {
		return scope{fields: []string{""}}
	}
	return scope{fields: p.opt.DefaultFields}
}

func (p *parser) kind(field string) Kind {
	if p.opt.FieldKind == nil {
		return KindUnknown
	}
	return p.opt.FieldKind(field)
}

func (p *parser) parse() (bq.Query, error) {
	p.skipSpace()
	if p.eof() {
		return bq.NewMatchAllQuery(), nil
	}
	q, err := p.parseOr(p.defaultScope())
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if !p.eof() {
		// parseOr only stops early at a ')'.
		return nil, p.errAt(p.i, "')' has no matching '('")
	}
	return q, nil
}

func (p *parser) atClauseEnd() bool {
	return p.eof() || p.s[p.i] == ')'
}

func (p *parser) parseOr(sc scope) (bq.Query, error) {
	var cs []clause
	for {
		c, err := p.parseAnd(sc)
		if err != nil {
			return nil, err
		}
		cs = append(cs, c)
		p.skipSpace()
		if p.atClauseEnd() {
			return combine(cs), nil
		}
		if n, ok := p.atOr(); ok {
			opPos := p.i
			p.i += n
			p.skipSpace()
			if p.atClauseEnd() {
				return nil, p.errAt(opPos, "%s needs a clause after it", p.s[opPos:opPos+n])
			}
		}
	}
}

func (p *parser) parseAnd(sc scope) (clause, error) {
	first, err := p.parseUnary(sc)
	if err != nil {
		return clause{}, err
	}
	cs := []clause{first}
	for {
		save := p.i
		p.skipSpace()
		n, ok := p.atAnd()
		if !ok {
			p.i = save
			break
		}
		opPos := p.i
		p.i += n
		p.skipSpace()
		if p.atClauseEnd() {
			return clause{}, p.errAt(opPos, "%s needs a clause after it", p.s[opPos:opPos+n])
		}
		c, err := p.parseUnary(sc)
		if err != nil {
			return clause{}, err
		}
		cs = append(cs, c)
	}
	if len(cs) == 1 {
		return first, nil
	}
	return clause{occ: should, q: combineAnd(cs)}, nil
}

func (p *parser) enter(pos int) error {
	p.depth++
	if p.depth > maxDepth {
		return p.errAt(pos, "query is nested more than %d levels deep", maxDepth)
	}
	return nil
}

func (p *parser) parseUnary(sc scope) (clause, error) {
	p.skipSpace()
	start := p.i
	var op string
	switch {
	case p.atKeyword("NOT"):
		op = "NOT"
	case !p.eof() && (p.s[p.i] == '!' || p.s[p.i] == '-' || p.s[p.i] == '+'):
		op = p.s[p.i : p.i+1]
	default:
		q, err := p.parsePrimary(sc)
		return clause{occ: should, q: q}, err
	}
	if err := p.enter(start); err != nil {
		return clause{}, err
	}
	defer func() { p.depth-- }()
	p.i += len(op)
	p.skipSpace()
	if p.atClauseEnd() {
		return clause{}, p.errAt(start, "%s needs a clause after it", op)
	}
	if _, ok := p.atAnd(); ok {
		return clause{}, p.errAt(start, "%s needs a clause after it", op)
	}
	if _, ok := p.atOr(); ok {
		return clause{}, p.errAt(start, "%s needs a clause after it", op)
	}
	inner, err := p.parseUnary(sc)
	if err != nil {
		return clause{}, err
	}
	if op == "+" {
		return clause{occ: must, q: standalone(inner)}, nil
	}
	return clause{occ: mustNot, q: standalone(inner)}, nil
}

func (p *parser) parsePrimary(sc scope) (bq.Query, error) {
	p.skipSpace()
	start := p.i
	if p.eof() {
		return nil, p.errAt(start, "expected a search term")
	}
	if n, ok := p.atAnd(); ok {
		return nil, p.errAt(start, "%s needs a clause before it", p.s[start:start+n])
	}
	if n, ok := p.atOr(); ok {
		return nil, p.errAt(start, "%s needs a clause before it", p.s[start:start+n])
	}
	switch c := p.s[p.i]; c {
	case '(':
		return p.parseGroup(sc)
	case '"':
		return p.parsePhrase(sc)
	case '[', '{':
		return p.parseRange(sc)
	case ':':
		return nil, p.errAt(start, "field name before ':' is empty")
	case ')':
		return nil, p.errAt(start, "')' has no matching '('")
	case ']', '}', '^', '~':
		return nil, p.errAt(start, "unexpected %s", p.describe(start))
	case '>', '<':
		if sc.explicit {
			return p.parseComparison(sc)
		}
	}
	mode := modeBare
	if sc.explicit {
		mode = modeValue
	}
	w, err := p.readWord(mode)
	if err != nil {
		return nil, err
	}
	if w.end == start {
		// Unreachable while the switch above covers every word end;
		// kept so a future gap errors instead of building an empty term.
		return nil, p.errAt(start, "unexpected %s", p.describe(start))
	}
	if mode == modeBare && !p.eof() && p.s[p.i] == ':' {
		p.i++
		return p.parseFieldValue(w)
	}
	return p.parseTerm(sc, w)
}

// parseFieldValue parses what follows "field:".
func (p *parser) parseFieldValue(name word) (bq.Query, error) {
	var sc scope
	switch {
	case name.isStar():
		// "*:value" searches the default fields, as in Elasticsearch;
		// "*:*" is match-all because the scope is not explicit.
		sc = p.defaultScope()
	case name.hasWild():
		return nil, p.errAt(name.pos, "wildcards in field names are not supported")
	default:
		sc = scope{fields: []string{name.text()}, explicit: true}
	}
	p.skipSpace()
	if p.eof() {
		return nil, p.errAt(p.i, "field %q has no value after ':'", name.text())
	}
	if sc.explicit && sc.fields[0] == "_exists_" && !strings.ContainsRune(")]}^~([{<>", rune(p.s[p.i])) {
		return p.parseExists()
	}
	switch c := p.s[p.i]; c {
	case '(':
		return p.parseGroup(sc)
	case '"':
		return p.parsePhrase(sc)
	case '[', '{':
		return p.parseRange(sc)
	case '>', '<':
		return p.parseComparison(sc)
	case ')', ']', '}', '^', '~':
		return nil, p.errAt(p.i, "field %q has no value after ':'", name.text())
	}
	w, err := p.readWord(modeValue)
	if err != nil {
		return nil, err
	}
	// A field that is really "*" keeps the bare meaning of '*' (match all).
	if !sc.explicit && w.isStar() {
		sf, err := p.readSuffix(false)
		if err != nil {
			return nil, err
		}
		return boosted(bq.NewMatchAllQuery(), sf), nil
	}
	return p.parseTerm(sc, w)
}

// parseExists handles Elasticsearch's _exists_:field, the same as field:*.
func (p *parser) parseExists() (bq.Query, error) {
	pos := p.i
	var field string
	if p.s[p.i] == '"' {
		t, err := p.readPhrase()
		if err != nil {
			return nil, err
		}
		field = t
	} else {
		w, err := p.readWord(modeValue)
		if err != nil {
			return nil, err
		}
		if w.hasWild() {
			return nil, p.errAt(pos, "wildcards in field names are not supported")
		}
		field = w.text()
	}
	if field == "" {
		return nil, p.errAt(pos, "_exists_ needs a field name")
	}
	sf, err := p.readSuffix(false)
	if err != nil {
		return nil, err
	}
	if sf.fuzzy {
		return nil, p.errAt(sf.fuzzPos, "'~' does not apply to _exists_")
	}
	return boosted(p.exists(field, p.kind(field)), sf), nil
}

func (p *parser) parseGroup(sc scope) (bq.Query, error) {
	start := p.i
	if err := p.enter(start); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	p.i++
	p.skipSpace()
	if p.eof() {
		return nil, p.errAt(start, "'(' is not closed")
	}
	if p.s[p.i] == ')' {
		return nil, p.errAt(start, "group '()' is empty")
	}
	q, err := p.parseOr(sc)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.eof() {
		return nil, p.errAt(start, "'(' is not closed")
	}
	p.i++ // ')', the only other place parseOr stops
	sf, err := p.readSuffix(true)
	if err != nil {
		return nil, err
	}
	if sf.fuzzy {
		return nil, p.errAt(sf.fuzzPos, "'~' does not apply to a group")
	}
	return boosted(q, sf), nil
}

func (p *parser) parsePhrase(sc scope) (bq.Query, error) {
	start := p.i
	text, err := p.readPhrase()
	if err != nil {
		return nil, err
	}
	sf, err := p.readSuffix(true)
	if err != nil {
		return nil, err
	}
	// "a b"~2 is proximity in Lucene; bleve's phrase query has no slop, so
	// the number is checked and then searched as an exact phrase.
	if sf.fuzzy && sf.fuzz != "" {
		if _, err := strconv.ParseUint(sf.fuzz, 10, 32); err != nil {
			return nil, p.errAt(sf.fuzzPos+1, "phrase slop %q is not a whole number", sf.fuzz)
		}
	}
	q, err := p.overFields(sc, func(field string, k Kind) (bq.Query, error) {
		return p.phraseQuery(field, k, text, start)
	})
	if err != nil {
		return nil, err
	}
	return boosted(q, sf), nil
}

func (p *parser) parseTerm(sc scope, w word) (bq.Query, error) {
	sf, err := p.readSuffix(false)
	if err != nil {
		return nil, err
	}
	fz := fuzz{}
	if sf.fuzzy {
		if w.hasWild() {
			return nil, p.errAt(sf.fuzzPos, "'~' cannot be combined with wildcards")
		}
		fz.on = true
		fz.auto = sf.fuzz == ""
		if !fz.auto {
			switch sf.fuzz {
			case "0", "1", "2":
				fz.dist = int(sf.fuzz[0] - '0')
			default:
				return nil, p.errAt(sf.fuzzPos+1, "fuzziness %q must be 0, 1 or 2", sf.fuzz)
			}
		}
		fz.pos = sf.fuzzPos
	}
	var q bq.Query
	if w.isStar() && !sc.explicit {
		q = bq.NewMatchAllQuery()
	} else {
		q, err = p.overFields(sc, func(field string, k Kind) (bq.Query, error) {
			return p.termQuery(field, k, w, fz)
		})
		if err != nil {
			return nil, err
		}
	}
	return boosted(q, sf), nil
}

// bound is one end of a range; open is '*'.
type bound struct {
	text string
	open bool
	pos  int
}

type rangeSpec struct {
	lo, hi         bound
	loIncl, hiIncl bool
}

func (p *parser) atTO() bool {
	if !strings.HasPrefix(p.s[p.i:], "TO") {
		return false
	}
	j := p.i + 2
	return j >= len(p.s) || p.spaceAt(j) > 0 || p.s[j] == ']' || p.s[j] == '}' || p.s[j] == '"'
}

func (p *parser) readBound(m wordMode) (bound, error) {
	pos := p.i
	if p.s[p.i] == '"' {
		t, err := p.readPhrase()
		return bound{text: t, pos: pos}, err
	}
	w, err := p.readWord(m)
	if err != nil {
		return bound{}, err
	}
	if w.isStar() {
		return bound{open: true, pos: pos}, nil
	}
	// Wildcards mean nothing in a bound; they are kept as written.
	return bound{text: w.text(), pos: pos}, nil
}

func (p *parser) parseRange(sc scope) (bq.Query, error) {
	start := p.i
	r := rangeSpec{loIncl: p.s[p.i] == '['}
	p.i++
	notClosed := func() error { return p.errAt(start, "range is not closed with ']' or '}'") }
	p.skipSpace()
	if p.eof() {
		return nil, notClosed()
	}
	if p.atTO() || p.s[p.i] == ']' || p.s[p.i] == '}' {
		return nil, p.errAt(p.i, "range has no lower bound (use * for an open one)")
	}
	var err error
	if r.lo, err = p.readBound(modeBound); err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.eof() {
		return nil, notClosed()
	}
	if !p.atTO() {
		return nil, p.errAt(p.i, "expected TO between the range bounds")
	}
	p.i += 2
	p.skipSpace()
	if p.eof() {
		return nil, notClosed()
	}
	if p.s[p.i] == ']' || p.s[p.i] == '}' {
		return nil, p.errAt(p.i, "range has no upper bound (use * for an open one)")
	}
	if r.hi, err = p.readBound(modeBound); err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.eof() {
		return nil, notClosed()
	}
	if c := p.s[p.i]; c != ']' && c != '}' {
		return nil, p.errAt(p.i, "expected ']' or '}' to close the range")
	}
	r.hiIncl = p.s[p.i] == ']'
	p.i++
	return p.finishRange(sc, r)
}

func (p *parser) parseComparison(sc scope) (bq.Query, error) {
	start := p.i
	op := p.s[p.i : p.i+1]
	if p.i+1 < len(p.s) && p.s[p.i+1] == '=' {
		op = p.s[p.i : p.i+2]
	}
	p.i += len(op)
	p.skipSpace()
	if p.atClauseEnd() || strings.ContainsRune("(^~]}", rune(p.s[p.i])) {
		return nil, p.errAt(start, "%s needs a value after it", op)
	}
	b, err := p.readBound(modeValue)
	if err != nil {
		return nil, err
	}
	var r rangeSpec
	switch op {
	case ">":
		r.lo, r.hi = b, bound{open: true}
	case ">=":
		r.lo, r.hi, r.loIncl = b, bound{open: true}, true
	case "<":
		r.lo, r.hi = bound{open: true}, b
	case "<=":
		r.lo, r.hi, r.hiIncl = bound{open: true}, b, true
	}
	return p.finishRange(sc, r)
}

func (p *parser) finishRange(sc scope, r rangeSpec) (bq.Query, error) {
	sf, err := p.readSuffix(true)
	if err != nil {
		return nil, err
	}
	if sf.fuzzy {
		return nil, p.errAt(sf.fuzzPos, "'~' does not apply to a range")
	}
	q, err := p.overFields(sc, func(field string, k Kind) (bq.Query, error) {
		return p.rangeQuery(field, k, r)
	})
	if err != nil {
		return nil, err
	}
	return boosted(q, sf), nil
}

type suffix struct {
	fuzzy    bool
	fuzz     string // digits after '~', "" for none
	fuzzPos  int
	hasBoost bool
	boost    float64
}

// readSuffix reads the optional ~n and ^boost after a clause, in either
// order, as Lucene allows. With strict (after a closing quote, bracket or
// parenthesis) the clause must end there even without a suffix, so
// key:"abc"* is an error rather than a phrase OR'ed with match-all.
func (p *parser) readSuffix(strict bool) (suffix, error) {
	var sf suffix
	for !p.eof() {
		switch c := p.s[p.i]; {
		case c == '~' && !sf.fuzzy:
			sf.fuzzy, sf.fuzzPos = true, p.i
			p.i++
			sf.fuzz = p.readNumber()
			continue
		case c == '^' && !sf.hasBoost:
			pos := p.i
			p.i++
			num := p.readNumber()
			v, err := strconv.ParseFloat(num, 64)
			if num == "" || err != nil {
				return sf, p.errAt(pos, "'^' must be followed by a boost number")
			}
			sf.hasBoost, sf.boost = true, v
			continue
		}
		break
	}
	// After a suffix the clause must end: "foo~bar" or "a^2b" is far more
	// likely a typo than two clauses.
	if (strict || sf.fuzzy || sf.hasBoost) && !p.eof() && p.spaceAt(p.i) == 0 && p.s[p.i] != ')' && p.s[p.i] != '(' {
		return sf, p.errAt(p.i, "unexpected %s: expected a space, a parenthesis or the end of the query", p.describe(p.i))
	}
	return sf, nil
}

func boosted(q bq.Query, sf suffix) bq.Query {
	if sf.hasBoost {
		if b, ok := q.(bq.BoostableQuery); ok {
			b.SetBoost(sf.boost)
		}
	}
	return q
}

// overFields builds one query per field of the scope; several fields are
// OR'ed so a bare term matches in any default field.
//
// Across several default fields a value that does not fit one of them
// (a word for a numeric field) skips that field instead of failing the
// query; it is an error only if it fits none.
func (p *parser) overFields(sc scope, build func(field string, k Kind) (bq.Query, error)) (bq.Query, error) {
	lenient := !sc.explicit && len(sc.fields) > 1
	qs := make([]bq.Query, 0, len(sc.fields))
	var firstErr error
	for _, f := range sc.fields {
		q, err := build(f, p.kind(f))
		if err != nil {
			if !lenient {
				return nil, err
			}
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		qs = append(qs, q)
	}
	if len(qs) == 0 {
		return nil, firstErr
	}
	if len(qs) == 1 {
		return qs[0], nil
	}
	return bq.NewDisjunctionQuery(qs), nil
}

// standalone turns a clause into a query that means the same thing on its
// own: an excluded clause becomes "everything except it".
func standalone(c clause) bq.Query {
	if c.occ == mustNot {
		return bq.NewBooleanQuery([]bq.Query{bq.NewMatchAllQuery()}, nil, []bq.Query{c.q})
	}
	return c.q
}

// combine builds the query for an OR-level clause list with Lucene
// semantics: required clauses must match, excluded ones must not, and the
// rest are optional when something is required and alternatives otherwise.
func combine(cs []clause) bq.Query {
	if len(cs) == 1 {
		return standalone(cs[0])
	}
	var mustQs, shouldQs, notQs []bq.Query
	for _, c := range cs {
		switch c.occ {
		case must:
			mustQs = append(mustQs, c.q)
		case mustNot:
			notQs = append(notQs, c.q)
		default:
			shouldQs = append(shouldQs, c.q)
		}
	}
	if len(mustQs) == 0 && len(notQs) == 0 {
		return bq.NewDisjunctionQuery(shouldQs)
	}
	return booleanOf(mustQs, shouldQs, notQs)
}

// combineAnd builds "a AND b AND NOT c": every clause not excluded is
// required.
func combineAnd(cs []clause) bq.Query {
	var mustQs, notQs []bq.Query
	for _, c := range cs {
		if c.occ == mustNot {
			notQs = append(notQs, c.q)
		} else {
			mustQs = append(mustQs, c.q)
		}
	}
	if len(notQs) == 0 {
		return bq.NewConjunctionQuery(mustQs)
	}
	return booleanOf(mustQs, nil, notQs)
}

// booleanOf makes a BooleanQuery that never leans on bleve's implicit rules
// for missing parts: a purely negative list gets an explicit match-all to
// subtract from.
func booleanOf(mustQs, shouldQs, notQs []bq.Query) bq.Query {
	if len(mustQs) == 0 && len(shouldQs) == 0 {
		mustQs = []bq.Query{bq.NewMatchAllQuery()}
	}
	return bq.NewBooleanQuery(mustQs, shouldQs, notQs)
}
