package search

import (
	"html"
	"regexp"
	"strings"
	"unicode"
)

// The index stores no text (hits are read back from the log), so fragments
// are cut from the record's value here: the words of the query string are
// marked wherever they occur as whole words (or as word prefixes for
// "err*"), case-insensitively, the way the text analyzer matches them.

// queryWord is one word of a query string to mark.
type queryWord struct {
	text   string
	prefix bool
}

var (
	// fieldPrefix drops "field:" before a value.
	fieldPrefix = regexp.MustCompile(`(^|[\s(+\-!])[\p{L}\p{N}_.@\\-]+:`)
	queryToken  = regexp.MustCompile(`[\p{L}\p{N}_]+\*?`)
)

// highlightWords extracts the words a query searches for (not operators,
// not field names, not range bounds).
func highlightWords(q string) []queryWord {
	q = fieldPrefix.ReplaceAllString(q, "$1 ")
	var out []queryWord
	seen := map[string]bool{}
	for _, t := range queryToken.FindAllString(q, -1) {
		switch t {
		case "AND", "OR", "NOT", "TO":
			continue
		}
		w := queryWord{text: strings.ToLower(strings.TrimSuffix(t, "*")), prefix: strings.HasSuffix(t, "*")}
		if w.text == "" || seen[t] {
			continue
		}
		seen[t] = true
		out = append(out, w)
	}
	return out
}

const (
	fragmentContext = 60 // characters around a mark
	maxFragments    = 3
)

// highlight returns up to maxFragments HTML fragments of text with the
// query's words in <mark>, escaped for HTML; nil when nothing matches.
func highlight(text string, words []queryWord) []string {
	if len(words) == 0 || text == "" {
		return nil
	}
	type span struct{ start, end int }
	var marks []span
	isWord := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) || r == '_' }
	start := -1
	flush := func(end int) {
		if start < 0 {
			return
		}
		tok := strings.ToLower(text[start:end])
		for _, w := range words {
			if tok == w.text || (w.prefix && strings.HasPrefix(tok, w.text)) {
				marks = append(marks, span{start, end})
				break
			}
		}
		start = -1
	}
	for i, r := range text {
		if isWord(r) {
			if start < 0 {
				start = i
			}
			continue
		}
		flush(i)
	}
	flush(len(text))
	if len(marks) == 0 {
		return nil
	}
	var frags []string
	for i := 0; i < len(marks) && len(frags) < maxFragments; {
		from := max(marks[i].start-fragmentContext, 0)
		to := min(marks[i].end+fragmentContext, len(text))
		// Marks that fall inside this fragment belong to it.
		j := i
		for j < len(marks) && marks[j].start < to {
			to = max(to, min(marks[j].end+fragmentContext/2, len(text)))
			j++
		}
		from, to = runeStart(text, from), runeStart(text, to)
		var b strings.Builder
		if from > 0 {
			b.WriteString("…")
		}
		pos := from
		for _, m := range marks[i:j] {
			if m.end > to {
				break
			}
			b.WriteString(html.EscapeString(text[pos:m.start]))
			b.WriteString("<mark>")
			b.WriteString(html.EscapeString(text[m.start:m.end]))
			b.WriteString("</mark>")
			pos = m.end
		}
		b.WriteString(html.EscapeString(text[pos:max(pos, to)]))
		if to < len(text) {
			b.WriteString("…")
		}
		frags = append(frags, b.String())
		i = j
	}
	return frags
}

// runeStart moves i back to the start of the UTF-8 sequence it is in.
func runeStart(s string, i int) int {
	for i > 0 && i < len(s) && s[i]&0xC0 == 0x80 {
		i--
	}
	return i
}
