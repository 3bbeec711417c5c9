package test

import (
	"bytes"
	"context"
	b64 "encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-streaming/chronik/internal/config"
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

// TestSearchKcatCodecsAndTransactions: records produced by kcat
// (librdkafka) with every codec are searchable; records of an aborted
// transaction and the transaction markers are not.
func TestSearchKcatCodecsAndTransactions(t *testing.T) {
	tb := startBroker(t, "", nil)
	httpAddr := tb.b.HTTPAddr()
	createTopic(t, tb.admin(), "sk", 1, searchOn)
	codecs := []string{"none", "gzip", "snappy", "lz4", "zstd"}
	if _, err := exec.LookPath("kcat"); err == nil || os.Getenv("CHRONIK_REQUIRE_CLIENTS") != "" {
		for _, codec := range codecs {
			runKcat(t, fmt.Sprintf("%s:{\"codec\":%q,\"n\":1}\n%s:plain %s words\n", codec, codec, codec, codec),
				"-b", tb.addr, "-P", "-t", "sk", "-K:", "-z", codec)
		}
	} else {
		t.Log("kcat not installed: codecs produced with franz-go only")
		codecs = nil
	}
	p := txnProducer(t, tb.addr, "search-tx", "sk")
	produceTxn(t, p, 1, true, "committed transactional words")
	produceTxn(t, p, 1, false, "aborted transactional words")
	want := 2*len(codecs) + 1
	waitSearchable(t, httpAddr, "sk", want)
	for _, codec := range codecs {
		if got := searchValues(t, httpAddr, "sk", "codec:"+codec); len(got) != 1 {
			t.Errorf("codec:%s finds %q", codec, got)
		}
		if got := searchValues(t, httpAddr, "sk", `"plain `+codec+`"`, "sort", "offset"); len(got) != 1 {
			t.Errorf("phrase of the %s record finds %q", codec, got)
		}
	}
	if got := searchValues(t, httpAddr, "sk", "transactional"); fmt.Sprint(got) != "[committed transactional words]" {
		t.Errorf("transactional records searchable: %q", got)
	}
}

// TestSearchKill9 kills the broker while it produces and indexes; after
// the restart every record of the log is in the index exactly once.
func TestSearchKill9(t *testing.T) {
	skipIfShort(t)
	dir := t.TempDir()
	pb := startProcBroker(t, dir, "--search-enabled=true", "--fsync", "always")
	createTopic(t, kadmClient(newClient(t, pb.addr)), "sk9", 2, nil)
	cl := newClient(t, pb.addr, kgo.DefaultProduceTopic("sk9"), kgo.RecordRetries(2), kgo.RequestRetries(2),
		kgo.RecordDeliveryTimeout(3*time.Second))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ctx.Err() == nil; i++ {
			v := fmt.Sprintf(`{"n":%d,"msg":"record number %d"}`, i, i)
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
				return
			}
		}
	}()
	time.Sleep(1500 * time.Millisecond)
	pb.kill()
	cancel()
	// An idempotent producer unsure whether its last request landed
	// retries it past any timeout; closing the client ends it.
	cl.Close()
	<-done
	pb.start()
	end := endOffsets(t, newClient(t, pb.addr), "sk9")
	total := end[0] + end[1]
	if total < 100 {
		t.Fatalf("only %d records before the kill", total)
	}
	waitSearchable(t, pb.httpAddr, "sk9", int(total))
	for p, n := range end {
		seen := map[int64]int{}
		for skip := int64(0); skip < n; skip += 1000 {
			code, r := searchGet(t, pb.httpAddr, "/api/v1/topics/sk9/search", url.Values{
				"partition": {fmt.Sprint(p)}, "sort": {"offset"}, "limit": {"1000"}, "skip": {fmt.Sprint(skip)}})
			if code != 200 {
				t.Fatalf("HTTP %d %s", code, r.Error)
			}
			for _, h := range r.Hits {
				seen[h.Offset]++
			}
		}
		for o := int64(0); o < n; o++ {
			if seen[o] != 1 {
				t.Fatalf("partition %d offset %d is in the index %d times (%d records)", p, o, seen[o], n)
			}
		}
	}
	t.Logf("%d records indexed exactly once after the kill", total)
}

// TestSearchEnableAndRebuild: a topic that becomes searchable (here by the
// broker default) gets its history indexed; a corrupt index is rebuilt
// from the log.
func TestSearchEnableAndRebuild(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb.admin(), "hist", 1, nil)
	var rs []*kgo.Record
	for i := range 50 {
		rs = append(rs, &kgo.Record{Topic: "hist", Value: fmt.Appendf(nil, "history record %d", i)})
	}
	if err := tb.client().ProduceSync(testContext(t), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	tb.stop()
	enable := func(c *config.Config) {
		*c = *tb.cfg
		c.Server.KafkaListen, c.Server.HTTPListen = "127.0.0.1:0", "127.0.0.1:0"
		c.Search.SearchEnabled = true
	}
	tb2 := startBroker(t, tb.cfg.Server.DataDir, enable)
	waitSearchable(t, tb2.b.HTTPAddr(), "hist", 50)
	if got := searchValues(t, tb2.b.HTTPAddr(), "hist", `"record 42"`); fmt.Sprint(got) != "[history record 42]" {
		t.Errorf("history search: %q", got)
	}
	tb2.stop()

	// Damage every file of the index.
	root := filepath.Join(tb.cfg.Server.DataDir, "search")
	_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			_ = os.WriteFile(path, []byte("garbage"), 0o644)
		}
		return nil
	})
	tb3 := startBroker(t, tb.cfg.Server.DataDir, enable)
	waitSearchable(t, tb3.b.HTTPAddr(), "hist", 50)
	if got := searchValues(t, tb3.b.HTTPAddr(), "hist", "history"); len(got) != 50 {
		t.Errorf("after the rebuild: %d hits", len(got))
	}
}

// TestSearchRetentionDropsIndexes: a partition's records are indexed into
// several indexes (search_index_docs each); when the log start moves past
// an index's records (here with DeleteRecords), the index is dropped
// whole, and no hit below the log start is returned.
func TestSearchRetentionDropsIndexes(t *testing.T) {
	tb := startBroker(t, "", func(c *config.Config) { c.Search.SearchIndexDocs = 1000 })
	httpAddr := tb.b.HTTPAddr()
	createTopic(t, tb.admin(), "sret", 1, searchOn)
	cl := tb.client(kgo.DefaultProduceTopic("sret"), kgo.ProducerLinger(0))
	for i := range 35 {
		var rs []*kgo.Record
		for j := range 100 {
			rs = append(rs, &kgo.Record{Value: fmt.Appendf(nil, "record %d", i*100+j)})
		}
		if err := cl.ProduceSync(testContext(t), rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if i%10 == 9 { // let each thousand land in its own index
			waitSearchable(t, httpAddr, "sret", (i+1)*100)
		}
	}
	waitSearchable(t, httpAddr, "sret", 3500)
	indexes := func() int {
		resp, err := http.Get("http://" + httpAddr + "/api/v1/search/status")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st struct{ Partitions []struct{ Indexes int } }
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || len(st.Partitions) != 1 {
			t.Fatalf("status: %v %+v", err, st)
		}
		return st.Partitions[0].Indexes
	}
	if n := indexes(); n < 3 {
		t.Fatalf("%d indexes for 3500 records at 1000 per index", n)
	}
	before := indexes()
	if _, err := tb.admin().DeleteRecords(testContext(t), kadm.Offsets{"sret": {0: {Topic: "sret", Partition: 0, At: 2500}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "expired indexes dropped", func() bool { return indexes() <= before-2 })
	code, r := searchGet(t, httpAddr, "/api/v1/topics/sret/search", url.Values{"q": {"record"}, "sort": {"oldest"}, "limit": {"5"}})
	if code != 200 || len(r.Hits) == 0 || r.Hits[0].Offset != 2500 {
		t.Fatalf("oldest hit after DeleteRecords: %d %+v", code, r.Hits)
	}
}
