package test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := cliCommand(t, args...).CombinedOutput()
	return string(out), err
}

// cliCommand is the chronik binary with args. Under -race it is built with
// the race detector, which sleeps a second at exit by default: not here.
func cliCommand(t *testing.T, args ...string) *exec.Cmd {
	cmd := exec.Command(chronikBinary(t), args...)
	gorace := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	cmd.Env = append(os.Environ(), "GORACE="+gorace)
	return cmd
}

// TestCLIAgainstBroker drives the chronik CLI against a real broker: topic
// admin, and a group's lag as kafka-consumer-groups --describe shows it.
func TestCLIAgainstBroker(t *testing.T) {
	skipIfShort(t)
	tb := startBroker(t, "", fastGroups)
	b := "--brokers=" + tb.addr
	if out, err := runCLI(t, "topic", "create", "clitopic", "-p", "2", "-c", "retention.ms=3600000", b); err != nil {
		t.Fatalf("topic create: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "topic", "create", "clitopic", b); err == nil || !strings.Contains(out, "TOPIC_ALREADY_EXISTS") {
		t.Fatalf("duplicate create: %v\n%s", err, out)
	}
	produceN(t, tb.client(kgo.RecordPartitioner(kgo.ManualPartitioner())), "clitopic", 2, 10)
	out, err := runCLI(t, "topic", "describe", "clitopic", b)
	if err != nil || !strings.Contains(out, "retention.ms") || !strings.Contains(out, "3600000") {
		t.Fatalf("topic describe: %v\n%s", err, out)
	}

	// Commit 7 of 10 on partition 0 and all of partition 1: lag 3 and 0.
	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: "clitopic", Partition: 0, At: 7, LeaderEpoch: -1})
	os.Add(kadm.Offset{Topic: "clitopic", Partition: 1, At: 10, LeaderEpoch: -1})
	if _, err := tb.admin().CommitOffsets(testContext(t), "cligroup", os); err != nil {
		t.Fatal(err)
	}
	out, err = runCLI(t, "group", "list", b)
	if err != nil || !strings.Contains(out, "cligroup") || !strings.Contains(out, "Empty") {
		t.Fatalf("group list: %v\n%s", err, out)
	}
	out, err = runCLI(t, "group", "describe", "cligroup", b)
	if err != nil {
		t.Fatalf("group describe: %v\n%s", err, out)
	}
	rows := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 6 && f[0] == "cligroup" && f[1] == "clitopic" {
			rows[strings.Join(f[2:6], " ")] = true
		}
	}
	if !rows["0 7 10 3"] || !rows["1 10 10 0"] {
		t.Fatalf("lag rows %v in:\n%s", rows, out)
	}
	// The broker computes the same lag over HTTP.
	resp, err := http.Get("http://" + tb.b.HTTPAddr() + "/api/v1/groups/cligroup/lag")
	if err != nil {
		t.Fatal(err)
	}
	var lagResp struct {
		Total      int64 `json:"total_lag"`
		Partitions []struct {
			Partition int32 `json:"partition"`
			Lag       int64 `json:"lag"`
		} `json:"partitions"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&lagResp); err != nil || resp.StatusCode != 200 || lagResp.Total != 3 || len(lagResp.Partitions) != 2 {
		t.Fatalf("GET lag: %d %v %+v", resp.StatusCode, err, lagResp)
	}
	resp.Body.Close()
	if resp, _ := http.Get("http://" + tb.b.HTTPAddr() + "/api/v1/groups/nope/lag"); resp.StatusCode != 404 {
		t.Fatalf("lag of an unknown group: %d", resp.StatusCode)
	}
	if out, err := runCLI(t, "group", "delete", "cligroup", b); err != nil {
		t.Fatalf("group delete: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "topic", "delete", "clitopic", b); err != nil {
		t.Fatalf("topic delete: %v\n%s", err, out)
	}
}

// TestCLISearch: chronik search finds records with a readable table, JSON
// or plain values, and says why when the broker refuses the query.
func TestCLISearch(t *testing.T) {
	skipIfShort(t)
	tb := startBroker(t, "", nil)
	a := "--admin-url=http://" + tb.b.HTTPAddr()
	createTopic(t, tb.admin(), "clis", 1, searchOn)
	cl := tb.client(kgo.DefaultProduceTopic("clis"))
	for _, v := range []string{`{"level":"error","msg":"disk full"}`, `{"level":"info","msg":"all good"}`, "plain error line"} {
		if err := cl.ProduceSync(testContext(t), &kgo.Record{Key: []byte("k"), Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	waitSearchable(t, tb.b.HTTPAddr(), "clis", 3)
	out, err := runCLI(t, "search", "clis", "level:error OR line", a, "--sort", "offset")
	if err != nil || !strings.Contains(out, "OFFSET") || !strings.Contains(out, "disk full") ||
		!strings.Contains(out, "plain [error] [line]") || !strings.Contains(out, `"level":"[error]"`) || !strings.Contains(out, "2 of 2 hits") {
		t.Fatalf("search table: %v\n%s", err, out)
	}
	out, err = runCLI(t, "search", "clis", "good", a, "-o", "values")
	if err != nil || strings.TrimSpace(out) != `{"level":"info","msg":"all good"}` {
		t.Fatalf("search values: %v\n%s", err, out)
	}
	out, err = runCLI(t, "search", "*", "disk", a, "-o", "json")
	var res struct{ Total int }
	if err != nil || json.Unmarshal([]byte(out), &res) != nil || res.Total != 1 {
		t.Fatalf("search json: %v\n%s", err, out)
	}
	out, err = runCLI(t, "search", "clis", "level:(error", a)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(out, "position") {
		t.Fatalf("bad query: %v\n%s", err, out)
	}
}

// cli runs the chronik binary with stdin and returns its stdout, stderr and
// exit status.
func cli(t *testing.T, stdin string, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	cmd := cliCommand(t, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		status = ee.ExitCode()
	case err != nil:
		t.Fatalf("chronik %v: %v", args, err)
	}
	return out.String(), errb.String(), status
}

// mustCLI runs the binary and fails the test unless it exits with want.
func mustCLI(t *testing.T, want int, stdin string, args ...string) (stdout, stderr string) {
	t.Helper()
	stdout, stderr, status := cli(t, stdin, args...)
	if status != want {
		t.Fatalf("chronik %v: status %d, want %d\nstdout:\n%s\nstderr:\n%s", args, status, want, stdout, stderr)
	}
	return stdout, stderr
}

// sortedLines splits output into its lines, sorted.
func sortedLines(s string) []string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return nil
	}
	sort.Strings(lines)
	return lines
}

// TestCLIProduceConsume: records produced from a file (key delimiter,
// headers, a binary value) come back from consume exactly, as JSON, values,
// hex and templates.
func TestCLIProduceConsume(t *testing.T) {
	skipIfShort(t)
	tb := startBroker(t, "", nil)
	b := "--brokers=" + tb.addr
	createTopic(t, tb.admin(), "pc", 3, nil)

	file := filepath.Join(t.TempDir(), "records.txt")
	// Split at the first ":"; no ":" means no key; an empty line is an
	// empty value; the final newline does not start another record.
	input := "k1:v1\nk2:hello, world\nplain line\n:empty key\nk3:\nk4:a:b\n\n"
	if err := os.WriteFile(file, []byte(input), 0o644); err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(-time.Second)
	_, stderr := mustCLI(t, 0, "", "produce", "pc", "--file", file, "--key-delim", ":", "-H", "source=cli", "-H", "n=1", "-p", "1", "--progress", "--compression", "zstd", b)
	if !strings.Contains(stderr, "produced 7 records to pc\n") || !strings.Contains(stderr, "\r[") || !strings.Contains(stderr, "100%") {
		t.Fatalf("produce stderr lacks the progress bar or the summary:\n%q", stderr)
	}
	after := time.Now().Add(time.Second)

	out, _ := mustCLI(t, 0, "", "consume", "pc", "-p", "1", "-f", "json", "-n", "7", b)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	kv := []struct{ key, value string }{{`"k1"`, `"v1"`}, {`"k2"`, `"hello, world"`}, {`null`, `"plain line"`}, {`""`, `"empty key"`}, {`"k3"`, `""`}, {`"k4"`, `"a:b"`}, {`null`, `""`}}
	if len(lines) != len(kv) {
		t.Fatalf("consumed %d records, want %d:\n%s", len(lines), len(kv), out)
	}
	for i, line := range lines {
		var rec struct{ Timestamp string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("line %d: %v: %s", i, err, line)
		}
		ts, err := time.Parse(time.RFC3339Nano, rec.Timestamp)
		if err != nil || ts.Before(before) || ts.After(after) {
			t.Errorf("line %d: timestamp %q (%v) not between %v and %v", i, rec.Timestamp, err, before, after)
		}
		want := fmt.Sprintf(`{"topic":"pc","partition":1,"offset":%d,"timestamp":"%s","key":%s,"value":%s,"headers":[{"key":"source","value":"cli"},{"key":"n","value":"1"}]}`,
			i, rec.Timestamp, kv[i].key, kv[i].value)
		if line != want {
			t.Errorf("record %d:\n got %s\nwant %s", i, line, want)
		}
	}

	// A fixed key from stdin, records split at NUL, a binary value.
	_, stderr = mustCLI(t, 0, "one\x00\xff\xfe\x00three", "produce", "pc", "-k", "same", "--delim", `\0`, "--acks", "1", "--compression", "gzip", b)
	if !strings.Contains(stderr, "produced 3 records to pc") {
		t.Fatalf("produce stderr: %q", stderr)
	}
	out, _ = mustCLI(t, 0, "", "consume", "pc", "-e", "-f", "json", b)
	var bin []map[string]any
	partitions := map[float64]bool{}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		if m["key"] == "same" {
			bin = append(bin, m)
			partitions[m["partition"].(float64)] = true
		}
	}
	if len(bin) != 3 || len(partitions) != 1 {
		t.Fatalf("want 3 records with key same in one partition, got %v", bin)
	}
	if bin[0]["value"] != "one" || bin[1]["value"] != "//4=" || bin[1]["value_encoding"] != "base64" || bin[2]["value"] != "three" {
		t.Errorf("values: %v", bin)
	}
	if _, ok := bin[0]["value_encoding"]; ok {
		t.Errorf("a UTF-8 value has an encoding: %v", bin[0])
	}
	out, _ = mustCLI(t, 0, "", "consume", "pc", "-e", "-p", "1", "--format-template", `%p/%o %k=%v [%h]\n`, "-n", "2", b)
	if out != "1/0 k1=v1 [source=cli,n=1]\n1/1 k2=hello, world [source=cli,n=1]\n" {
		t.Errorf("template output %q", out)
	}
	out, _ = mustCLI(t, 0, "", "consume", "pc", "-e", "-p", "1", "-n", "3", b)
	if out != "v1\nhello, world\nplain line\n" {
		t.Errorf("value output %q", out)
	}
	out, _ = mustCLI(t, 0, "", "consume", "pc", "-e", "-p", "1", "-o", "1", "-n", "1", "-f", "hex", b)
	if out != "68656c6c6f2c20776f726c64\n" {
		t.Errorf("hex output %q", out)
	}

	// Refusals: exit status 1 with the reason.
	_, stderr = mustCLI(t, 1, "x\n", "produce", "nope", b)
	if !strings.Contains(stderr, `topic "nope" does not exist`) {
		t.Errorf("produce to a missing topic: %q", stderr)
	}
	_, stderr = mustCLI(t, 1, "x\n", "produce", "pc", "-p", "3", b)
	if !strings.Contains(stderr, `topic "pc" has no partition 3 (it has 3 partitions)`) {
		t.Errorf("produce to a missing partition: %q", stderr)
	}
	_, stderr = mustCLI(t, 1, "", "consume", "nope", "-e", b)
	if !strings.Contains(stderr, `topic "nope" does not exist`) {
		t.Errorf("consume a missing topic: %q", stderr)
	}
	// A compacted topic refuses records without a key: every failure is
	// counted and the first is reported.
	createTopic(t, tb.admin(), "pc-compact", 1, map[string]*string{"cleanup.policy": strp("compact")})
	_, stderr = mustCLI(t, 1, "a\nb\n", "produce", "pc-compact", b)
	if !strings.Contains(stderr, "produced 0 records to pc-compact; 2 failed") || !strings.Contains(stderr, "INVALID_RECORD") {
		t.Errorf("produce without keys to a compacted topic: %q", stderr)
	}
}

// TestCLIConsumeOffsets: where consume starts (-o, --from-time), where it
// stops (-n, -e, the last stable offset) and that it follows new records.
func TestCLIConsumeOffsets(t *testing.T) {
	skipIfShort(t)
	tb := startBroker(t, "", nil)
	b := "--brokers=" + tb.addr
	createTopic(t, tb.admin(), "co", 2, nil)
	// Offsets 0-4 of each partition, one second apart from base.
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	cl := tb.client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range 5 {
		for p := range int32(2) {
			r := &kgo.Record{Topic: "co", Partition: p, Value: fmt.Appendf(nil, "p%d-%d", p, i), Timestamp: base.Add(time.Duration(i) * time.Second)}
			if err := cl.ProduceSync(testContext(t), r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	tmpl := []string{"--format-template", `%p:%o\n`}
	check := func(want string, args ...string) {
		t.Helper()
		out, _ := mustCLI(t, 0, "", append(append([]string{"consume", "co", b}, tmpl...), args...)...)
		if got := strings.Join(sortedLines(out), " "); got != want {
			t.Errorf("consume %v: %q, want %q", args, got, want)
		}
	}
	check("0:0 0:1 0:2 0:3 0:4 1:0 1:1 1:2 1:3 1:4", "-e")
	check("0:3 0:4 1:3 1:4", "-o", "-2", "-e")
	check("1:3 1:4", "-o", "3", "-p", "1", "--follow=false")
	check("0:1", "-o", "+1", "-p", "0", "-n", "1")
	check("0:4 1:4", "-o", "-1", "-e", "-p", "0,1")
	check("0:0 0:1 0:2", "-o", "-10", "-e", "-p", "0", "-n", "3")
	check("0:3 0:4 1:3 1:4", "--from-time", base.Add(3*time.Second).UTC().Format(time.RFC3339), "-e")
	check("0:4 1:4", "--from-time", fmt.Sprint(base.Add(3500*time.Millisecond).UnixMilli()), "-e")
	check("", "--from-time", time.Now().Add(time.Hour).Format(time.RFC3339), "-e")
	check("", "-o", "latest", "-e")
	out, stderr := mustCLI(t, 0, "", "consume", "co", "-o", "99", "-p", "0", "-e", b)
	if out != "" || !strings.Contains(stderr, "partition 0 holds offsets 0 to 5: starting at 5") {
		t.Errorf("offset past the end: %q %q", out, stderr)
	}

	// Without -e, consume waits for new records.
	cmd := cliCommand(t, "consume", "co", "-p", "1", "-o", "end", "-n", "1", b)
	var follow bytes.Buffer
	cmd.Stdout, cmd.Stderr = &follow, &follow
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(20 * time.Second)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
waiting:
	for {
		// Keep producing until the consumer, once it has started, sees one.
		if err := cl.ProduceSync(testContext(t), &kgo.Record{Topic: "co", Partition: 1, Value: []byte("new")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if err != nil || follow.String() != "new\n" {
				t.Fatalf("following: %v, output %q", err, follow.String())
			}
			break waiting
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("consume never printed the new record: %q", follow.String())
		case <-tick.C:
		}
	}

	// Transactions: -e reaches the end past commit and abort markers;
	// read_committed hides the aborted records and the open transaction.
	createTopic(t, tb.admin(), "co-txn", 1, nil)
	txn := txnProducer(t, tb.addr, "co-txn", "co-txn")
	produceTxn(t, txn, 1, true, "c1", "c2")
	produceTxn(t, txn, 1, false, "a1")
	produceTxn(t, txn, 1, true, "c3")
	if err := txn.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := txn.ProduceSync(testContext(t), &kgo.Record{Value: []byte("open")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	out, _ = mustCLI(t, 0, "", "consume", "co-txn", "-e", "--isolation", "read_committed", b)
	if out != "c1\nc2\nc3\n" {
		t.Errorf("read_committed: %q", out)
	}
	out, _ = mustCLI(t, 0, "", "consume", "co-txn", "-e", b)
	if out != "c1\nc2\na1\nc3\nopen\n" {
		t.Errorf("read_uncommitted: %q", out)
	}
	if err := txn.EndTransaction(testContext(t), kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
}

// TestCLIConsumeInterrupt: Ctrl-C stops a following consume with status 0,
// and a group member commits what it printed.
func TestCLIConsumeInterrupt(t *testing.T) {
	skipIfShort(t)
	tb := startBroker(t, "", fastGroups)
	b := "--brokers=" + tb.addr
	createTopic(t, tb.admin(), "ci", 1, nil)
	produceN(t, tb.client(kgo.RecordPartitioner(kgo.ManualPartitioner())), "ci", 1, 5)

	// -n 2 as a group member commits offset 2; -e goes on from there.
	out, _ := mustCLI(t, 0, "", "consume", "ci", "-g", "cig", "-n", "2", b)
	if out != "0-0\n0-1\n" {
		t.Fatalf("group consume -n 2: %q", out)
	}
	committed := func() int64 {
		t.Helper()
		offs, err := tb.admin().FetchOffsets(testContext(t), "cig")
		if err != nil {
			t.Fatal(err)
		}
		o, _ := offs.Lookup("ci", 0)
		return o.At
	}
	if got := committed(); got != 2 {
		t.Fatalf("committed %d after -n 2, want 2", got)
	}
	out, _ = mustCLI(t, 0, "", "consume", "ci", "-g", "cig", "-e", b)
	if out != "0-2\n0-3\n0-4\n" {
		t.Fatalf("group consume -e: %q", out)
	}
	if got := committed(); got != 5 {
		t.Fatalf("committed %d after -e, want 5", got)
	}

	cmd := cliCommand(t, "consume", "ci", "-f", "json", b)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	for i := range 5 {
		if !sc.Scan() {
			cmd.Process.Kill()
			t.Fatalf("consume printed %d records, then: %v %s", i, sc.Err(), stderr.String())
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for sc.Scan() {
		}
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("consume after SIGINT: %v, stderr %q", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("consume did not exit after SIGINT")
	}
}

// TestCLIConfig: config set shows up in get as dynamic, an invalid value
// is refused with the broker's reason and changes nothing, delete returns
// to the default; broker configs are read-only.
func TestCLIConfig(t *testing.T) {
	skipIfShort(t)
	tb := startBroker(t, "", nil)
	b := "--brokers=" + tb.addr
	createTopic(t, tb.admin(), "cfg", 1, nil)
	row := func(out, key string) string {
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) > 0 && f[0] == key {
				return strings.Join(f, " ")
			}
		}
		return ""
	}

	out, _ := mustCLI(t, 0, "", "config", "get", "topic", "cfg", b)
	if !strings.HasPrefix(out, "CONFIG") || !strings.Contains(out, "SOURCE") || row(out, "retention.ms") != "retention.ms 604800000 default no no" {
		t.Fatalf("config get:\n%s", out)
	}
	out, _ = mustCLI(t, 0, "", "config", "set", "topic", "cfg", "retention.ms=3600000", "cleanup.policy=compact", b)
	if out != "Set retention.ms=3600000 on topic cfg.\nSet cleanup.policy=compact on topic cfg.\n" {
		t.Errorf("config set output %q", out)
	}
	out, _ = mustCLI(t, 0, "", "config", "get", "topic", "cfg", "retention.ms", "cleanup.policy", b)
	if got := sortedLines(out); len(got) != 3 || row(out, "retention.ms") != "retention.ms 3600000 dynamic_topic no no" ||
		row(out, "cleanup.policy") != "cleanup.policy compact dynamic_topic no no" {
		t.Errorf("config get after set:\n%s", out)
	}

	// Invalid: nothing changes, not even the valid key of the request.
	_, stderr := mustCLI(t, 1, "", "config", "set", "topic", "cfg", "segment.bytes=2000000", "retention.ms=soon", b)
	if !strings.Contains(stderr, "INVALID_CONFIG") || !strings.Contains(stderr, `invalid value "soon" for retention.ms`) {
		t.Errorf("invalid config: %q", stderr)
	}
	out, _ = mustCLI(t, 0, "", "config", "get", "topic", "cfg", b)
	if row(out, "retention.ms") != "retention.ms 3600000 dynamic_topic no no" || !strings.HasSuffix(row(out, "segment.bytes"), " default no no") {
		t.Errorf("an invalid set changed configs:\n%s", out)
	}
	_, stderr = mustCLI(t, 1, "", "config", "set", "topic", "cfg", "no.such.config=1", "--dry-run", b)
	if !strings.Contains(stderr, "INVALID_CONFIG") || !strings.Contains(stderr, "no.such.config") {
		t.Errorf("unknown config: %q", stderr)
	}
	out, _ = mustCLI(t, 0, "", "config", "set", "topic", "cfg", "retention.ms=1000", "--dry-run", b)
	if !strings.Contains(out, "dry run") {
		t.Errorf("dry run output %q", out)
	}
	rcs, err := tb.admin().DescribeTopicConfigs(testContext(t), "cfg")
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := rcs.On("cfg", nil)
	for _, c := range rc.Configs {
		if c.Key == "retention.ms" && c.MaybeValue() != "3600000" {
			t.Errorf("retention.ms is %s after a dry run", c.MaybeValue())
		}
	}

	out, _ = mustCLI(t, 0, "", "config", "delete", "topic", "cfg", "retention.ms", b)
	if !strings.Contains(out, "Deleted retention.ms from topic cfg") {
		t.Errorf("config delete output %q", out)
	}
	out, _ = mustCLI(t, 0, "", "config", "get", "topic", "cfg", "retention.ms", b)
	if row(out, "retention.ms") != "retention.ms 604800000 default no no" {
		t.Errorf("config get after delete:\n%s", out)
	}
	_, stderr = mustCLI(t, 1, "", "config", "get", "topic", "cfg", "retention.ms", "nope.ms", b)
	if !strings.Contains(stderr, "topic cfg has no config nope.ms") {
		t.Errorf("unknown key: %q", stderr)
	}
	_, stderr = mustCLI(t, 1, "", "config", "get", "topic", "missing", b)
	if !strings.Contains(stderr, `topic "missing" does not exist`) {
		t.Errorf("missing topic: %q", stderr)
	}
	_, stderr = mustCLI(t, 1, "", "config", "set", "topic", "missing", "retention.ms=1", b)
	if !strings.Contains(stderr, `topic "missing" does not exist`) {
		t.Errorf("set on a missing topic: %q", stderr)
	}

	// Broker configs: the one broker by default; the defaults of topic
	// configs change live, the others are read-only.
	id := fmt.Sprint(tb.cfg.Server.NodeID)
	out, _ = mustCLI(t, 0, "", "config", "get", "broker", b)
	if row(out, "broker.id") != "broker.id "+id+" default yes no" {
		t.Errorf("config get broker:\n%s", out)
	}
	out, _ = mustCLI(t, 0, "", "config", "get", "broker", id, "log.dirs", b)
	if row(out, "log.dirs") != "log.dirs "+tb.cfg.Server.DataDir+" static_broker yes no" {
		t.Errorf("config get broker %s log.dirs:\n%s", id, out)
	}
	out, _ = mustCLI(t, 0, "", "config", "set", "broker", "log.retention.ms=3600000", b)
	if out != "Set log.retention.ms=3600000 on broker "+id+".\n" {
		t.Errorf("config set broker output %q", out)
	}
	out, _ = mustCLI(t, 0, "", "config", "get", "broker", id, "log.retention.ms", b)
	if row(out, "log.retention.ms") != "log.retention.ms 3600000 dynamic_broker no no" {
		t.Errorf("config get broker after set:\n%s", out)
	}
	mustCLI(t, 0, "", "config", "delete", "broker", "log.retention.ms", b)
	out, _ = mustCLI(t, 0, "", "config", "get", "broker", "log.retention.ms", b)
	if row(out, "log.retention.ms") != "log.retention.ms 604800000 default no no" {
		t.Errorf("config get broker after delete:\n%s", out)
	}
	_, stderr = mustCLI(t, 1, "", "config", "set", "broker", "log.dirs=/elsewhere", b)
	if !strings.Contains(stderr, "cannot change the configs of broker "+id) || !strings.Contains(stderr, "log.dirs") {
		t.Errorf("config set broker log.dirs: %q", stderr)
	}
}

// TestCLIGroupReset: group reset moves an inactive group's committed
// offsets (checked with OffsetFetch), prints old and new, and refuses an
// active group.
func TestCLIGroupReset(t *testing.T) {
	skipIfShort(t)
	tb := startBroker(t, "", fastGroups)
	b := "--brokers=" + tb.addr
	adm := tb.admin()
	createTopic(t, adm, "rs", 2, nil)
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	cl := tb.client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range 10 {
		for p := range int32(2) {
			r := &kgo.Record{Topic: "rs", Partition: p, Value: []byte("v"), Timestamp: base.Add(time.Duration(i) * time.Second)}
			if err := cl.ProduceSync(testContext(t), r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: "rs", Partition: 0, At: 7, LeaderEpoch: -1})
	os.Add(kadm.Offset{Topic: "rs", Partition: 1, At: 10, LeaderEpoch: -1})
	if _, err := adm.CommitOffsets(testContext(t), "rg", os); err != nil {
		t.Fatal(err)
	}
	committed := func() string {
		t.Helper()
		got, err := adm.FetchOffsets(testContext(t), "rg")
		if err != nil {
			t.Fatal(err)
		}
		o0, _ := got.Lookup("rs", 0)
		o1, _ := got.Lookup("rs", 1)
		return fmt.Sprintf("%d %d", o0.At, o1.At)
	}
	table := func(out string) string {
		var rows []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			rows = append(rows, strings.Join(strings.Fields(line), " "))
		}
		return strings.Join(rows, "; ")
	}

	out, stderr := mustCLI(t, 0, "", "group", "reset", "rg", "--to", "earliest", "--dry-run", b)
	if table(out) != "TOPIC PARTITION OLD NEW; rs 0 7 0; rs 1 10 0" || !strings.Contains(stderr, "Dry run") || committed() != "7 10" {
		t.Fatalf("dry run: %q %q, committed %s", out, stderr, committed())
	}
	out, _ = mustCLI(t, 0, "", "group", "reset", "rg", "--to", "earliest", b)
	if table(out) != "TOPIC PARTITION OLD NEW; rs 0 7 0; rs 1 10 0" || committed() != "0 0" {
		t.Fatalf("to earliest: %q, committed %s", out, committed())
	}
	out, _ = mustCLI(t, 0, "", "group", "reset", "rg", "--to", "offset", "--value", "4", "--topic", "rs", "--partition", "1", b)
	if table(out) != "TOPIC PARTITION OLD NEW; rs 1 0 4" || committed() != "0 4" {
		t.Fatalf("to offset 4 on partition 1: %q, committed %s", out, committed())
	}
	out, _ = mustCLI(t, 0, "", "group", "reset", "rg", "--to-datetime", base.Add(6*time.Second).UTC().Format(time.RFC3339), b)
	if table(out) != "TOPIC PARTITION OLD NEW; rs 0 0 6; rs 1 4 6" || committed() != "6 6" {
		t.Fatalf("to datetime: %q, committed %s", out, committed())
	}
	out, _ = mustCLI(t, 0, "", "group", "reset", "rg", "--to", "timestamp", "--value", fmt.Sprint(base.Add(2*time.Second).UnixMilli()), "-p", "0", b)
	if table(out) != "TOPIC PARTITION OLD NEW; rs 0 6 2" || committed() != "2 6" {
		t.Fatalf("to timestamp on partition 0: %q, committed %s", out, committed())
	}
	out, _ = mustCLI(t, 0, "", "group", "reset", "rg", "--to", "latest", "-t", "rs", b)
	if table(out) != "TOPIC PARTITION OLD NEW; rs 0 2 10; rs 1 6 10" || committed() != "10 10" {
		t.Fatalf("to latest: %q, committed %s", out, committed())
	}
	_, stderr = mustCLI(t, 1, "", "group", "reset", "rg", "--to", "earliest", "--topic", "nope", b)
	if !strings.Contains(stderr, "unknown topic") {
		t.Errorf("unknown topic: %q", stderr)
	}
	_, stderr = mustCLI(t, 1, "", "group", "reset", "never-seen", "--to", "earliest", "--topic", "rs", b)
	if !strings.Contains(stderr, `cannot reset the offsets of group "never-seen": the group does not exist`) {
		t.Errorf("unknown group: %q", stderr)
	}

	// An active group is refused and keeps its offsets.
	m := newGroupMember(t, tb.addr, "rg", "rs")
	waitFor(t, 30*time.Second, "the member to join", func() bool {
		dg, err := adm.DescribeGroups(context.Background(), "rg")
		return err == nil && dg["rg"].State == "Stable"
	})
	_, stderr = mustCLI(t, 1, "", "group", "reset", "rg", "--to", "earliest", b)
	if !strings.Contains(stderr, "group is active") || !strings.Contains(stderr, "stop its consumers first") {
		t.Errorf("active group: %q", stderr)
	}
	if got := committed(); got != "10 10" {
		t.Errorf("refused reset moved the offsets to %s", got)
	}
	m.cl.Close()
}

// TestCLIExitCodes: the statuses scripts rely on, from the binary: 2 for
// usage errors, 1 when no broker answers.
func TestCLIExitCodes(t *testing.T) {
	skipIfShort(t)
	for _, args := range [][]string{
		{"produce"},
		{"produce", "t", "--acks", "2"},
		{"consume", "t", "-o", "soon"},
		{"consume", "t", "--no-such-flag"},
		{"config", "get", "cluster"},
		{"config", "set", "topic", "t", "novalue"},
		{"group", "reset", "g"},
		{"group", "reset", "g", "--to", "offset"},
	} {
		if _, stderr, status := cli(t, "", args...); status != 2 || !strings.Contains(stderr, "--help' for usage") {
			t.Errorf("%v: status %d, stderr %q; want 2", args, status, stderr)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	for _, args := range [][]string{
		{"produce", "t"},
		{"consume", "t"},
		{"config", "get", "topic", "t"},
		{"group", "reset", "g", "--to", "earliest"},
	} {
		args = append(args, "--brokers", dead, "--timeout", "2s")
		if _, stderr, status := cli(t, "x\n", args...); status != 1 || !strings.Contains(stderr, "is a broker running at "+dead) {
			t.Errorf("%v: status %d, stderr %q; want 1", args, status, stderr)
		}
	}
}
