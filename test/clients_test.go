package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// These tests prove that unmodified clients in other languages work against
// Chronik. Each client runs a script from test/clients/ that takes the
// bootstrap address as its argument and a JSON spec (the messages to
// produce, byte for byte) on stdin, and prints what it saw as JSON lines;
// the Go side asserts every key, value, header, timestamp and offset.
//
// A missing client skips its test, or fails it when CHRONIK_REQUIRE_CLIENTS
// is set (CI installs them all in .ci/run).

// clientMsg is one record as the tests specify and compare it. In JSON a
// nil []byte is null and a non-nil one is base64, so null and empty stay
// distinct on the way to the scripts and back.
type clientMsg struct {
	Key       []byte         `json:"key"`
	Value     []byte         `json:"value"`
	Headers   []clientHeader `json:"headers"`
	Timestamp int64          `json:"timestamp"` // ms since the epoch; 0 = not compared
}

type clientHeader struct {
	Key   string `json:"key"`
	Value []byte `json:"value"`
}

// clientRecord is a record as a script read it back.
type clientRecord struct {
	clientMsg
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

// msgOpts limits clientMessages to what a client can express.
type msgOpts struct {
	noNullHeaderValues bool // client cannot send a header with a null value
	noDuplicateHeaders bool // client's headers are a map
}

// clientMessages returns n deterministic records for topic covering the
// edge cases: null key, empty value, null value, every byte value, no
// headers, a compressible 8 KiB value, a null header value, a repeated
// header key; timestamps are distinct, increasing and in the recent past.
func clientMessages(t *testing.T, topic string, n int, opts ...msgOpts) []clientMsg {
	t.Helper()
	var o msgOpts
	if len(opts) > 0 {
		o = opts[0]
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	base := time.Now().Add(-10 * time.Minute).UnixMilli()
	out := make([]clientMsg, n)
	for i := range out {
		m := clientMsg{
			Key:       []byte(fmt.Sprintf("key-%d", i)),
			Value:     []byte(fmt.Sprintf("value %d of %s %s", i, topic, strings.Repeat("x", i))),
			Timestamp: base + int64(i)*10,
			Headers: []clientHeader{
				{Key: "h1", Value: []byte("v1")},
				{Key: "idx", Value: []byte(fmt.Sprint(i))},
				{Key: "empty", Value: []byte{}},
			},
		}
		switch i % 10 {
		case 0:
			m.Key = nil
		case 1:
			m.Value = []byte{}
		case 2:
			m.Value = nil
		case 3:
			m.Key = append([]byte("bin\x00"), all...)
			m.Value = append(append([]byte{}, all...), all...)
		case 4:
			m.Headers = nil
		case 5:
			m.Value = bytes.Repeat([]byte(fmt.Sprintf("compressible %d;", i)), 8<<10/16)
		case 6:
			if !o.noNullHeaderValues {
				m.Headers = append(m.Headers, clientHeader{Key: "null"})
			}
		case 7:
			if !o.noDuplicateHeaders {
				m.Headers = append(m.Headers, clientHeader{Key: "h1", Value: []byte("second")})
			}
		}
		out[i] = m
	}
	return out
}

// diff compares a record read back with the one produced. strictNull
// distinguishes null from empty (keys, values, header values); clients that
// cannot express the difference compare with it off.
func (m clientMsg) diff(got clientMsg, strictNull bool) error {
	eq := func(a, b []byte) bool {
		if strictNull && (a == nil) != (b == nil) {
			return false
		}
		return bytes.Equal(a, b)
	}
	show := func(b []byte) string {
		if b == nil {
			return "null"
		}
		if len(b) > 64 {
			return fmt.Sprintf("%q...(%d bytes)", b[:64], len(b))
		}
		return fmt.Sprintf("%q", b)
	}
	if !eq(m.Key, got.Key) {
		return fmt.Errorf("key %s, want %s", show(got.Key), show(m.Key))
	}
	if !eq(m.Value, got.Value) {
		return fmt.Errorf("value %s, want %s", show(got.Value), show(m.Value))
	}
	if len(m.Headers) != len(got.Headers) {
		return fmt.Errorf("%d headers %v, want %d %v", len(got.Headers), got.Headers, len(m.Headers), m.Headers)
	}
	for i, h := range m.Headers {
		g := got.Headers[i]
		if g.Key != h.Key || !eq(h.Value, g.Value) {
			return fmt.Errorf("header %d = %s:%s, want %s:%s", i, g.Key, show(g.Value), h.Key, show(h.Value))
		}
	}
	if m.Timestamp != 0 && got.Timestamp != m.Timestamp {
		return fmt.Errorf("timestamp %d, want %d", got.Timestamp, m.Timestamp)
	}
	return nil
}

// checkRecords compares records read back (in offset order, from offset 0)
// with the produced messages.
func checkRecords(t *testing.T, what, topic string, got []clientRecord, want []clientMsg, strictNull bool) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: read %d records from %s, want %d", what, len(got), topic, len(want))
	}
	for i, r := range got {
		if r.Topic != topic || r.Partition != 0 || r.Offset != int64(i) {
			t.Fatalf("%s: record %d at %s/%d@%d, want %s/0@%d", what, i, r.Topic, r.Partition, r.Offset, topic, i)
		}
		if err := want[i].diff(r.clientMsg, strictNull); err != nil {
			t.Fatalf("%s: %s offset %d: %v", what, topic, i, err)
		}
	}
}

// kgoRecords converts franz-go records for checkRecords, sorted by offset.
func kgoRecords(rs []*kgo.Record) []clientRecord {
	out := make([]clientRecord, 0, len(rs))
	for _, r := range rs {
		cr := clientRecord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}
		cr.Key, cr.Value, cr.Timestamp = r.Key, r.Value, r.Timestamp.UnixMilli()
		for _, h := range r.Headers {
			cr.Headers = append(cr.Headers, clientHeader{Key: h.Key, Value: h.Value})
		}
		out = append(out, cr)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Offset < out[j].Offset })
	return out
}

// requireClient skips (or, under CHRONIK_REQUIRE_CLIENTS, fails) the test.
func requireClient(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CHRONIK_REQUIRE_CLIENTS") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// pythonWith finds a Python 3 that imports module: Debian's python3 (where
// the python3-* packages install) first, then the one on PATH.
func pythonWith(t *testing.T, module string) string {
	t.Helper()
	cands := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		cands = append(cands, p)
	}
	for _, p := range cands {
		if exec.Command(p, "-c", "import "+module).Run() == nil {
			return p
		}
	}
	requireClient(t, "no python3 imports %s (apt-get install the Debian package)", module)
	return ""
}

// scriptEvents is the output of a script: one JSON object per line, each
// with an "event" name.
type scriptEvents struct {
	t     *testing.T
	lines []map[string]json.RawMessage
}

// runScript runs interpreter script addr with spec as JSON on stdin and
// returns its events; it fails the test if the script exits non-zero.
func runScript(t *testing.T, timeout time.Duration, interpreter, script, addr string, spec any) *scriptEvents {
	t.Helper()
	in, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, interpreter, script, addr)
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	runErr := cmd.Run()
	t.Logf("%s ran in %v", filepath.Base(script), time.Since(start).Round(time.Millisecond))
	if os.Getenv("CHRONIK_CLIENTS_LOG") != "" {
		t.Logf("%s stderr:\n%s", filepath.Base(script), stderr.String())
	}
	ev := &scriptEvents{t: t}
	dec := json.NewDecoder(bytes.NewReader(stdout.Bytes()))
	for {
		var line map[string]json.RawMessage
		if err := dec.Decode(&line); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("%s: bad output (%v):\n%s\nstderr:\n%s", script, err, truncate(stdout.String()), truncate(stderr.String()))
		}
		ev.lines = append(ev.lines, line)
	}
	if runErr != nil {
		t.Fatalf("%s %s: %v\nstderr:\n%s\nevents:\n%s", filepath.Base(script), addr, runErr, truncate(stderr.String()), ev.summary())
	}
	return ev
}

func truncate(s string) string {
	if len(s) > 8000 {
		return s[:4000] + "\n...\n" + s[len(s)-4000:]
	}
	return s
}

func (e *scriptEvents) summary() string {
	var b strings.Builder
	for _, l := range e.lines {
		fmt.Fprintf(&b, "%s\n", truncate(fmt.Sprint(mapStrings(l))))
	}
	return b.String()
}

func mapStrings(l map[string]json.RawMessage) map[string]string {
	out := map[string]string{}
	for k, v := range l {
		s := string(v)
		if len(s) > 300 {
			s = s[:300] + "..."
		}
		out[k] = s
	}
	return out
}

// all returns every event named name (whose field "topic" is topic, if
// topic is not empty).
func (e *scriptEvents) all(name, topic string) []map[string]json.RawMessage {
	var out []map[string]json.RawMessage
	for _, l := range e.lines {
		var ev, tp string
		_ = json.Unmarshal(l["event"], &ev)
		_ = json.Unmarshal(l["topic"], &tp)
		if ev == name && (topic == "" || tp == topic) {
			out = append(out, l)
		}
	}
	return out
}

// get decodes the one event name (for topic) into v.
func (e *scriptEvents) get(name, topic string, v any) {
	e.t.Helper()
	evs := e.all(name, topic)
	if len(evs) != 1 {
		e.t.Fatalf("want one %q event for %q, have %d; events:\n%s", name, topic, len(evs), e.summary())
	}
	b, _ := json.Marshal(evs[0])
	if err := json.Unmarshal(b, v); err != nil {
		e.t.Fatalf("decode %q event: %v", name, err)
	}
}

func scriptPath(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("clients", rel))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func wantOffsets(t *testing.T, what string, got []int64, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("%s: %d offsets %v, want %d", what, len(got), got, n)
	}
	for i, o := range got {
		if o != int64(i) {
			t.Fatalf("%s: offsets %v, want 0..%d", what, got, n-1)
		}
	}
}

// bigValue is a 1 MiB value that does not compress to nothing.
func bigValue() []byte {
	b := make([]byte, 1<<20)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
		if i%3 == 0 {
			b[i] = 'a' + byte(i%7)
		}
	}
	return b
}

// TestClientsConfluentKafkaPython drives the broker with
// confluent-kafka-python (Debian's, on librdkafka 2.0.2): AdminClient,
// idempotent producer with every codec and a 1 MiB value, assign-based
// consumer, watermarks and offsets by time.
func TestClientsConfluentKafkaPython(t *testing.T) {
	py := pythonWith(t, "confluent_kafka")
	tb := startBroker(t, "", nil)
	prefix := "ck"
	codecs := []string{"none", "gzip", "snappy", "lz4", "zstd"}
	msgs := clientMessages(t, "confluent", 30)
	big := bigValue()
	ev := runScript(t, 90*time.Second, py, scriptPath(t, "python/confluent_client.py"), tb.addr, map[string]any{
		"prefix": prefix, "codecs": codecs, "messages": msgs, "big_value": big,
	})
	var versions struct{ Client, Librdkafka string }
	ev.get("versions", "", &versions)
	t.Logf("confluent-kafka-python %s, librdkafka %s", versions.Client, versions.Librdkafka)

	var again struct{ Error string }
	ev.get("create_again", "", &again)
	if again.Error != "TOPIC_ALREADY_EXISTS" {
		t.Errorf("create_topics of an existing topic: %s, want TOPIC_ALREADY_EXISTS", again.Error)
	}

	var md struct {
		ClusterID    string `json:"cluster_id"`
		ControllerID int32  `json:"controller_id"`
		Brokers      []struct {
			ID   int32
			Host string
			Port int
		}
		Topics map[string]struct {
			Error      *string
			Partitions []struct {
				ID, Leader     int32
				Replicas, Isrs []int32
				Error          *string
			}
		}
	}
	ev.get("metadata", "", &md)
	if md.ClusterID == "" || md.ControllerID != 1 || len(md.Brokers) != 1 || md.Brokers[0].ID != 1 ||
		fmt.Sprintf("%s:%d", md.Brokers[0].Host, md.Brokers[0].Port) != tb.addr {
		t.Errorf("list_topics cluster: %+v", md)
	}
	if len(md.Topics) != len(codecs)+2 {
		t.Errorf("list_topics: %d topics with prefix, want %d: %+v", len(md.Topics), len(codecs)+2, md.Topics)
	}
	adm := md.Topics[prefix+"-admin"]
	if adm.Error != nil || len(adm.Partitions) != 3 {
		t.Errorf("list_topics %s-admin: %+v", prefix, adm)
	}
	for _, p := range adm.Partitions {
		if p.Error != nil || p.Leader != 1 || fmt.Sprint(p.Replicas) != "[1]" || fmt.Sprint(p.Isrs) != "[1]" {
			t.Errorf("list_topics %s-admin partition %+v", prefix, p)
		}
	}

	big1 := []clientMsg{
		{Key: []byte("big"), Value: big, Headers: []clientHeader{{Key: "size", Value: []byte(fmt.Sprint(len(big)))}}, Timestamp: msgs[0].Timestamp},
		msgs[1],
	}
	type produced struct{ Offsets []int64 }
	type consumed struct{ Records []clientRecord }
	for _, topic := range append(append([]string{}, codecs...), "big") {
		topic = prefix + "-" + topic
		want := msgs
		if strings.HasSuffix(topic, "-big") {
			want = big1
		}
		var p produced
		ev.get("produced", topic, &p)
		wantOffsets(t, "produce "+topic, p.Offsets, len(want))
		var c consumed
		ev.get("consumed", topic, &c)
		checkRecords(t, "confluent consumer", topic, c.Records, want, true)
		var wm struct{ Offsets []int64 }
		ev.get("watermarks", topic, &wm)
		if fmt.Sprint(wm.Offsets) != fmt.Sprintf("[0 %d]", len(want)) {
			t.Errorf("get_watermark_offsets(%s) = %v, want [0 %d]", topic, wm.Offsets, len(want))
		}
	}
	var oft struct {
		Timestamps []int64
		Offsets    []int64
	}
	ev.get("offsets_for_times", prefix+"-none", &oft)
	if fmt.Sprint(oft.Offsets) != fmt.Sprintf("[0 %d -1]", len(msgs)/2) {
		t.Errorf("offsets_for_times(%v) = %v, want [0 %d -1]", oft.Timestamps, oft.Offsets, len(msgs)/2)
	}
	var del struct{ Again string }
	ev.get("deleted", prefix+"-admin", &del)
	if del.Again != "UNKNOWN_TOPIC_OR_PART" {
		t.Errorf("delete_topics of a deleted topic: %s, want UNKNOWN_TOPIC_OR_PART", del.Again)
	}

	// What librdkafka stored, read by another client. librdkafka up to 2.11
	// compresses gzip, snappy and lz4 only if the broker's Produce range
	// includes v0 (rd_kafka_msgset_writer_select_MsgVersion; librdkafka
	// issue 4956, KAFKA-18659), and silently sends them uncompressed
	// otherwise, which the codec check here catches.
	for _, codec := range codecs {
		topic := prefix + "-" + codec
		checkRecords(t, "franz-go", topic, readBack(t, tb.addr, topic, len(msgs), codec), msgs, true)
	}
}

// codecIDs are the record batch compression attribute values.
var codecIDs = map[string]uint8{"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}

// readBack reads topic's n records with franz-go and checks that every
// batch is stored with the codec the client was told to use (Chronik keeps
// the producer's batches as they came), proving the client compressed.
func readBack(t *testing.T, addr, topic string, n int, codec string) []clientRecord {
	t.Helper()
	rs := consumeAll(t, addr, topic, n)
	want, ok := codecIDs[codec]
	if !ok {
		t.Fatalf("unknown codec %q", codec)
	}
	var bad []string
	for _, r := range rs {
		if got := r.Attrs.CompressionType(); got != want {
			bad = append(bad, fmt.Sprintf("%d:%d", r.Offset, got))
		}
	}
	if len(bad) > 0 {
		t.Errorf("%s: records stored with another codec than %s (%d), as offset:codec: %v", topic, codec, want, bad)
	}
	return kgoRecords(rs)
}

// TestClientsKafkaPython drives the broker with kafka-python (Debian's
// 2.0.2), which probes the broker version itself: KafkaProducer with each
// codec whose Python library is installed, a group-less KafkaConsumer
// (assign, seek_to_beginning), end/beginning offsets and offsets by time.
func TestClientsKafkaPython(t *testing.T) {
	py := pythonWith(t, "kafka")
	tb := startBroker(t, "", nil)
	t.Run("probed", func(t *testing.T) { testKafkaPython(t, py, tb, nil) })
	// An old api_version pins Produce v2 / Fetch v3 and message sets of
	// magic 1, up- and down-converted by the broker (no headers, no zstd).
	t.Run("api_version_0_10_1", func(t *testing.T) { testKafkaPython(t, py, tb, []int{0, 10, 1}) })
}

func testKafkaPython(t *testing.T, py string, tb *testBroker, apiVersion []int) {
	prefix := "kpy-"
	codecs := []string{"gzip", "snappy", "lz4", "zstd"}
	// kafka-python 2.0.2's consumer always sends Fetch v4 and Kafka
	// answers UNSUPPORTED_COMPRESSION_TYPE (76) for zstd batches below
	// Fetch v10 (KIP-110; dpkp/kafka-python#2187), as Chronik does: its
	// zstd records are checked with franz-go only.
	consume := []string{"gzip", "snappy", "lz4"}
	// KafkaProducer.send asserts every header value is bytes: no nulls.
	msgs := clientMessages(t, "kafka-python", 30, msgOpts{noNullHeaderValues: true})
	if apiVersion != nil {
		prefix = fmt.Sprintf("kpy%d%d%d-", apiVersion[0], apiVersion[1], apiVersion[2])
		codecs = []string{"none", "gzip", "snappy", "lz4"}
		consume = codecs
		for i := range msgs {
			msgs[i].Headers = nil // magic 1 has none
		}
	}
	topics := map[string]string{}
	for _, c := range codecs {
		topics[c] = prefix + c
		createTopic(t, tb.admin(), topics[c], 1, nil)
	}
	ev := runScript(t, 90*time.Second, py, scriptPath(t, "python/kafka_python_client.py"), tb.addr, map[string]any{
		"topics": topics, "messages": msgs, "consume_codecs": consume, "api_version": apiVersion,
	})

	var versions struct {
		Client string
		Codecs []string
	}
	ev.get("versions", "", &versions)
	t.Logf("kafka-python %s, codecs usable: %v", versions.Client, versions.Codecs)
	if os.Getenv("CHRONIK_REQUIRE_CLIENTS") != "" && len(versions.Codecs) != 4 {
		t.Errorf("kafka-python can use only %v; CI installs python3-snappy, python3-lz4 and python3-zstandard", versions.Codecs)
	}
	for _, l := range ev.all("api_version", "") {
		var v struct {
			Role, Codec string
			Version     []int
		}
		b, _ := json.Marshal(l)
		_ = json.Unmarshal(b, &v)
		t.Logf("kafka-python %s %s uses broker version %v", v.Role, v.Codec, v.Version)
		switch {
		case apiVersion != nil:
			if fmt.Sprint(v.Version) != fmt.Sprint(apiVersion) {
				t.Errorf("kafka-python %s runs at %v, want the pinned %v", v.Role, v.Version, apiVersion)
			}
		// Below 0.11 kafka-python writes the old message format (no
		// headers), below 2.1 it refuses zstd.
		case len(v.Version) < 2 || v.Version[0]*100+v.Version[1] < 201:
			t.Errorf("kafka-python %s detected broker version %v, want at least 2.1", v.Role, v.Version)
		}
	}

	for _, codec := range codecs {
		if codec != "none" && !slices.Contains(versions.Codecs, codec) {
			continue
		}
		topic := topics[codec]
		var p struct{ Offsets []int64 }
		ev.get("produced", topic, &p)
		wantOffsets(t, "produce "+topic, p.Offsets, len(msgs))
		if slices.Contains(consume, codec) {
			var c struct{ Records []clientRecord }
			ev.get("consumed", topic, &c)
			checkRecords(t, "kafka-python consumer", topic, c.Records, msgs, true)
			var o struct{ Beginning, End int64 }
			ev.get("offsets", topic, &o)
			if o.Beginning != 0 || o.End != int64(len(msgs)) {
				t.Errorf("%s: beginning_offsets %d end_offsets %d, want 0 and %d", topic, o.Beginning, o.End, len(msgs))
			}
		}
		checkRecords(t, "franz-go", topic, readBack(t, tb.addr, topic, len(msgs), codec), msgs, true)
	}
	var oft struct {
		Topic      string
		Timestamps []int64
		Found      [][]int64
	}
	ev.get("offsets_for_times", "", &oft)
	mid := len(msgs) / 2
	want := fmt.Sprint([][]int64{{0, msgs[0].Timestamp}, {int64(mid), msgs[mid].Timestamp}, nil})
	if got := fmt.Sprint(oft.Found); got != want {
		t.Errorf("offsets_for_times(%s, %v) = %s, want %s", oft.Topic, oft.Timestamps, got, want)
	}
}

// TestClientsKafkaJS drives the broker with KafkaJS 2.2.4 (npm ci --prefix
// test/clients/node): admin createTopics, listTopics, fetchTopicMetadata,
// describeCluster, fetchTopicOffsets(ByTimestamp), deleteTopics, and an
// idempotent acks=-1 producer with no compression and gzip (the codecs
// KafkaJS ships); the records are read back with franz-go.
func TestClientsKafkaJS(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		requireClient(t, "node not installed")
	}
	if _, err := os.Stat(scriptPath(t, "node/node_modules/kafkajs/package.json")); err != nil {
		requireClient(t, "kafkajs not installed: run npm ci --prefix test/clients/node")
	}
	tb := startBroker(t, "", nil)
	prefix := "kjs"
	codecs := []string{"none", "gzip"}
	// KafkaJS headers are an object: one value per key, never null.
	msgs := clientMessages(t, "kafkajs", 30, msgOpts{noNullHeaderValues: true, noDuplicateHeaders: true})
	ev := runScript(t, 90*time.Second, node, scriptPath(t, "node/kafkajs_client.js"), tb.addr, map[string]any{
		"prefix": prefix, "codecs": codecs, "messages": msgs,
	})
	var versions struct{ Client, Node string }
	ev.get("versions", "", &versions)
	t.Logf("kafkajs %s on node %s", versions.Client, versions.Node)

	var created, again struct{ Result bool }
	ev.get("created", "", &created)
	ev.get("create_again", "", &again)
	if !created.Result || again.Result {
		t.Errorf("createTopics = %v, again = %v; want true, then false (TOPIC_ALREADY_EXISTS)", created.Result, again.Result)
	}
	var listed struct{ Topics []string }
	ev.get("list_topics", "", &listed)
	if got := fmt.Sprint(listed.Topics); got != "[kjs-admin kjs-gzip kjs-none]" {
		t.Errorf("listTopics = %s", got)
	}
	var md struct {
		Topics []struct {
			Name       string
			Partitions []struct {
				ID, Leader, Error int32
				Replicas, Isr     []int32
			}
		}
	}
	ev.get("metadata", "", &md)
	if len(md.Topics) != 3 {
		t.Errorf("fetchTopicMetadata: %d topics, want 3", len(md.Topics))
	}
	for _, tm := range md.Topics {
		want := 1
		if tm.Name == prefix+"-admin" {
			want = 3
		}
		if len(tm.Partitions) != want {
			t.Errorf("fetchTopicMetadata %s: %d partitions, want %d", tm.Name, len(tm.Partitions), want)
		}
		for i, p := range tm.Partitions {
			if p.ID != int32(i) || p.Leader != 1 || p.Error != 0 || fmt.Sprint(p.Replicas) != "[1]" || fmt.Sprint(p.Isr) != "[1]" {
				t.Errorf("fetchTopicMetadata %s partition %+v", tm.Name, p)
			}
		}
	}
	var cl struct {
		ClusterID  string
		Controller int32
		Brokers    []struct {
			NodeID int32
			Host   string
			Port   int
		}
	}
	ev.get("cluster", "", &cl)
	if cl.ClusterID == "" || cl.Controller != 1 || len(cl.Brokers) != 1 || fmt.Sprintf("%s:%d", cl.Brokers[0].Host, cl.Brokers[0].Port) != tb.addr {
		t.Errorf("describeCluster = %+v", cl)
	}

	half := len(msgs) / 2
	for _, codec := range codecs {
		topic := prefix + "-" + codec
		var p struct {
			Results []struct {
				Partition, ErrorCode int32
				BaseOffset           int64
				LogStartOffset       *int64
			}
		}
		ev.get("produced", topic, &p)
		if len(p.Results) != 2 || p.Results[0].BaseOffset != 0 || p.Results[1].BaseOffset != int64(half) ||
			p.Results[0].ErrorCode != 0 || p.Results[1].ErrorCode != 0 {
			t.Errorf("%s: send results %+v, want base offsets 0 and %d", topic, p.Results, half)
		}
		var o struct {
			Offsets []struct{ Partition, Low, High, Offset int64 }
		}
		ev.get("offsets", topic, &o)
		if len(o.Offsets) != 1 || o.Offsets[0].Low != 0 || o.Offsets[0].High != int64(len(msgs)) || o.Offsets[0].Offset != int64(len(msgs)) {
			t.Errorf("%s: fetchTopicOffsets = %+v, want low 0, high %d", topic, o.Offsets, len(msgs))
		}
		var bt struct{ Offsets [][]int64 }
		ev.get("offsets_by_time", topic, &bt)
		// Past the last record Kafka answers -1, which KafkaJS maps to the
		// high watermark.
		if got, want := fmt.Sprint(bt.Offsets), fmt.Sprintf("[[0] [%d] [%d]]", half, len(msgs)); got != want {
			t.Errorf("%s: fetchTopicOffsetsByTimestamp = %s, want %s", topic, got, want)
		}
		checkRecords(t, "franz-go", topic, readBack(t, tb.addr, topic, len(msgs), codec), msgs, true)
	}
	var del struct{ Again string }
	ev.get("deleted", prefix+"-admin", &del)
	if del.Again != "UNKNOWN_TOPIC_OR_PARTITION" {
		t.Errorf("deleteTopics of a deleted topic: %s, want UNKNOWN_TOPIC_OR_PARTITION", del.Again)
	}
}
