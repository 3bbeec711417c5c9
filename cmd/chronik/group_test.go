package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestGroupCommandsBroker runs the group commands against a running Chronik
// broker: CHRONIK_TEST_BROKER=localhost:9092 go test ./cmd/chronik -run Broker
func TestGroupCommandsBroker(t *testing.T) {
	addr := os.Getenv("CHRONIK_TEST_BROKER")
	if addr == "" {
		t.Skip("set CHRONIK_TEST_BROKER=host:port to test against a running broker")
	}
	groupScenario(t, addr)
}

// TestGroupCommandsKfake runs the scenario against franz-go's in-process fake
// cluster, which implements consumer groups.
func TestGroupCommandsKfake(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	groupScenario(t, c.ListenAddrs()[0])
}

func groupScenario(t *testing.T, addr string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	suffix := time.Now().UnixNano()
	topic := fmt.Sprintf("chronik-group-test-%d", suffix)
	group := fmt.Sprintf("chronik-group-test-%d", suffix)

	groupCmd := func(args ...string) (int, string, string) {
		t.Helper()
		return runCmd(t, ctx, []string{"CHRONIK_BROKERS=" + addr}, append([]string{"group"}, args...)...)
	}
	mustRun := func(args ...string) string {
		t.Helper()
		status, out, stderr := groupCmd(args...)
		if status != 0 {
			t.Fatalf("group %v: status %d, stderr:\n%s", args, status, stderr)
		}
		return out
	}
	mustFail := func(want string, args ...string) {
		t.Helper()
		status, _, stderr := groupCmd(args...)
		if status != exitError || !strings.Contains(stderr, want) {
			t.Errorf("group %v: status %d, stderr %q; want status %d mentioning %q", args, status, stderr, exitError, want)
		}
	}

	// A topic with 3 partitions: 10 records in p0, 5 in p1, none in p2.
	admCl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, topic); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	defer adm.DeleteTopics(context.Background(), topic)
	for p, n := range []int{10, 5, 0} {
		for i := range n {
			r := &kgo.Record{Topic: topic, Partition: int32(p), Value: fmt.Appendf(nil, "v%d", i)}
			if err := admCl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatalf("produce: %v", err)
			}
		}
	}

	// A group consumer reads everything, then commits p0 at 7 and p1 at 5
	// (p2 never), and stays in the group.
	consumer, err := kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.ClientID("group-test-consumer"),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
	)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			consumer.Close()
		}
	}()
	for got := 0; got < 15; {
		fs := consumer.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of 15 records: %v", got, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Logf("fetch: %v", err) })
		got += fs.NumRecords()
	}
	var commitErr error
	consumer.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{
		topic: {0: {Epoch: -1, Offset: 7}, 1: {Epoch: -1, Offset: 5}},
	}, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		commitErr = err
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				if err := kerr.ErrorForCode(rp.ErrorCode); err != nil && commitErr == nil {
					commitErr = fmt.Errorf("%s/%d: %w", rt.Topic, rp.Partition, err)
				}
			}
		}
	})
	if commitErr != nil {
		t.Fatalf("commit: %v", commitErr)
	}

	// list
	out := mustRun("list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if strings.Join(strings.Fields(lines[0]), " ") != "GROUP STATE PROTOCOL TYPE" {
		t.Errorf("list header %q", lines[0])
	}
	if !hasRow(lines, group, "Stable", "consumer") {
		t.Errorf("list lacks %s Stable consumer:\n%s", group, out)
	}

	// describe with an active member
	out = mustRun("describe", group)
	t.Logf("describe (active):\n%s", out)
	lines = strings.Split(out, "\n")
	if !hasRow(lines, "State:", "Stable") || !hasRow(lines, "Members:", "1") {
		t.Errorf("describe summary wrong:\n%s", out)
	}
	if !hasRow(lines, "GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID") {
		t.Errorf("describe table header missing:\n%s", out)
	}
	// GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID
	for _, want := range [][]string{
		{group, topic, "0", "7", "10", "3"},
		{group, topic, "1", "5", "5", "0"},
		{group, topic, "2", "-", "0", "-"},
	} {
		row := findRow(lines, want[:3]...)
		if row == nil || strings.Join(row[:6], " ") != strings.Join(want, " ") {
			t.Errorf("describe row for partition %s = %v, want %v ...:\n%s", want[2], row, want, out)
			continue
		}
		if len(row) != 9 || row[6] == "-" || row[8] != "group-test-consumer" {
			t.Errorf("partition %s: member columns %v, want a consumer id, host and client id group-test-consumer", want[2], row[6:])
		}
	}

	// delete refuses a group with members
	mustFail("still has active members", "delete", group)

	// Once the consumer leaves, the group is Empty and shows only the
	// committed partitions, without members.
	consumer.Close()
	closed = true
	out = mustRun("describe", group)
	t.Logf("describe (empty):\n%s", out)
	lines = strings.Split(out, "\n")
	if !hasRow(lines, "State:", "Empty") || !strings.Contains(out, "has no active members") {
		t.Errorf("describe of the left group:\n%s", out)
	}
	for _, want := range [][]string{
		{group, topic, "0", "7", "10", "3", "-", "-", "-"},
		{group, topic, "1", "5", "5", "0", "-", "-", "-"},
	} {
		if row := findRow(lines, want[:3]...); strings.Join(row, " ") != strings.Join(want, " ") {
			t.Errorf("describe row = %v, want %v", row, want)
		}
	}
	if findRow(lines, group, topic, "2") != nil {
		t.Errorf("uncommitted, unassigned partition 2 listed:\n%s", out)
	}
	if out = mustRun("list"); !hasRow(strings.Split(out, "\n"), group, "Empty") {
		t.Errorf("list lacks %s Empty:\n%s", group, out)
	}

	// delete
	if out = mustRun("delete", group); out != fmt.Sprintf("Deleted group %s.\n", group) {
		t.Errorf("delete output %q", out)
	}
	mustFail("does not exist", "describe", group)
	mustFail("does not exist", "delete", group)
	if out = mustRun("list"); hasRowPrefix(strings.Split(out, "\n"), group) {
		t.Errorf("deleted group still listed:\n%s", out)
	}
}

// findRow returns the fields of the first row starting with the given cells.
func findRow(lines []string, cells ...string) []string {
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) >= len(cells) && strings.Join(f[:len(cells)], " ") == strings.Join(cells, " ") {
			return f
		}
	}
	return nil
}

func TestGroupUsage(t *testing.T) {
	for _, args := range [][]string{{"group", "describe"}, {"group", "delete", "a", "b"}, {"group", "list", "x"}} {
		if status, _, stderr := runCmd(t, context.Background(), nil, args...); status != exitUsage {
			t.Errorf("%v: status %d, stderr %q; want usage error", args, status, stderr)
		}
	}
}
