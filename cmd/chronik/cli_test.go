package main

import (
	"bufio"
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCLIUsageErrorsClients: the client commands exit with status 2 and
// say what is wrong before connecting to anything.
func TestCLIUsageErrorsClients(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"produce"}, "accepts 1 arg(s), received 0"},
		{[]string{"produce", "t", "--acks", "2"}, `--acks "2": want all, 1 or 0`},
		{[]string{"produce", "t", "--compression", "brotli"}, `--compression "brotli"`},
		{[]string{"produce", "t", "-H", "novalue"}, `--header "novalue": want key=value`},
		{[]string{"produce", "t", "-k", "k", "--key-delim", ":"}, "--key and --key-delim exclude each other"},
		{[]string{"produce", "t", "--delim", ""}, "--delim"},
		{[]string{"produce", "t", "--delim", `\q`}, `unknown escape "\q"`},
		{[]string{"produce", "t", "-p", "-2"}, "--partition must be >= 0"},
		{[]string{"produce", "t", "-p", "x"}, `invalid argument "x"`},
		{[]string{"consume"}, "accepts 1 arg(s), received 0"},
		{[]string{"consume", "t", "-o", "soon"}, `--offset "soon"`},
		{[]string{"consume", "t", "-o", "--5"}, `--offset "--5"`},
		{[]string{"consume", "t", "-o", "5", "--from-time", "0"}, "--offset and --from-time exclude each other"},
		{[]string{"consume", "t", "--from-time", "yesterday"}, "--from-time"},
		{[]string{"consume", "t", "-f", "xml"}, `--format "xml"`},
		{[]string{"consume", "t", "-f", "json", "--format-template", "%v"}, "exclude each other"},
		{[]string{"consume", "t", "--format-template", "%q"}, "unknown directive %q"},
		{[]string{"consume", "t", "--isolation", "serializable"}, `--isolation "serializable"`},
		{[]string{"consume", "t", "-g", "g", "-p", "0"}, "--partition and --group exclude each other"},
		{[]string{"consume", "t", "-p", "0,x"}, `invalid argument "0,x"`},
		{[]string{"consume", "t", "-n", "-1"}, "--num must be >= 0"},
		{[]string{"consume", "t", "-e", "--follow"}, "--exit and --follow exclude each other"},
		{[]string{"config"}, ""}, // help, exit 0: checked below
		{[]string{"config", "get"}, `name a resource: "topic NAME" or "broker [ID]"`},
		{[]string{"config", "get", "cluster"}, `unknown resource type "cluster"`},
		{[]string{"config", "get", "topic"}, "topic needs a NAME"},
		{[]string{"config", "set", "topic", "t"}, "name at least one KEY=VALUE"},
		{[]string{"config", "set", "topic", "t", "retention.ms"}, `"retention.ms": want KEY=VALUE`},
		{[]string{"config", "set", "topic", "t", "a=1", "a=2"}, "a given twice"},
		{[]string{"config", "delete", "broker"}, "name at least one KEY"},
		{[]string{"config", "delete", "topic", "t", "a=1"}, "delete takes config names"},
		{[]string{"config", "bogus"}, `unknown command "bogus" for "chronik config"`},
		{[]string{"group", "reset"}, "accepts 1 arg(s), received 0"},
		{[]string{"group", "reset", "g"}, "--to is required"},
		{[]string{"group", "reset", "g", "--to", "middle"}, `unknown reset target "middle"`},
		{[]string{"group", "reset", "g", "--to", "offset"}, "--to offset needs --value"},
		{[]string{"group", "reset", "g", "--to", "offset", "--value", "x"}, `--value "x"`},
		{[]string{"group", "reset", "g", "--to", "timestamp"}, "--to timestamp needs --value"},
		{[]string{"group", "reset", "g", "--to", "earliest", "--value", "3"}, "--value makes no sense with --to earliest"},
		{[]string{"group", "reset", "g", "--to-datetime", "May 1st"}, "--to-datetime"},
		{[]string{"group", "reset", "g", "--to", "latest", "--to-datetime", "2024-05-01T00:00:00Z"}, "--to-datetime means --to timestamp"},
		{[]string{"group", "reset", "g", "--to", "earliest", "-p", "-1"}, "--partition must be >= 0"},
	}
	for _, tt := range tests {
		if tt.want == "" {
			continue
		}
		// An unused port: nothing may be dialled before the usage check.
		status, _, stderr := runCmd(t, context.Background(), []string{"CHRONIK_BROKERS=127.0.0.1:1"}, tt.args...)
		if status != exitUsage || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: status %d, stderr %q; want status %d mentioning %q", tt.args, status, stderr, exitUsage, tt.want)
		}
	}
}

// TestCLIHelp: every command has --help with examples; the root's help
// documents the exit statuses.
func TestCLIHelp(t *testing.T) {
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		n++
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" || c.HasParent() && c.Parent().Name() == "completion" {
			return
		}
		path := strings.Fields(c.CommandPath())[1:]
		status, out, stderr := runCmd(t, context.Background(), nil, append(path, "--help")...)
		if status != 0 || !strings.Contains(out, "Examples:") {
			t.Errorf("%s --help: status %d, no examples in:\n%s%s", c.CommandPath(), status, out, stderr)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd(nil))
	if n < 20 {
		t.Errorf("walked %d commands", n)
	}

	_, out, _ := runCmd(t, context.Background(), nil, "--help")
	for _, w := range []string{"Exit status", "0  success", "1  the broker refused", "2  usage error"} {
		if !strings.Contains(out, w) {
			t.Errorf("root help lacks %q", w)
		}
	}
	if status, out, _ := runCmd(t, context.Background(), nil, "config"); status != 0 || !strings.Contains(out, "chronik config get topic orders") {
		t.Errorf("config without a subcommand: status %d, output %q", status, out)
	}
}

func TestCLIParseOffsetSpec(t *testing.T) {
	for in, want := range map[string]startSpec{
		"earliest": {kind: "earliest"}, "beginning": {kind: "earliest"}, "start": {kind: "earliest"},
		"latest": {kind: "latest"}, "end": {kind: "latest"},
		"42": {kind: "exact", n: 42}, "0": {kind: "exact"},
		"-2": {kind: "fromEnd", n: 2}, "+3": {kind: "fromStart", n: 3},
	} {
		got, err := parseOffsetSpec(in)
		if err != nil || got != want {
			t.Errorf("parseOffsetSpec(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "-", "+", "--1", "+-1", "1.5"} {
		if _, err := parseOffsetSpec(bad); err == nil {
			t.Errorf("parseOffsetSpec(%q) succeeded", bad)
		}
	}
	if ms, err := parseTime("2024-05-01T12:00:00.5Z"); err != nil || ms != time.Date(2024, 5, 1, 12, 0, 0, 5e8, time.UTC).UnixMilli() {
		t.Errorf("parseTime RFC 3339 = %d, %v", ms, err)
	}
	if ms, err := parseTime("1714564800000"); err != nil || ms != 1714564800000 {
		t.Errorf("parseTime ms = %d, %v", ms, err)
	}
}

func TestCLIUnescapeAndSplit(t *testing.T) {
	for in, want := range map[string]string{`\n`: "\n", `\r\n`: "\r\n", `\0`: "\x00", `a\tb`: "a\tb", `\\`: `\`, `\x1e`: "\x1e", "::": "::"} {
		if got, err := unescape(in); err != nil || got != want {
			t.Errorf("unescape(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{`\`, `\x1`, `\xzz`, `\u0041`} {
		if _, err := unescape(bad); err == nil {
			t.Errorf("unescape(%q) succeeded", bad)
		}
	}
	sc := bufio.NewScanner(strings.NewReader("a||b||||c||"))
	sc.Split(splitOn([]byte("||")))
	var got []string
	for sc.Scan() {
		got = append(got, sc.Text())
	}
	if strings.Join(got, ",") != "a,b,,c" {
		t.Errorf("split %q", got)
	}
}

func TestCLIFormats(t *testing.T) {
	r := &kgo.Record{
		Topic: "t", Partition: 2, Offset: 7,
		Timestamp: time.Date(2024, 5, 1, 12, 0, 0, 123e6, time.FixedZone("CEST", 2*3600)),
		Key:       []byte{0xff, 0x00},
		Value:     []byte(`{"a":"<b>"}`),
		Headers:   []kgo.RecordHeader{{Key: "h", Value: []byte("v")}, {Key: "bin", Value: []byte{0x80}}, {Key: "null"}},
	}
	format := func(f recordFormatter, r *kgo.Record) string {
		var b bytes.Buffer
		w := bufio.NewWriter(&b)
		if err := f(w, r); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		return b.String()
	}
	want := `{"topic":"t","partition":2,"offset":7,"timestamp":"2024-05-01T10:00:00.123Z","key":"/wA=","key_encoding":"base64","value":"{\"a\":\"<b>\"}",` +
		`"headers":[{"key":"h","value":"v"},{"key":"bin","value":"gA==","value_encoding":"base64"},{"key":"null","value":null}]}` + "\n"
	if got := format(jsonFormatter, r); got != want {
		t.Errorf("json:\n got %s\nwant %s", got, want)
	}
	tomb := &kgo.Record{Topic: "t", Key: []byte("k"), Timestamp: time.UnixMilli(0)}
	if got := format(jsonFormatter, tomb); !strings.Contains(got, `"key":"k","value":null,"headers":[]`) {
		t.Errorf("json of a tombstone: %s", got)
	}
	f, err := newFormatter("value", `%t/%p/%o %T %k=%v %K %V [%h] 100%%\n`)
	if err != nil {
		t.Fatal(err)
	}
	r.Key = []byte("key")
	if got, want := format(f, r), "t/2/7 1714557600123 key={\"a\":\"<b>\"} 3 11 [h=v,bin=\x80,null=] 100%\n"; got != want {
		t.Errorf("template: %q, want %q", got, want)
	}
	if got := format(f, tomb); got != "t/0/0 0 k= 1 -1 [] 100%\n" {
		t.Errorf("template of a tombstone: %q", got)
	}
	hexf, _ := newFormatter("hex", "")
	if got := format(hexf, r); got != hexString(r.Value)+"\n" {
		t.Errorf("hex: %q", got)
	}
	valuef, _ := newFormatter("value", "")
	if got := format(valuef, r); got != string(r.Value)+"\n" {
		t.Errorf("value: %q", got)
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	var s strings.Builder
	for _, c := range b {
		s.WriteByte(digits[c>>4])
		s.WriteByte(digits[c&15])
	}
	return s.String()
}
