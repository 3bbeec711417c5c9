package query

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	bq "github.com/blevesearch/bleve/v2/search/query"
)

func TestParseStructure(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		// match all
		{"", "all"},
		{"  \t\n", "all"},
		{"*", "all"},
		{"*:*", "all"},
		{"*^2", "all^2"},

		// terms and phrases on the default (text) field
		{"error", "match(value:error)"},
		{`"connection refused"`, `phrase(value:"connection refused")`},
		{`"a \"quoted\" b"`, `phrase(value:"a \"quoted\" b")`},
		{`"a b"~2`, `phrase(value:"a b")`},
		{"*:foo", "match(value:foo)"},
		{`a\ b`, "match(value:a b)"},
		{"ANDROID ORACLE NOTE", "or(match(value:ANDROID), match(value:ORACLE), match(value:NOTE))"},
		{"<html>", "match(value:<html>)"},
		{"a\u3000b\u00a0c", "or(match(value:a), match(value:b), match(value:c))"},
		{"Café*", "prefix(value:café)"},
		{"key:Café*", "prefix(key:Café)"},

		// wildcards and fuzzy; text fields are lowercased like the analyzer
		{"err*", "prefix(value:err)"},
		{"Err*", "prefix(value:err)"},
		{"e?r*r", "wildcard(value:e?r*r)"},
		{"timout~", "match(value:timout~auto)"},
		{"timout~1", "match(value:timout~1)"},
		{"timout~0", "match(value:timout)"},

		// fields by kind
		{"level:error", "match(level:error)"},
		{`user.name:"Ada Lovelace"`, `phrase(user.name:"Ada Lovelace")`},
		{"user.name:Ada*", "prefix(user.name:ada)"},
		{`user.name.keyword:"Ada Lovelace"`, "term(user.name.keyword:Ada Lovelace)"},
		{"key:Order-1", "term(key:Order-1)"},
		{"key: Order-1", "term(key:Order-1)"},
		{"key:Err*", "prefix(key:Err)"},
		{"key:e?r*r", "wildcard(key:e?r*r)"},
		{`key:a\*b`, "term(key:a*b)"},
		{`key:a\*b*`, "prefix(key:a*b)"},
		{`key:a\*b?c`, `regexp(key:a\*b.c)`},
		{"key:timout~2", "fuzzy(key:timout~2)"},
		{"key:timout~", "fuzzy(key:timout~auto)"},
		{`key:\-5`, "term(key:-5)"},
		{"key:-5", "term(key:-5)"},
		{"headers.env:prod", "term(headers.env:prod)"},
		{`headers.content\-type:json`, "term(headers.content-type:json)"},
		{`my\:field:x`, "match(my:field:x)"},
		{"a:b:c", "match(a:b:c)"},
		{"partition:3", "num(partition:[3 3])"},
		{"partition:-5", "num(partition:[-5 -5])"},
		{`partition:"7"`, "num(partition:[7 7])"},
		{"other:foo", "match(other:foo)"},
		{"other:36", "or(match(other:36), num(other:[36 36]))"},
		{"other:2024-01-01", "or(match(other:2024-01-01), date(other:[2024-01-01T00:00:00Z 2024-01-02T00:00:00Z}))"},
		{"other:now", "match(other:now)"},
		{"other:36~1", "match(other:36~1)"},
		{`other:"36"`, `phrase(other:"36")`},
		{"_exists_:key", "exists(key)"},
		{"_exists_:partition", "num(partition:[-1.7976931348623157e+308 1.7976931348623157e+308])"},
		{`_exists_:"user.name"`, "exists(user.name)"},
		{`"a"(b)`, `or(phrase(value:"a"), match(value:b))`},
		{`foo"bar"`, `or(match(value:foo), phrase(value:"bar"))`},
		{"other:fo*", "prefix(other:fo)"},

		// field:* means the field has a value
		{"key:*", "exists(key)"},
		{"other:*", "exists(other)"},
		{"partition:*", "num(partition:[-1.7976931348623157e+308 1.7976931348623157e+308])"},
		{"partition:[* TO *]", "num(partition:[-1.7976931348623157e+308 1.7976931348623157e+308])"},
		{"timestamp:*", "date(timestamp:[1677-12-01T00:00:00Z 2262-04-11T11:59:59Z])"},

		// boolean structure
		{"a AND b", "and(match(value:a), match(value:b))"},
		{"a && b", "and(match(value:a), match(value:b))"},
		{"a OR b", "or(match(value:a), match(value:b))"},
		{"a || b", "or(match(value:a), match(value:b))"},
		{"a b", "or(match(value:a), match(value:b))"},
		{"a b AND c", "or(match(value:a), and(match(value:b), match(value:c)))"},
		{"a AND b OR c", "or(and(match(value:a), match(value:b)), match(value:c))"},
		{"a OR b AND c OR d", "or(match(value:a), and(match(value:b), match(value:c)), match(value:d))"},
		{"NOT a", "bool(must: all; not: match(value:a))"},
		{"!a", "bool(must: all; not: match(value:a))"},
		{"-a", "bool(must: all; not: match(value:a))"},
		{"-a -b", "bool(must: all; not: match(value:a), match(value:b))"},
		{"+a", "match(value:a)"},
		{"+a b", "bool(must: match(value:a); should: match(value:b))"},
		{"+a b -c", "bool(must: match(value:a); should: match(value:b); not: match(value:c))"},
		{"a -b", "bool(should: match(value:a); not: match(value:b))"},
		{"a NOT b", "bool(should: match(value:a); not: match(value:b))"},
		{"a OR NOT b", "bool(should: match(value:a); not: match(value:b))"},
		{"a OR (NOT b)", "or(match(value:a), bool(must: all; not: match(value:b)))"},
		{"a AND NOT b", "bool(must: match(value:a); not: match(value:b))"},
		{"NOT a AND NOT b", "bool(must: all; not: match(value:a), match(value:b))"},
		{"NOT NOT a", "bool(must: all; not: bool(must: all; not: match(value:a)))"},
		{"NOT(a)", "bool(must: all; not: match(value:a))"},
		{"(a OR b) AND c", "and(or(match(value:a), match(value:b)), match(value:c))"},
		{"(a)", "match(value:a)"},
		{"((a))", "match(value:a)"},
		{"a AND (b OR (c AND NOT d))", "and(match(value:a), or(match(value:b), bool(must: match(value:c); not: match(value:d))))"},
		{"status:(active OR pending)", "or(match(status:active), match(status:pending))"},
		{"key:(a OR b*) AND -key:c", "bool(must: or(term(key:a), prefix(key:b)); not: term(key:c))"},
		{"partition:(1 OR >5)", "or(num(partition:[1 1]), num(partition:{5 *}))"},
		{"key:(*)", "exists(key)"},
		{"timestamp:2024-01-01T10:00:00Z OR key:x", "or(date(timestamp:[2024-01-01T10:00:00Z 2024-01-01T10:00:01Z}), term(key:x))"},

		// numeric ranges
		{"partition:[100 TO 199]", "num(partition:[100 199])"},
		{"partition:{100 TO 199}", "num(partition:{100 199})"},
		{"partition:[100 TO 199}", "num(partition:[100 199})"},
		{"partition:{100 TO 199]", "num(partition:{100 199])"},
		{"partition:[* TO 5]", "num(partition:[* 5])"},
		{"partition:[1.5 TO *]", "num(partition:[1.5 *])"},
		{"partition:[-5 TO 5]", "num(partition:[-5 5])"},
		{"partition:>=100", "num(partition:[100 *})"},
		{"partition:>100", "num(partition:{100 *})"},
		{"partition:<5", "num(partition:{* 5})"},
		{"partition:<=5", "num(partition:{* 5])"},
		{"partition:>= 5", "num(partition:[5 *})"},
		{"partition:>=-5", "num(partition:[-5 *})"},

		// date ranges, rounded by the span the value names
		{"timestamp:>now-1h", "date(timestamp:{2024-06-15T11:34:56Z *})"},
		{"timestamp:>=now-15m", "date(timestamp:[2024-06-15T12:19:56Z *})"},
		{"timestamp:[now-7d TO now]", "date(timestamp:[2024-06-08T12:34:56Z 2024-06-15T12:34:56Z])"},
		{"timestamp:>=now-7d/d", "date(timestamp:[2024-06-08T00:00:00Z *})"},
		{"timestamp:<now/d", "date(timestamp:{* 2024-06-15T00:00:00Z})"},
		{"timestamp:<=now/d", "date(timestamp:{* 2024-06-16T00:00:00Z})"},
		{"timestamp:>now/w", "date(timestamp:[2024-06-17T00:00:00Z *})"},
		{"timestamp:>=now-1M/M", "date(timestamp:[2024-05-01T00:00:00Z *})"},
		{"timestamp:>=now+1y-2H/y", "date(timestamp:[2025-01-01T00:00:00Z *})"},
		{"timestamp:>=now/y", "date(timestamp:[2024-01-01T00:00:00Z *})"},
		{"timestamp:<now/h", "date(timestamp:{* 2024-06-15T12:00:00Z})"},
		{"timestamp:<now-1m/m", "date(timestamp:{* 2024-06-15T12:33:00Z})"},
		{"timestamp:<=now/s", "date(timestamp:{* 2024-06-15T12:34:57Z})"},
		{"timestamp:>now+30s", "date(timestamp:{2024-06-15T12:35:26Z *})"},
		{"timestamp:>now-2w", "date(timestamp:{2024-06-01T12:34:56Z *})"},
		{"timestamp:-1000", "date(timestamp:[1969-12-31T23:59:59Z 1969-12-31T23:59:59.001Z})"},
		{"timestamp:[2024-01-01 TO 2024-01-31]", "date(timestamp:[2024-01-01T00:00:00Z 2024-02-01T00:00:00Z})"},
		{"timestamp:{2024-01-01 TO 2024-01-31}", "date(timestamp:[2024-01-02T00:00:00Z 2024-01-31T00:00:00Z})"},
		{"timestamp:[2024-01-01T10:00:00Z TO 2024-01-01T11:00:00.25Z]", "date(timestamp:[2024-01-01T10:00:00Z 2024-01-01T11:00:00.25Z])"},
		{`timestamp:["2024-01-01T10:00" TO *]`, "date(timestamp:[2024-01-01T10:00:00Z *})"},
		{"timestamp:2024-01-01", "date(timestamp:[2024-01-01T00:00:00Z 2024-01-02T00:00:00Z})"},
		{"timestamp:2024-01-01T10:00:00Z", "date(timestamp:[2024-01-01T10:00:00Z 2024-01-01T10:00:01Z})"},
		{"timestamp:2024-01-01T10:00:00.5Z", "date(timestamp:[2024-01-01T10:00:00.5Z 2024-01-01T10:00:00.5Z])"},
		{"timestamp:2024-01-01T10:00:00.5", "date(timestamp:[2024-01-01T10:00:00.5Z 2024-01-01T10:00:00.5Z])"},
		{`timestamp:"2024-01-01T10:00:00+02:00"`, "date(timestamp:[2024-01-01T08:00:00Z 2024-01-01T08:00:01Z})"},
		{"timestamp:1718454896000", "date(timestamp:[2024-06-15T12:34:56Z 2024-06-15T12:34:56.001Z})"},

		// term ranges; unknown fields guess from the bounds
		{"key:[a TO c]", "trange(key:[a c])"},
		{"key:{a TO *]", "trange(key:{a *])"},
		{`key:["a b" TO "c d"]`, "trange(key:[a b c d])"},
		{`key:["" TO ""]`, "term(key:)"},
		{`key:[a TO ""]`, "none"},
		{`key:["" TO *]`, "exists(key)"},
		{"value:[A TO C]", "trange(value:[a c])"},
		{"other:[1 TO 5]", "num(other:[1 5])"},
		{"other:>5", "num(other:{5 *})"},
		{"other:[2024-01-01 TO now]", "date(other:[2024-01-01T00:00:00Z 2024-06-15T12:34:56Z])"},
		{"other:[a TO 5]", "trange(other:[a 5])"},
		{"[1 TO 5]", "trange(value:[1 5])"},

		// boosts
		{"term^2", "match(value:term)^2"},
		{"term^0.5", "match(value:term)^0.5"},
		{`"a b"^3`, `phrase(value:"a b")^3`},
		{"(a b)^2", "or(match(value:a), match(value:b))^2"},
		{"status:(a b)^2", "or(match(status:a), match(status:b))^2"},
		{"a~1^2", "match(value:a~1)^2"},
		{"a^2~1", "match(value:a~1)^2"},
		{"partition:[1 TO 2]^4", "num(partition:[1 2])^4"},
		{"key:x^2 y", "or(term(key:x)^2, match(value:y))"},
	}
	for _, tt := range tests {
		q, err := Parse(tt.in, testOptions())
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got := render(q); got != tt.want {
			t.Errorf("Parse(%q)\n got  %s\n want %s", tt.in, got, tt.want)
		}
	}
}

func TestParseDefaultFields(t *testing.T) {
	opt := testOptions()
	opt.DefaultFields = []string{"value", "key"}
	cases := map[string]string{
		"fox":      "or(match(value:fox), term(key:fox))",
		`"a b"`:    `or(phrase(value:"a b"), term(key:a b))`,
		"Fo*":      "or(prefix(value:fo), prefix(key:Fo))",
		"*":        "all",
		"a -b":     "bool(should: or(match(value:a), term(key:a)); not: or(match(value:b), term(key:b)))",
		"key:x":    "term(key:x)",
		"[a TO b]": "or(trange(value:[a b]), trange(key:[a b]))",
	}
	// A value that fits only some default fields searches those.
	opt2 := testOptions()
	opt2.DefaultFields = []string{"value", "partition", "timestamp"}
	cases2 := map[string]string{
		"error":        "match(value:error)",
		"5":            "or(match(value:5), num(partition:[5 5]), date(timestamp:[1970-01-01T00:00:00.005Z 1970-01-01T00:00:00.006Z}))",
		"2024-01-01":   "or(match(value:2024-01-01), date(timestamp:[2024-01-01T00:00:00Z 2024-01-02T00:00:00Z}))",
		"[a TO b]":     "trange(value:[a b])",
		"[1 TO 2]":     "or(trange(value:[1 2]), num(partition:[1 2]), date(timestamp:[1970-01-01T00:00:00.001Z 1970-01-01T00:00:00.003Z}))",
		"err* OR a b*": "or(prefix(value:err), match(value:a), prefix(value:b))",
	}
	for in, want := range cases2 {
		q, err := Parse(in, opt2)
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		if got := render(q); got != want {
			t.Errorf("Parse(%q) = %s, want %s", in, got, want)
		}
	}
	if _, err := Parse("partition:abc", opt2); err == nil {
		t.Error("an explicit field must not be lenient")
	}
	opt2.DefaultFields = []string{"partition", "offset"}
	if _, err := Parse("abc", opt2); err == nil {
		t.Error("a value that fits no default field must fail")
	}
	for in, want := range cases {
		q, err := Parse(in, opt)
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		if got := render(q); got != want {
			t.Errorf("Parse(%q) = %s, want %s", in, got, want)
		}
	}

	// No default fields and no FieldKind: bleve's default field, unknown kind.
	q, err := Parse(`err* "a b" 5`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := render(q), `or(prefix(err), phrase("a b"), or(match(5), num([5 5])))`; got != want {
		t.Errorf("no options: got %s, want %s", got, want)
	}
}

// The queries are plain bleve queries, so they must survive bleve's own
// JSON round trip (that is how a caller would log or forward them).
func TestParseJSONRoundTrip(t *testing.T) {
	for _, in := range []string{
		`error AND key:order-1 -partition:[1 TO 5} timestamp:>now-1h`,
		`user.name:"Ada Lovelace"^2 OR key:a\*b?c OR key:fo~1`,
	} {
		q, err := Parse(in, testOptions())
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(q)
		if err != nil {
			t.Fatalf("marshal %q: %v", in, err)
		}
		back, err := bq.ParseQuery(b)
		if err != nil {
			t.Fatalf("bleve cannot read back %s: %v", b, err)
		}
		b2, _ := json.Marshal(back)
		if string(b) != string(b2) {
			t.Errorf("round trip of %q changed:\n%s\n%s", in, b, b2)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in   string
		pos  int
		want string // substring of the message
	}{
		{"(a", 0, "'(' is not closed"},
		{"a OR (b AND (c)", 5, "'(' is not closed"},
		{"a)", 1, "')' has no matching '('"},
		{")", 0, "no matching '('"},
		{"()", 0, "empty"},
		{`"abc`, 0, "quoted phrase is not closed"},
		{`a "abc`, 2, "quoted phrase is not closed"},
		{`"abc\`, 0, "quoted phrase is not closed"},
		{"foo AND", 4, "AND needs a clause after it"},
		{"foo AND ", 4, "AND needs a clause after it"},
		{"foo OR", 4, "OR needs a clause after it"},
		{"foo &&", 4, "&& needs a clause after it"},
		{"a ||", 2, "|| needs a clause after it"},
		{"(a AND)", 3, "AND needs a clause after it"},
		{"AND foo", 0, "AND needs a clause before it"},
		{"OR foo", 0, "OR needs a clause before it"},
		{"foo AND OR bar", 8, "OR needs a clause before it"},
		{"NOT", 0, "NOT needs a clause after it"},
		{"foo NOT", 4, "NOT needs a clause after it"},
		{"NOT AND a", 0, "NOT needs a clause after it"},
		{"-", 0, "- needs a clause after it"},
		{"a -", 2, "- needs a clause after it"},
		{"!", 0, "! needs a clause after it"},
		{":foo", 0, "field name before ':' is empty"},
		{"a :foo", 2, "field name before ':' is empty"},
		{"foo:", 4, `field "foo" has no value`},
		{"foo:  ", 6, `field "foo" has no value`},
		{"a:)", 2, `field "a" has no value`},
		{"f*:x", 0, "wildcards in field names"},
		{"n:[1 TO]", 7, "no upper bound"},
		{"n:[1 TO ]", 8, "no upper bound"},
		{"n:[TO 5]", 3, "no lower bound"},
		{"n:[]", 3, "no lower bound"},
		{"n:[1 TO 5", 2, "range is not closed"},
		{"n:[1 TO", 2, "range is not closed"},
		{"n:[1 5]", 5, "expected TO"},
		{"n:[1 TO 5 6]", 10, "expected ']' or '}'"},
		{"key:>", 4, "> needs a value"},
		{"key:<=)", 4, "<= needs a value"},
		{"key:>(a)", 4, "> needs a value"},
		{"partition:abc", 10, `"abc" is not a number`},
		{"partition:[1 TO x]", 16, `"x" is not a number`},
		{"partition:NaN", 10, "not a number"},
		{"partition:1*", 10, "wildcards are not supported"},
		{"partition:1~", 11, "'~' is not supported"},
		{"timestamp:yesterday", 10, `"yesterday" is not one`},
		{"timestamp:[2024-13-01 TO *]", 11, "is not one"},
		{"timestamp:[now TO 2024/01/01]", 18, "is not one"},
		{"timestamp:>now-1x", 11, "bad date math"},
		{"timestamp:now+", 10, "bad date math"},
		{"timestamp:now/d/d", 10, "bad date math"},
		{"timestamp:[1500-01-01 TO *]", 11, "outside the supported range"},
		{"timestamp:now-9999999d", 10, "too large"},
		{"timestamp:now-400y", 10, "outside the supported range"},
		{"foo~bar", 4, "unexpected 'b'"},
		{"foo~3", 4, "must be 0, 1 or 2"},
		{"foo~0.8", 4, "must be 0, 1 or 2"},
		{"foo^", 3, "boost number"},
		{"foo^x", 3, "boost number"},
		{"foo^2x", 5, "unexpected 'x'"},
		{"foo*~1", 4, "cannot be combined with wildcards"},
		{"[1 TO 2]~1", 8, "does not apply to a range"},
		{"(a)~1", 3, "does not apply to a group"},
		{`"a b"~x`, 6, "unexpected 'x'"},
		{`"a b"~1.5`, 6, "not a whole number"},
		{`abc\`, 3, "backslash at end"},
		{"]", 0, "unexpected ']'"},
		{"^foo", 0, "unexpected '^'"},
		{"a ^2", 2, "unexpected '^'"},
		{"~foo", 0, "unexpected '~'"},
		{`key:"abc"*`, 9, "unexpected '*'"},
		{"n:[1 TO 2]x", 10, "unexpected 'x'"},
		{"(a)b", 3, "unexpected 'b'"},
		{"_exists_:", 9, "no value"},
		{`_exists_:""`, 9, "needs a field name"},
		{"_exists_:a*", 9, "wildcards in field names"},
		{"ok \xff", 3, "not valid UTF-8"},
		{strings.Repeat("(", 200) + "a" + strings.Repeat(")", 200), maxDepth, "nested more than"},
		{strings.Repeat("NOT ", 200) + "a", 4 * maxDepth, "nested more than"},
	}
	for _, tt := range tests {
		q, err := Parse(tt.in, testOptions())
		if err == nil {
			t.Errorf("Parse(%q) = %s, want an error", tt.in, render(q))
			continue
		}
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) error %T is not a *SyntaxError", tt.in, err)
			continue
		}
		if se.Pos != tt.pos || !strings.Contains(se.Msg, tt.want) {
			t.Errorf("Parse(%q) = %v; want position %d and %q", tt.in, err, tt.pos, tt.want)
		}
	}
}

func TestSyntaxErrorMessage(t *testing.T) {
	_, err := Parse("foo AND", testOptions())
	if got, want := err.Error(), "at position 4: AND needs a clause after it"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
