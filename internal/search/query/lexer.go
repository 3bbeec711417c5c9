package query

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The lexer is driven by the parser rather than producing a token stream up
// front, because what a character means depends on where it is: a ':' ends
// a field name but is part of a value after one (timestamp:2024-01-01T10:00:00Z),
// and a leading '-' is an operator before a clause but a sign in n:-5.

// wordMode selects which bytes end a word.
type wordMode int

const (
	// modeBare is a clause in operator position: ':' may end a field name.
	modeBare wordMode = iota
	// modeValue is the value after "field:": colons are ordinary.
	modeValue
	// modeBound is a bound inside [...] or {...}: only space and the
	// closing bracket end it, so a bound may contain ( ) ^ ~ ".
	modeBound
)

func endsWord(c byte, m wordMode) bool {
	switch m {
	case modeBound:
		return c == ']' || c == '}'
	case modeValue:
		return c == '(' || c == ')' || c == '"' || c == '^' || c == '~'
	default:
		return c == '(' || c == ')' || c == '"' || c == '^' || c == '~' || c == ':'
	}
}

// word is a term as written: literal runs separated by the unescaped
// wildcards between them, so lit has len(wild)+1 entries. Escaped '*' and
// '?' land in lit and stay literal.
type word struct {
	lit      []string
	wild     []byte
	pos, end int
}

// text is the word with its wildcards spelled out.
func (w word) text() string {
	if len(w.wild) == 0 {
		return w.lit[0]
	}
	var b strings.Builder
	for i, l := range w.lit {
		b.WriteString(l)
		if i < len(w.wild) {
			b.WriteByte(w.wild[i])
		}
	}
	return b.String()
}

func (w word) hasWild() bool { return len(w.wild) > 0 }

// isStar reports a lone unescaped '*'.
func (w word) isStar() bool {
	return len(w.wild) == 1 && w.wild[0] == '*' && w.lit[0] == "" && w.lit[1] == ""
}

// isPrefix reports "abc*": one trailing '*' and nothing else wild.
func (w word) isPrefix() bool {
	return len(w.wild) == 1 && w.wild[0] == '*' && w.lit[1] == "" && w.lit[0] != ""
}

// hasLiteralWildChars reports literal (escaped) characters that bleve's
// WildcardQuery would otherwise read as wildcards or cannot escape.
func (w word) hasLiteralWildChars() bool {
	for _, l := range w.lit {
		if strings.ContainsAny(l, `*?\`) {
			return true
		}
	}
	return false
}

// lower lowercases the literal runs, leaving the wildcards in place.
func (w word) lower() word {
	lit := make([]string, len(w.lit))
	for i, l := range w.lit {
		lit[i] = strings.ToLower(l)
	}
	return word{lit: lit, wild: w.wild, pos: w.pos, end: w.end}
}

func (p *parser) errAt(pos int, format string, args ...any) error {
	if pos < 0 {
		pos = 0
	}
	if pos > len(p.s) {
		pos = len(p.s)
	}
	return &SyntaxError{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) eof() bool { return p.i >= len(p.s) }

// spaceAt returns the width of the whitespace rune at i, or 0.
func (p *parser) spaceAt(i int) int {
	if i >= len(p.s) {
		return 0
	}
	c := p.s[i]
	if c < utf8.RuneSelf {
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' {
			return 1
		}
		return 0
	}
	r, n := utf8.DecodeRuneInString(p.s[i:])
	if r != utf8.RuneError && unicode.IsSpace(r) {
		return n
	}
	return 0
}

func (p *parser) skipSpace() {
	for {
		n := p.spaceAt(p.i)
		if n == 0 {
			return
		}
		p.i += n
	}
}

// boundaryAt reports whether a keyword ending at i stands alone.
func (p *parser) boundaryAt(i int) bool {
	if i >= len(p.s) {
		return true
	}
	if p.spaceAt(i) > 0 {
		return true
	}
	c := p.s[i]
	return c == '(' || c == ')' || c == '"'
}

// atKeyword reports whether the upper-case keyword kw starts at the cursor as
// a whole word, so ANDROID or NOTE are still terms.
func (p *parser) atKeyword(kw string) bool {
	return strings.HasPrefix(p.s[p.i:], kw) && p.boundaryAt(p.i+len(kw))
}

func (p *parser) atAnd() (int, bool) {
	if p.atKeyword("AND") {
		return 3, true
	}
	if strings.HasPrefix(p.s[p.i:], "&&") {
		return 2, true
	}
	return 0, false
}

func (p *parser) atOr() (int, bool) {
	if p.atKeyword("OR") {
		return 2, true
	}
	if strings.HasPrefix(p.s[p.i:], "||") {
		return 2, true
	}
	return 0, false
}

// readWord reads a word starting at the cursor, handling backslash escapes.
// The caller has checked that the cursor is not at a word end.
func (p *parser) readWord(m wordMode) (word, error) {
	w := word{pos: p.i}
	var cur strings.Builder
	for !p.eof() {
		c := p.s[p.i]
		if c == '\\' {
			if p.i+1 >= len(p.s) {
				return word{}, p.errAt(p.i, "backslash at end of query escapes nothing")
			}
			_, n := utf8.DecodeRuneInString(p.s[p.i+1:])
			cur.WriteString(p.s[p.i+1 : p.i+1+n])
			p.i += 1 + n
			continue
		}
		if p.spaceAt(p.i) > 0 || endsWord(c, m) {
			break
		}
		if c == '*' || c == '?' {
			w.lit = append(w.lit, cur.String())
			w.wild = append(w.wild, c)
			cur.Reset()
			p.i++
			continue
		}
		if c >= utf8.RuneSelf {
			// Copy whole runes so spaceAt is never asked about a
			// continuation byte.
			_, n := utf8.DecodeRuneInString(p.s[p.i:])
			cur.WriteString(p.s[p.i : p.i+n])
			p.i += n
			continue
		}
		cur.WriteByte(c)
		p.i++
	}
	w.lit = append(w.lit, cur.String())
	w.end = p.i
	return w, nil
}

// readPhrase reads a double-quoted string at the cursor; \" and \\ escape.
func (p *parser) readPhrase() (string, error) {
	start := p.i
	p.i++ // opening quote
	var b strings.Builder
	for {
		if p.eof() {
			return "", p.errAt(start, "quoted phrase is not closed")
		}
		c := p.s[p.i]
		switch c {
		case '"':
			p.i++
			return b.String(), nil
		case '\\':
			if p.i+1 >= len(p.s) {
				return "", p.errAt(start, "quoted phrase is not closed")
			}
			_, n := utf8.DecodeRuneInString(p.s[p.i+1:])
			b.WriteString(p.s[p.i+1 : p.i+1+n])
			p.i += 1 + n
		default:
			b.WriteByte(c)
			p.i++
		}
	}
}

// readNumber reads the digits and dots of a suffix number (~2, ^1.5).
func (p *parser) readNumber() string {
	start := p.i
	for !p.eof() {
		c := p.s[p.i]
		if (c < '0' || c > '9') && c != '.' {
			break
		}
		p.i++
	}
	return p.s[start:p.i]
}

// describe names the character at i for error messages.
func (p *parser) describe(i int) string {
	if i >= len(p.s) {
		return "end of query"
	}
	r, _ := utf8.DecodeRuneInString(p.s[i:])
	if r == utf8.RuneError {
		return fmt.Sprintf("byte 0x%02x", p.s[i])
	}
	return fmt.Sprintf("%q", r)
}
