package test

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(chronikBinary(t), args...).CombinedOutput()
	return string(out), err
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
