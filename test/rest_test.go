package test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// rest calls the REST API and decodes the JSON answer into out (when not
// nil); it returns the status and the raw body.
func rest(t *testing.T, httpAddr, method, path, body string, out any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://"+httpAddr+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
	if resp.StatusCode >= 400 && !json.Valid(raw) {
		t.Fatalf("%s %s: error body is not JSON: %s", method, path, raw)
	}
	return resp.StatusCode, string(raw)
}

// wantStatus checks a REST answer's status and, for errors, that the body
// names the field.
func wantStatus(t *testing.T, what string, got int, body string, want int, field string) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: status %d, want %d: %s", what, got, want, body)
	}
	if field != "" {
		var e struct {
			Error string `json:"error"`
			Field string `json:"field"`
		}
		_ = json.Unmarshal([]byte(body), &e)
		if e.Field != field || e.Error == "" {
			t.Fatalf("%s: error body %s, want field %q", what, body, field)
		}
	}
}

type restBytes struct {
	Data     string `json:"data"`
	Encoding string `json:"encoding"`
}

func (b *restBytes) raw(t *testing.T) []byte {
	if b == nil {
		return nil
	}
	if b.Encoding == "base64" {
		out, err := base64.StdEncoding.DecodeString(b.Data)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	return []byte(b.Data)
}

type restRecord struct {
	Partition   int32      `json:"partition"`
	Offset      int64      `json:"offset"`
	TimestampMs int64      `json:"timestamp_ms"`
	Key         *restBytes `json:"key"`
	Value       *restBytes `json:"value"`
	Headers     []struct {
		Key   string     `json:"key"`
		Value *restBytes `json:"value"`
	} `json:"headers"`
}

type restRecords struct {
	Records     []restRecord     `json:"records"`
	NextOffsets map[string]int64 `json:"next_offsets"`
}

func TestRESTTopicsAndRecords(t *testing.T) {
	tb := startBroker(t, "", nil)
	h := tb.b.HTTPAddr()
	adm := tb.admin()
	ctx := testContext(t)

	// Create, with the errors a user gets for bad input.
	var created struct {
		Name       string `json:"name"`
		Partitions int    `json:"partitions"`
		Configs    []struct {
			Name   string  `json:"name"`
			Value  *string `json:"value"`
			Source string  `json:"source"`
		} `json:"configs"`
	}
	code, body := rest(t, h, "POST", "/api/v1/topics", `{"name":"events","partitions":2,"configs":{"retention.ms":"3600000"}}`, &created)
	wantStatus(t, "create", code, body, http.StatusCreated, "")
	if created.Name != "events" || created.Partitions != 2 {
		t.Fatalf("created %+v", created)
	}
	code, body = rest(t, h, "POST", "/api/v1/topics", `{"name":"events"}`, nil)
	wantStatus(t, "duplicate", code, body, http.StatusConflict, "")
	code, body = rest(t, h, "POST", "/api/v1/topics", `{"name":"x","partitions":"two"}`, nil)
	wantStatus(t, "partitions as a string", code, body, http.StatusBadRequest, "partitions")
	code, body = rest(t, h, "POST", "/api/v1/topics", `{"name":"x","partitions":0}`, nil)
	wantStatus(t, "zero partitions", code, body, http.StatusBadRequest, "partitions")
	code, body = rest(t, h, "POST", "/api/v1/topics", `{"topic":"x"}`, nil)
	wantStatus(t, "unknown field", code, body, http.StatusBadRequest, "topic")
	code, body = rest(t, h, "POST", "/api/v1/topics", `{"name":"bad/name"}`, nil)
	wantStatus(t, "bad name", code, body, http.StatusBadRequest, "name")
	code, body = rest(t, h, "POST", "/api/v1/topics", `{"name":"x","configs":{"retention.ms":"soon"}}`, nil)
	wantStatus(t, "bad config", code, body, http.StatusBadRequest, "configs")
	if !strings.Contains(body, "retention.ms") {
		t.Fatalf("bad config error does not say which: %s", body)
	}
	code, body = rest(t, h, "POST", "/api/v1/topics", `{"name":`, nil)
	wantStatus(t, "broken JSON", code, body, http.StatusBadRequest, "body")
	if d, _ := adm.ListTopics(ctx); len(d) != 1 {
		t.Fatalf("failed creates made topics: %v", d.Names())
	}

	// Records produced by franz-go come back with their bytes, keys,
	// headers and offsets.
	cl := tb.client()
	binary := []byte{0xff, 0x00, 0xfe}
	var sent []*kgo.Record
	for i := range 6 {
		r := &kgo.Record{Topic: "events", Partition: int32(i % 2), Key: fmt.Appendf(nil, "k%d", i),
			Value: fmt.Appendf(nil, `{"n":%d}`, i), Headers: []kgo.RecordHeader{{Key: "trace", Value: fmt.Appendf(nil, "t%d", i)}}}
		if i == 5 {
			r.Value = binary
		}
		sent = append(sent, r)
	}
	manual := newClient(t, tb.addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := manual.ProduceSync(ctx, sent...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	var page restRecords
	code, body = rest(t, h, "GET", "/api/v1/topics/events/records?partition=1&offset=0&limit=10", "", &page)
	wantStatus(t, "read", code, body, http.StatusOK, "")
	if len(page.Records) != 3 {
		t.Fatalf("partition 1 records: %s", body)
	}
	for i, r := range page.Records {
		want := sent[2*i+1]
		if r.Partition != 1 || r.Offset != int64(i) || string(r.Key.raw(t)) != string(want.Key) ||
			!bytes.Equal(r.Value.raw(t), want.Value) || len(r.Headers) != 1 || r.Headers[0].Key != "trace" ||
			string(r.Headers[0].Value.raw(t)) != string(want.Headers[0].Value) {
			t.Fatalf("record %d = %+v, want %s=%q", i, r, want.Key, want.Value)
		}
	}
	if page.Records[2].Value.Encoding != "base64" {
		t.Fatalf("binary value not base64: %+v", page.Records[2].Value)
	}
	if page.NextOffsets["1"] != 3 {
		t.Fatalf("next offsets %v", page.NextOffsets)
	}
	// -N from the end, pagination, all partitions.
	rest(t, h, "GET", "/api/v1/topics/events/records?partition=0&offset=-1", "", &page)
	if len(page.Records) != 1 || page.Records[0].Offset != 2 {
		t.Fatalf("offset -1: %+v", page.Records)
	}
	rest(t, h, "GET", "/api/v1/topics/events/records?limit=4", "", &page)
	if len(page.Records) != 4 {
		t.Fatalf("limit 4 over all partitions: %+v", page.Records)
	}
	for _, bad := range []struct{ q, field string }{
		{"limit=0", "limit"}, {"limit=x", "limit"}, {"offset=abc", "offset"}, {"partition=-1", "partition"},
		{"timestamp=yesterday", "timestamp"}, {"isolation=maybe", "isolation"}, {"offset=1&timestamp=1", "timestamp"}, {"colour=red", "colour"},
	} {
		code, body = rest(t, h, "GET", "/api/v1/topics/events/records?"+bad.q, "", nil)
		wantStatus(t, bad.q, code, body, http.StatusBadRequest, bad.field)
	}
	code, body = rest(t, h, "GET", "/api/v1/topics/events/records?partition=7", "", nil)
	wantStatus(t, "unknown partition", code, body, http.StatusNotFound, "")
	code, body = rest(t, h, "GET", "/api/v1/topics/nope/records", "", nil)
	wantStatus(t, "unknown topic", code, body, http.StatusNotFound, "")

	// By time: records with timestamps an hour apart.
	base := time.Now().Add(-3 * time.Hour).Truncate(time.Millisecond)
	createTopic(t, adm, "timed", 1, nil)
	for i := range 3 {
		r := &kgo.Record{Topic: "timed", Value: fmt.Appendf(nil, "v%d", i), Timestamp: base.Add(time.Duration(i) * time.Hour)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	rest(t, h, "GET", "/api/v1/topics/timed/records?timestamp="+base.Add(90*time.Minute).UTC().Format(time.RFC3339Nano), "", &page)
	if len(page.Records) != 1 || string(page.Records[0].Value.raw(t)) != "v2" || page.Records[0].TimestampMs != base.Add(2*time.Hour).UnixMilli() {
		t.Fatalf("by time: %+v", page.Records)
	}

	// A record produced over HTTP reaches a franz-go consumer whole.
	var produced struct {
		Partition int32 `json:"partition"`
		Offset    int64 `json:"offset"`
	}
	code, body = rest(t, h, "POST", "/api/v1/topics/events/records",
		`{"partition":0,"key":"order-9","value":{"id":9,"item":"tea"},"headers":[{"key":"src","value":"console"},{"key":"bin","value":"AAE=","value_encoding":"base64"}]}`, &produced)
	wantStatus(t, "produce", code, body, http.StatusCreated, "")
	if produced.Partition != 0 || produced.Offset != 3 {
		t.Fatalf("produced at %+v", produced)
	}
	got := consumeAll(t, tb.addr, "events", 7)
	var last *kgo.Record
	for _, r := range got {
		if r.Partition == 0 && r.Offset == 3 {
			last = r
		}
	}
	if last == nil || string(last.Key) != "order-9" || string(last.Value) != `{"id":9,"item":"tea"}` || len(last.Headers) != 2 ||
		string(last.Headers[0].Value) != "console" || !bytes.Equal(last.Headers[1].Value, []byte{0, 1}) {
		t.Fatalf("consumed %+v", last)
	}
	for _, bad := range []struct{ body, field string }{
		{`{"partition":9,"value":"x"}`, "partition"}, {`{"value":"%%%","value_encoding":"base64"}`, "value"},
		{`{"value":"x","value_encoding":"rot13"}`, "value_encoding"}, {`{"value":"x","headers":[{"value":"v"}]}`, "headers"},
		{`{"value":"x","colour":1}`, "colour"},
	} {
		code, body = rest(t, h, "POST", "/api/v1/topics/events/records", bad.body, nil)
		wantStatus(t, bad.body, code, body, http.StatusBadRequest, bad.field)
	}

	// Partitions with offsets and sizes.
	var parts struct {
		Partitions []struct {
			Partition   int32 `json:"partition"`
			StartOffset int64 `json:"start_offset"`
			EndOffset   int64 `json:"end_offset"`
			SizeBytes   int64 `json:"size_bytes"`
		} `json:"partitions"`
	}
	rest(t, h, "GET", "/api/v1/topics/events/partitions", "", &parts)
	if len(parts.Partitions) != 2 || parts.Partitions[0].EndOffset != 4 || parts.Partitions[1].EndOffset != 3 ||
		parts.Partitions[0].SizeBytes <= 0 || parts.Partitions[0].StartOffset != 0 {
		t.Fatalf("partitions %+v", parts)
	}

	// Configs: a change is live for kadm, a bad one changes nothing.
	code, body = rest(t, h, "PATCH", "/api/v1/topics/events/configs", `{"set":{"retention.ms":"7200000","cleanup.policy":"compact,delete"}}`, nil)
	wantStatus(t, "set configs", code, body, http.StatusOK, "")
	code, body = rest(t, h, "PATCH", "/api/v1/topics/events/configs", `{"set":{"retention.ms":"-7","segment.ms":"1000"}}`, nil)
	wantStatus(t, "bad config value", code, body, http.StatusBadRequest, "set")
	if !strings.Contains(body, "retention.ms") {
		t.Fatalf("no reason: %s", body)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, "events")
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := rcs.On("events", nil)
	for _, c := range rc.Configs {
		switch c.Key {
		case "retention.ms":
			if c.MaybeValue() != "7200000" {
				t.Fatalf("retention.ms = %s", c.MaybeValue())
			}
		case "segment.ms":
			if c.Source.String() == "DYNAMIC_TOPIC_CONFIG" {
				t.Fatal("a refused change was partly applied")
			}
		}
	}
	code, body = rest(t, h, "PATCH", "/api/v1/topics/events/configs", `{"delete":["retention.ms"]}`, nil)
	wantStatus(t, "delete config", code, body, http.StatusOK, "")
	code, body = rest(t, h, "PATCH", "/api/v1/topics/events/configs", `{}`, nil)
	wantStatus(t, "empty change", code, body, http.StatusBadRequest, "set")
	code, body = rest(t, h, "PATCH", "/api/v1/topics/nope/configs", `{"set":{"retention.ms":"1"}}`, nil)
	wantStatus(t, "configs of unknown topic", code, body, http.StatusNotFound, "")
	var bc struct {
		Configs []struct {
			Name     string `json:"name"`
			ReadOnly bool   `json:"read_only"`
			Source   string `json:"source"`
		} `json:"configs"`
	}
	code, body = rest(t, h, "GET", "/api/v1/brokers/1/configs", "", &bc)
	wantStatus(t, "broker configs", code, body, http.StatusOK, "")
	if len(bc.Configs) < 10 {
		t.Fatalf("broker configs: %s", body)
	}
	code, body = rest(t, h, "PATCH", "/api/v1/brokers/1/configs", `{"set":{"log.retention.bytes":"1073741824"}}`, nil)
	wantStatus(t, "dynamic broker config", code, body, http.StatusOK, "")
	if !strings.Contains(body, `"name":"log.retention.bytes","value":"1073741824","source":"dynamic_broker"`) {
		t.Fatalf("dynamic broker config not shown: %.300s", body)
	}
	code, body = rest(t, h, "PATCH", "/api/v1/brokers/1/configs", `{"set":{"log.dirs":"/elsewhere"}}`, nil)
	wantStatus(t, "static broker config", code, body, http.StatusBadRequest, "set")
	code, body = rest(t, h, "GET", "/api/v1/brokers/x/configs", "", nil)
	wantStatus(t, "broker id", code, body, http.StatusBadRequest, "id")

	// Listing and deleting.
	var list struct {
		Topics []struct {
			Name    string `json:"name"`
			Records int64  `json:"records"`
		} `json:"topics"`
	}
	_, body = rest(t, h, "GET", "/api/v1/topics", "", &list)
	if len(list.Topics) != 2 || list.Topics[0].Name != "events" || list.Topics[0].Records != 7 {
		t.Fatalf("topics %+v: %s", list, body)
	}
	code, body = rest(t, h, "DELETE", "/api/v1/topics/timed", "", nil)
	wantStatus(t, "delete", code, body, http.StatusNoContent, "")
	code, body = rest(t, h, "DELETE", "/api/v1/topics/timed", "", nil)
	wantStatus(t, "delete again", code, body, http.StatusNotFound, "")
	if d, _ := adm.ListTopics(ctx); len(d) != 1 {
		t.Fatalf("after delete: %v", d.Names())
	}
	code, body = rest(t, h, "GET", "/api/v1/no-such-thing", "", nil)
	wantStatus(t, "unknown route", code, body, http.StatusNotFound, "")
}

func TestRESTGroups(t *testing.T) {
	tb := startBroker(t, "", nil)
	h := tb.b.HTTPAddr()
	adm := tb.admin()
	ctx := testContext(t)
	createTopic(t, adm, "jobs", 2, nil)
	cl := newClient(t, tb.addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range 10 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "jobs", Partition: int32(i % 2), Value: fmt.Appendf(nil, "j%d", i)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// A member consumes 4 records per partition... by committing offsets
	// 4 and 3 while it is in the group.
	member := newClient(t, tb.addr, kgo.ConsumerGroup("workers"), kgo.ConsumeTopics("jobs"), kgo.DisableAutoCommit())
	for len(member.PollFetches(ctx).Records()) == 0 {
	}
	var commitErr error
	member.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{"jobs": {0: {Epoch: -1, Offset: 4}, 1: {Epoch: -1, Offset: 3}}},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			commitErr = err
			for _, t := range resp.Topics {
				for _, p := range t.Partitions {
					if e := kerr.ErrorForCode(p.ErrorCode); e != nil {
						commitErr = e
					}
				}
			}
		})
	if commitErr != nil {
		t.Fatal(commitErr)
	}

	type lagRow struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
		Committed *int64 `json:"committed_offset"`
		End       int64  `json:"log_end_offset"`
		Lag       *int64 `json:"lag"`
		MemberID  string `json:"member_id"`
	}
	var g struct {
		State   string `json:"state"`
		Members []struct {
			ClientID    string `json:"client_id"`
			Assignments []struct {
				Topic      string  `json:"topic"`
				Partitions []int32 `json:"partitions"`
			} `json:"assignments"`
		} `json:"members"`
		Partitions []lagRow `json:"partitions"`
		TotalLag   int64    `json:"total_lag"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := rest(t, h, "GET", "/api/v1/groups/workers", "", &g)
		wantStatus(t, "describe group", code, body, http.StatusOK, "")
		if g.State == "Stable" || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if g.State != "Stable" || len(g.Members) != 1 || len(g.Members[0].Assignments) != 1 || len(g.Members[0].Assignments[0].Partitions) != 2 {
		t.Fatalf("group %+v", g)
	}
	if g.TotalLag != 3 || len(g.Partitions) != 2 || *g.Partitions[0].Lag != 1 || *g.Partitions[1].Lag != 2 || g.Partitions[0].MemberID == "" {
		t.Fatalf("lag %+v", g.Partitions)
	}
	var groups struct {
		Groups []struct {
			Group    string `json:"group"`
			Members  int    `json:"members"`
			TotalLag int64  `json:"total_lag"`
		} `json:"groups"`
	}
	rest(t, h, "GET", "/api/v1/groups", "", &groups)
	if len(groups.Groups) != 1 || groups.Groups[0].Group != "workers" || groups.Groups[0].Members != 1 || groups.Groups[0].TotalLag != 3 {
		t.Fatalf("groups %+v", groups)
	}

	// An active group can be neither reset nor deleted.
	code, body := rest(t, h, "POST", "/api/v1/groups/workers/reset-offsets", `{"to":"earliest"}`, nil)
	wantStatus(t, "reset active", code, body, http.StatusConflict, "")
	code, body = rest(t, h, "DELETE", "/api/v1/groups/workers", "", nil)
	wantStatus(t, "delete active", code, body, http.StatusConflict, "")
	member.Close()

	for _, bad := range []struct{ body, field string }{
		{`{}`, "to"}, {`{"to":"yesterday"}`, "to"}, {`{"to":"offset"}`, "offset"}, {`{"to":"timestamp"}`, "timestamp"},
		{`{"to":"timestamp","timestamp":"noon"}`, "timestamp"}, {`{"to":"earliest","partitions":[0]}`, "partitions"},
	} {
		code, body = rest(t, h, "POST", "/api/v1/groups/workers/reset-offsets", bad.body, nil)
		wantStatus(t, bad.body, code, body, http.StatusBadRequest, bad.field)
	}
	code, body = rest(t, h, "POST", "/api/v1/groups/workers/reset-offsets", `{"to":"earliest","topics":["nope"]}`, nil)
	wantStatus(t, "reset unknown topic", code, body, http.StatusNotFound, "")

	fetch := func() map[int32]int64 {
		t.Helper()
		os, err := adm.FetchOffsets(ctx, "workers")
		if err != nil {
			t.Fatal(err)
		}
		out := map[int32]int64{}
		os.Each(func(o kadm.OffsetResponse) { out[o.Partition] = o.At })
		return out
	}
	type resetAnswer struct {
		Partitions []struct {
			Partition int32 `json:"partition"`
			Old       int64 `json:"old_offset"`
			New       int64 `json:"new_offset"`
		} `json:"partitions"`
	}
	var ra resetAnswer
	// Dry run changes nothing.
	code, body = rest(t, h, "POST", "/api/v1/groups/workers/reset-offsets", `{"to":"latest","dry_run":true}`, &ra)
	wantStatus(t, "dry run", code, body, http.StatusOK, "")
	if len(ra.Partitions) != 2 || ra.Partitions[0].Old != 4 || ra.Partitions[0].New != 5 {
		t.Fatalf("dry run %+v", ra)
	}
	if got := fetch(); got[0] != 4 || got[1] != 3 {
		t.Fatalf("dry run changed offsets: %v", got)
	}
	for _, step := range []struct {
		body string
		want map[int32]int64
	}{
		{`{"to":"earliest"}`, map[int32]int64{0: 0, 1: 0}},
		{`{"to":"latest"}`, map[int32]int64{0: 5, 1: 5}},
		{`{"to":"offset","offset":2,"topics":["jobs"],"partitions":[1]}`, map[int32]int64{0: 5, 1: 2}},
		{`{"to":"offset","offset":99}`, map[int32]int64{0: 5, 1: 5}}, // clamped to the end
		{`{"to":"timestamp","timestamp":"2000-01-01T00:00:00Z"}`, map[int32]int64{0: 0, 1: 0}},
	} {
		code, body = rest(t, h, "POST", "/api/v1/groups/workers/reset-offsets", step.body, &ra)
		wantStatus(t, step.body, code, body, http.StatusOK, "")
		if got := fetch(); got[0] != step.want[0] || got[1] != step.want[1] {
			t.Fatalf("after %s: %v, want %v", step.body, got, step.want)
		}
	}

	code, body = rest(t, h, "DELETE", "/api/v1/groups/workers", "", nil)
	wantStatus(t, "delete", code, body, http.StatusNoContent, "")
	code, body = rest(t, h, "GET", "/api/v1/groups/workers", "", nil)
	wantStatus(t, "deleted group", code, body, http.StatusNotFound, "")
	code, body = rest(t, h, "DELETE", "/api/v1/groups/workers", "", nil)
	wantStatus(t, "delete again", code, body, http.StatusNotFound, "")
}

func TestRESTOpenAPI(t *testing.T) {
	tb := startBroker(t, "", nil)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	code, body := rest(t, tb.b.HTTPAddr(), "GET", "/api/v1/openapi.json", "", &doc)
	wantStatus(t, "openapi", code, body, http.StatusOK, "")
	if !strings.HasPrefix(doc.OpenAPI, "3.") || len(doc.Paths["/api/v1/topics/{topic}/records"]) != 2 || doc.Paths["/api/v1/groups/{group}/reset-offsets"]["post"] == nil {
		t.Fatalf("openapi document: %.400s", body)
	}
}
