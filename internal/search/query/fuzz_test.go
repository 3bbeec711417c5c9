package query

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/blevesearch/bleve/v2"
	bq "github.com/blevesearch/bleve/v2/search/query"
)

var (
	fuzzIndexOnce sync.Once
	fuzzIndex     bleve.Index
)

// FuzzParse checks that no input panics, that every error is a
// *SyntaxError pointing inside the input, and that every query the parser
// builds is one bleve accepts and can run.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "*", "*:*", "error", `"connection refused"`, "level:error",
		`user.name:"Ada Lovelace"`, `headers.content\-type:json`, "err* e?r*r",
		`key:a\*b?c`, "timout~1", `"a b"~2^3`, "a AND b OR NOT c", "+a -b !c",
		"a && (b || c)", "status:(active OR pending)", "partition:[100 TO 199}",
		"offset:{* TO 5]", "partition:>=100", "timestamp:>now-1h",
		"timestamp:[2024-01-01 TO now/d]", "timestamp:2024-01-01T10:00:00Z",
		"other:[a TO 5]", "term^2", "(a b)^2", `key:["" TO ""]`, "foo AND",
		"(a", `"abc`, ":foo", "n:[1 TO]", "a:b:c", `abc\`, "key:*",
	} {
		f.Add(s)
	}
	fuzzIndexOnce.Do(func() {
		idx, err := bleve.NewMemOnly(testMapping())
		if err != nil {
			f.Fatal(err)
		}
		for id, d := range testDocs {
			if err := idx.Index(id, d); err != nil {
				f.Fatal(err)
			}
		}
		fuzzIndex = idx
	})
	opt := testOptions()
	f.Fuzz(func(t *testing.T, s string) {
		q, err := Parse(s, opt)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q): error %T is not a *SyntaxError: %v", s, err, err)
			}
			if se.Pos < 0 || se.Pos > len(s) {
				t.Fatalf("Parse(%q): position %d outside 0..%d", s, se.Pos, len(s))
			}
			if q != nil {
				t.Fatalf("Parse(%q): both a query and an error", s)
			}
			return
		}
		if q == nil {
			t.Fatalf("Parse(%q): nil query without error", s)
		}
		if v, ok := q.(bq.ValidatableQuery); ok {
			if err := v.Validate(); err != nil {
				t.Fatalf("Parse(%q) = %s: bleve rejects it: %v", s, render(q), err)
			}
		}
		if _, err := json.Marshal(q); err != nil {
			t.Fatalf("Parse(%q) = %s: cannot marshal: %v", s, render(q), err)
		}
		if _, err := fuzzIndex.Search(bleve.NewSearchRequestOptions(q, 10, 0, false)); err != nil {
			t.Fatalf("Parse(%q) = %s: search fails: %v", s, render(q), err)
		}
	})
}
