package test

import (
	"bytes"
	b64 "encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

var searchOn = map[string]*string{"chronik.search.enabled": strp("true")}

type searchHit struct {
	Topic     string
	Partition int32
	Offset    int64
	Timestamp time.Time
	Key       *struct{ Data, Encoding string }
	Value     *struct{ Data, Encoding string }
	Headers   []struct {
		Key   string
		Value *struct{ Data, Encoding string }
	}
	Highlights map[string][]string
}

type searchResult struct {
	Total    uint64
	Hits     []searchHit
	Error    string
	Field    string
	Position *int
}

// searchGet runs GET path?params on the broker's HTTP port.
func searchGet(t *testing.T, httpAddr, path string, params url.Values) (int, searchResult) {
	t.Helper()
	resp, err := http.Get("http://" + httpAddr + path + "?" + params.Encode())
	if err != nil {
		t.Fatal(err)
	}
	return decodeSearch(t, resp)
}

func decodeSearch(t *testing.T, resp *http.Response) (int, searchResult) {
	t.Helper()
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r searchResult
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("search answer %d is not JSON: %s", resp.StatusCode, body)
	}
	return resp.StatusCode, r
}

// searchValues runs a query on topic and returns the hits' values, sorted.
func searchValues(t *testing.T, httpAddr, topic, q string, extra ...string) []string {
	t.Helper()
	p := url.Values{"q": {q}, "limit": {"1000"}}
	for i := 0; i+1 < len(extra); i += 2 {
		p.Set(extra[i], extra[i+1])
	}
	code, r := searchGet(t, httpAddr, "/api/v1/topics/"+topic+"/search", p)
	if code != 200 {
		t.Fatalf("search %q: HTTP %d %s", q, code, r.Error)
	}
	out := []string{}
	for _, h := range r.Hits {
		if h.Value != nil {
			out = append(out, h.Value.Data)
		}
	}
	sort.Strings(out)
	return out
}

// waitSearchable waits until topic's index holds n records.
func waitSearchable(t *testing.T, httpAddr, topic string, n int) {
	t.Helper()
	waitFor(t, 30*time.Second, fmt.Sprintf("%d records searchable in %s", n, topic), func() bool {
		code, r := searchGet(t, httpAddr, "/api/v1/topics/"+topic+"/search", url.Values{"limit": {"1"}})
		return code == 200 && r.Total == uint64(n)
	})
}

func jsonRec(level, msg string, id int, ts string) string {
	return fmt.Sprintf(`{"level":%q,"msg":%q,"user":{"id":%d,"name":"user%d"},"at":%q,"ok":%v,"note":null}`, level, msg, id, id, ts, id%2 == 0)
}

// TestSearch produces JSON and text records with franz-go and searches them
// the ways a user would: words, phrases, fields, booleans, numeric and time
// ranges, filters, sorting and pages, with the records read back whole.
func TestSearch(t *testing.T) {
	tb := startBroker(t, "", nil)
	httpAddr := tb.b.HTTPAddr()
	adm := tb.admin()
	createTopic(t, adm, "logs", 2, searchOn)
	createTopic(t, adm, "plain", 1, nil)

	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	recs := []*kgo.Record{
		{Partition: 0, Key: []byte("k1"), Value: []byte(jsonRec("error", "connection refused by upstream", 100, "2026-03-01T12:00:00Z")), Headers: []kgo.RecordHeader{{Key: "service", Value: []byte("api")}}},
		{Partition: 0, Key: []byte("k2"), Value: []byte(jsonRec("info", "request served", 150, "2026-03-01T12:05:00Z")), Headers: []kgo.RecordHeader{{Key: "service", Value: []byte("web")}}},
		{Partition: 1, Key: []byte("k3"), Value: []byte(jsonRec("warn", "slow request to upstream", 199, "2026-03-01T12:10:00Z"))},
		{Partition: 1, Key: []byte("k4"), Value: []byte(jsonRec("error", "disk full", 250, "2026-03-01T12:15:00Z"))},
		{Partition: 0, Key: []byte("k5"), Value: []byte("plain text: the quick brown fox jumps over the lazy dog")},
		{Partition: 1, Value: []byte(`{"broken json": `)},
		{Partition: 1, Key: []byte("bin"), Value: []byte{0xff, 0xfe, 0x00, 0x01}, Headers: []kgo.RecordHeader{{Key: "kind", Value: []byte("binary")}}},
	}
	for i, r := range recs {
		r.Topic = "logs"
		r.Timestamp = base.Add(time.Duration(i) * time.Minute)
	}
	cl := tb.client(kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	if err := cl.ProduceSync(testContext(t), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	waitSearchable(t, httpAddr, "logs", len(recs))

	v := func(i int) string { return string(recs[i].Value) }
	for _, c := range []struct {
		q    string
		want []string
	}{
		{"upstream", []string{v(0), v(2)}},
		{`"connection refused"`, []string{v(0)}},
		{`"refused connection"`, nil},
		{"level:error", []string{v(0), v(3)}},
		{"level:error AND upstream", []string{v(0)}},
		{"level:error OR level:warn", []string{v(0), v(2), v(3)}},
		{"level:error -disk", []string{v(0)}},
		{"NOT level:error AND _exists_:level", []string{v(1), v(2)}},
		{"(level:warn OR level:info) AND request", []string{v(1), v(2)}},
		{"user.id:[100 TO 199]", []string{v(0), v(1), v(2)}},
		{"user.id:{100 TO 199}", []string{v(1)}},
		{"user.id:>=199", []string{v(2), v(3)}},
		{`user.name.keyword:user150`, []string{v(1)}},
		{"user.name:user1*", []string{v(0), v(1), v(2)}},
		{"at:[2026-03-01T12:04:00Z TO 2026-03-01T12:11:00Z]", []string{v(1), v(2)}},
		{"timestamp:>=2026-03-01T12:03:00Z AND timestamp:<2026-03-01T12:05:00Z", []string{v(3), v(4)}},
		{"ok:true", []string{v(0), v(1), v(3)}},
		{"_null:note", []string{v(0), v(1), v(2), v(3)}},
		{"key:k5", []string{v(4)}},
		{"headers.service:web", []string{v(1)}},
		{"fox AND lazy", []string{v(4)}},
		{"qu?ck", []string{v(4)}},
		{"broken", []string{v(5)}},
		{"headers.kind:binary", []string{b64.StdEncoding.EncodeToString(recs[6].Value)}},
	} {
		got := searchValues(t, httpAddr, "logs", c.q)
		want := append([]string{}, c.want...)
		sort.Strings(want)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("search %q:\n got %q\nwant %q", c.q, got, want)
		}
	}

	// Filters, sorting and pages.
	if got := searchValues(t, httpAddr, "logs", "level:error", "partition", "1"); fmt.Sprint(got) != fmt.Sprint([]string{v(3)}) {
		t.Errorf("partition filter: %q", got)
	}
	if got := searchValues(t, httpAddr, "logs", "", "partition", "0", "from_offset", "1", "to_offset", "2"); len(got) != 2 {
		t.Errorf("offset range 1-2 of partition 0: %q", got)
	}
	if got := searchValues(t, httpAddr, "logs", "", "from", base.Add(2*time.Minute).Format(time.RFC3339), "to", fmt.Sprint(base.Add(4*time.Minute).UnixMilli())); fmt.Sprint(got) != fmt.Sprint(sortedCopy([]string{v(2), v(3)})) {
		t.Errorf("time range: %q", got)
	}
	code, r := searchGet(t, httpAddr, "/api/v1/topics/logs/search", url.Values{"q": {"*"}, "sort": {"newest"}, "limit": {"2"}, "skip": {"1"}})
	if code != 200 || r.Total != uint64(len(recs)) || len(r.Hits) != 2 || r.Hits[0].Value.Data != v(5) || r.Hits[1].Value.Data != v(4) {
		t.Errorf("newest first, page 2 of size 2: %d %+v", code, r)
	}

	// A hit carries the record as stored, with highlights.
	code, r = searchGet(t, httpAddr, "/api/v1/topics/logs/search", url.Values{"q": {"refused"}})
	if code != 200 || len(r.Hits) != 1 {
		t.Fatalf("refused: %d %+v", code, r)
	}
	h := r.Hits[0]
	if h.Topic != "logs" || h.Partition != 0 || h.Offset != 0 || h.Key.Data != "k1" || h.Value.Data != v(0) ||
		!h.Timestamp.Equal(base) || len(h.Headers) != 1 || h.Headers[0].Key != "service" || h.Headers[0].Value.Data != "api" {
		t.Errorf("hit: %+v", h)
	}
	if f := h.Highlights["value"]; len(f) == 0 || !strings.Contains(f[0], "<mark>refused</mark>") {
		t.Errorf("highlights: %v", h.Highlights)
	}
	code, r = searchGet(t, httpAddr, "/api/v1/topics/logs/search", url.Values{"q": {"key:bin"}})
	if code != 200 || len(r.Hits) != 1 || r.Hits[0].Value.Encoding != "base64" {
		t.Errorf("binary value: %+v", r)
	}

	// The JSON form and the cross-topic search.
	body, _ := json.Marshal(map[string]any{"query": "level:error", "partitions": []int{0}, "limit": 5})
	resp, err := http.Post("http://"+httpAddr+"/api/v1/topics/logs/search", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if code, r := decodeSearch(t, resp); code != 200 || len(r.Hits) != 1 || r.Hits[0].Offset != 0 {
		t.Errorf("POST search: %d %+v", code, r)
	}
	if code, r := searchGet(t, httpAddr, "/api/v1/search", url.Values{"q": {"disk"}}); code != 200 || len(r.Hits) != 1 || r.Hits[0].Topic != "logs" {
		t.Errorf("cross-topic search: %d %+v", code, r)
	}

	// Bad input gets a clear answer.
	for _, c := range []struct {
		path   string
		params url.Values
		code   int
		pos    int
	}{
		{"/api/v1/topics/logs/search", url.Values{"q": {"level:(error OR"}}, 400, 13},
		{"/api/v1/topics/logs/search", url.Values{"q": {`"unterminated`}}, 400, 0},
		{"/api/v1/topics/logs/search", url.Values{"q": {"x"}, "limit": {"-1"}}, 400, -1},
		{"/api/v1/topics/logs/search", url.Values{"q": {"x"}, "from": {"yesterday"}}, 400, -1},
		{"/api/v1/topics/logs/search", url.Values{"qq": {"x"}}, 400, -1},
		{"/api/v1/topics/nope/search", url.Values{"q": {"x"}}, 404, -1},
		{"/api/v1/topics/plain/search", url.Values{"q": {"x"}}, 409, -1},
	} {
		code, r := searchGet(t, httpAddr, c.path, c.params)
		if code != c.code || r.Error == "" || (c.pos >= 0 && (r.Position == nil || *r.Position != c.pos)) {
			t.Errorf("%s %v: HTTP %d %+v, want %d (position %d)", c.path, c.params, code, r, c.code, c.pos)
		}
	}
	if _, r := searchGet(t, httpAddr, "/api/v1/topics/plain/search", url.Values{"q": {"x"}}); !strings.Contains(r.Error, "chronik.search.enabled=true") {
		t.Errorf("409 does not say how to enable search: %s", r.Error)
	}

	// The index survives a restart, and indexing carries on after it.
	tb = tb.restart()
	httpAddr = tb.b.HTTPAddr()
	if got := searchValues(t, httpAddr, "logs", "upstream"); len(got) != 2 {
		t.Errorf("after restart: %q", got)
	}
	cl = tb.client(kgo.DefaultProduceTopic("logs"))
	if err := cl.ProduceSync(testContext(t), &kgo.Record{Value: []byte("after the restart")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	waitSearchable(t, httpAddr, "logs", len(recs)+1)

	// Deleting the topic deletes its index.
	if _, err := tb.admin().DeleteTopics(testContext(t), "logs"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "search index removed", func() bool {
		entries, _ := os.ReadDir(filepath.Join(tb.cfg.Server.DataDir, "search"))
		return len(entries) == 0
	})
}
