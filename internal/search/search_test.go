package search

import (
	"fmt"
	"testing"

	"github.com/chronik-streaming/chronik/internal/search/query"
)

func TestHighlight(t *testing.T) {
	for _, c := range []struct {
		q, text string
		want    []string
	}{
		{"refused", "connection refused by upstream", []string{"connection <mark>refused</mark> by upstream"}},
		{`level:error AND "Disk full"`, `{"level":"error","msg":"disk full"}`,
			[]string{`{&#34;level&#34;:&#34;<mark>error</mark>&#34;,&#34;msg&#34;:&#34;<mark>disk</mark> <mark>full</mark>&#34;}`}},
		{"err*", "Errors and errands", []string{"<mark>Errors</mark> and <mark>errands</mark>"}},
		{"user.id:[100 TO 199]", "nothing to mark", nil},
		{"NOT x", "x marks", []string{"<mark>x</mark> marks"}},
		{"zzz", "no match", nil},
	} {
		got := highlight(c.text, highlightWords(c.q))
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("highlight(%q, %q) = %q, want %q", c.text, c.q, got, c.want)
		}
	}
	long := ""
	for i := range 100 {
		long += fmt.Sprintf("word%d ", i)
	}
	frags := highlight(long+"target "+long+"target", highlightWords("target"))
	if len(frags) != 2 || len(frags[0]) > 200 {
		t.Errorf("long text fragments: %q", frags)
	}
}

func TestDocIDAndKinds(t *testing.T) {
	topic, p, o, ok := parseDocID(docID("a.b-c", 7, 123456789))
	if !ok || topic != "a.b-c" || p != 7 || o != 123456789 {
		t.Errorf("parseDocID round trip: %q %d %d %v", topic, p, o, ok)
	}
	for _, bad := range []string{"", "t", "t/1", "t/x/1", "t/1/y"} {
		if _, _, _, ok := parseDocID(bad); ok {
			t.Errorf("parseDocID(%q) accepted", bad)
		}
	}
	for f, k := range map[string]query.Kind{"value": query.KindText, "key": query.KindKeyword, "headers.x": query.KindKeyword,
		"a.b.keyword": query.KindKeyword, "offset": query.KindNumber, "timestamp": query.KindDate, "user.id": query.KindUnknown} {
		if got := fieldKind(f); got != k {
			t.Errorf("fieldKind(%s) = %v, want %v", f, got, k)
		}
	}
}
