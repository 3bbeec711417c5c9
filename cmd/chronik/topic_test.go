package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestTopicCommandsBroker runs the topic commands against a running Chronik
// broker: CHRONIK_TEST_BROKER=localhost:9092 go test ./cmd/chronik -run Broker
func TestTopicCommandsBroker(t *testing.T) {
	addr := os.Getenv("CHRONIK_TEST_BROKER")
	if addr == "" {
		t.Skip("set CHRONIK_TEST_BROKER=host:port to test against a running broker")
	}
	topicScenario(t, addr)
}

// TestTopicCommandsKfake runs the same scenario against franz-go's in-process
// fake cluster, so the commands are covered without a broker.
func TestTopicCommandsKfake(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	topicScenario(t, c.ListenAddrs()[0])
}

func topicScenario(t *testing.T, addr string) {
	ctx := context.Background()
	topic := fmt.Sprintf("chronik-cli-test-%d", time.Now().UnixNano())
	topicCmd := func(args ...string) (int, string, string) {
		t.Helper()
		return runCmd(t, ctx, []string{"CHRONIK_BROKERS=" + addr}, append([]string{"topic"}, args...)...)
	}
	mustRun := func(args ...string) string {
		t.Helper()
		status, out, stderr := topicCmd(args...)
		if status != 0 {
			t.Fatalf("topic %v: status %d, stderr:\n%s", args, status, stderr)
		}
		return out
	}
	mustFail := func(want string, args ...string) {
		t.Helper()
		status, _, stderr := topicCmd(args...)
		if status != exitError || !strings.Contains(stderr, want) {
			t.Errorf("topic %v: status %d, stderr %q; want status %d mentioning %q", args, status, stderr, exitError, want)
		}
	}

	// create
	out := mustRun("create", topic, "-p", "3", "-r", "1", "-c", "retention.ms=3600000")
	if want := fmt.Sprintf("Created topic %s (partitions: 3, replication factor: 1).\n", topic); out != want {
		t.Errorf("create output %q, want %q", out, want)
	}
	mustFail("TOPIC_ALREADY_EXISTS", "create", topic)

	// list
	out = mustRun("list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if got := strings.Fields(lines[0]); strings.Join(got, " ") != "TOPIC PARTITIONS REPLICATION" {
		t.Errorf("list header %q", lines[0])
	}
	if !hasRow(lines, topic, "3", "1") {
		t.Errorf("list output lacks %s with 3 partitions, replication 1:\n%s", topic, out)
	}

	// produce 5 records to partition 1 so the end offset moves
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		r := &kgo.Record{Topic: topic, Partition: 1, Value: fmt.Appendf(nil, "v%d", i)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	cl.Close()

	// describe
	out = mustRun("describe", topic)
	for _, w := range []string{"Topic:", topic, "Partitions:", "Replication factor:", "PARTITION", "LEADER", "REPLICAS", "ISR", "START", "END", "CONFIG", "VALUE", "SOURCE"} {
		if !strings.Contains(out, w) {
			t.Errorf("describe output lacks %q:\n%s", w, out)
		}
	}
	lines = strings.Split(out, "\n")
	for p, end := range []string{"0", "5", "0"} {
		// PARTITION LEADER EPOCH REPLICAS ISR START END
		if !hasRowPrefix(lines, fmt.Sprint(p)) || !hasRowCol(lines, fmt.Sprint(p), 6, end) || !hasRowCol(lines, fmt.Sprint(p), 5, "0") {
			t.Errorf("describe: partition %d should have start 0 and end %s:\n%s", p, end, out)
		}
	}
	if !hasRow(lines, "retention.ms", "3600000") {
		t.Errorf("describe output lacks config retention.ms=3600000:\n%s", out)
	}
	mustFail("does not exist", "describe", topic+"-missing")

	// delete
	if out = mustRun("delete", topic); out != fmt.Sprintf("Deleted topic %s.\n", topic) {
		t.Errorf("delete output %q", out)
	}
	mustFail("UNKNOWN_TOPIC_OR_PARTITION", "delete", topic)
	deadline := time.Now().Add(5 * time.Second)
	for {
		out = mustRun("list")
		if !hasRowPrefix(strings.Split(out, "\n"), topic) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic still listed after delete:\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// hasRow reports whether a table row starts with the given cells.
func hasRow(lines []string, cells ...string) bool {
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) >= len(cells) && strings.Join(f[:len(cells)], " ") == strings.Join(cells, " ") {
			return true
		}
	}
	return false
}

func hasRowPrefix(lines []string, first string) bool { return hasRow(lines, first) }

// hasRowCol reports whether the row starting with first has want in column col.
func hasRowCol(lines []string, first string, col int, want string) bool {
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) > col && f[0] == first && f[col] == want {
			return true
		}
	}
	return false
}

func TestTopicUnreachableBroker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there any more

	start := time.Now()
	status, _, stderr := runCmd(t, context.Background(), nil, "topic", "list", "--brokers", addr, "--timeout", "5s")
	if status != exitError || !strings.Contains(stderr, "is a broker running at "+addr) {
		t.Errorf("status %d, stderr %q", status, stderr)
	}
	if d := time.Since(start); d > 6*time.Second {
		t.Errorf("took %v, want at most the 5s timeout", d)
	}
}

func TestParseTopicConfigs(t *testing.T) {
	m, err := parseTopicConfigs([]string{"cleanup.policy=compact,delete", "retention.ms=-1", "empty="})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"cleanup.policy": "compact,delete", "retention.ms": "-1", "empty": ""}
	if len(m) != len(want) {
		t.Fatalf("got %d configs, want %d", len(m), len(want))
	}
	for k, v := range want {
		if m[k] == nil || *m[k] != v {
			t.Errorf("%s = %v, want %q", k, m[k], v)
		}
	}
	if m, err := parseTopicConfigs(nil); m != nil || err != nil {
		t.Errorf("parseTopicConfigs(nil) = %v, %v", m, err)
	}
}
