package test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/config"
	"github.com/chronik-streaming/chronik/internal/tier/tiertest"
)

// tieredBroker starts a broker whose object store is given by backend,
// bucket and endpoint, uploading often.
func tieredBroker(t *testing.T, dataDir, backend, bucket, endpoint string) *testBroker {
	return startBroker(t, dataDir, func(c *config.Config) {
		c.Storage.Backend, c.Storage.Bucket, c.Storage.Endpoint = backend, bucket, endpoint
		c.Storage.UploadIntervalMs = 200
		c.Storage.MetadataIntervalMs = 300
	})
}

// tieredTopicConfigs makes small segments that roll fast and keeps nothing
// locally that the bucket holds.
func tieredTopicConfigs() map[string]*string {
	return map[string]*string{
		"remote.storage.enable": strp("true"),
		"segment.bytes":         strp("16384"),
		"segment.ms":            strp("1000"),
		"local.retention.bytes": strp("0"),
	}
}

// tieredRecords are n records with keys, values and headers a user would
// check, produced across the partitions.
func produceTiered(t *testing.T, cl *kgo.Client, topic string, from, n int) []*kgo.Record {
	t.Helper()
	var out []*kgo.Record
	for i := from; i < from+n; i++ {
		r := &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "key-%d", i), Value: fmt.Appendf(nil, `{"n":%d,"pad":"%s"}`, i, strings.Repeat("x", 200)),
			Headers: []kgo.RecordHeader{{Key: "seq", Value: fmt.Appendf(nil, "%d", i)}}}
		out = append(out, r)
	}
	for _, res := range cl.ProduceSync(testContext(t), out...) {
		if res.Err != nil {
			t.Fatalf("produce: %v", res.Err)
		}
	}
	return out
}

// listOffset asks ListOffsets with a special timestamp for one partition.
func listOffset(t *testing.T, cl *kgo.Client, topic string, partition int32, ts int64) int64 {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version = 9 // -4 (earliest local) and -5 (latest tiered)
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = partition, ts, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testContext(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	p := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		t.Fatalf("list offsets %d: %v", ts, err)
	}
	return p.Offset
}

// checkRecords consumes topic from the start and compares every record
// with what was produced: key, value, header, and per-partition order.
func checkTieredRecords(t *testing.T, addr, topic string, want []*kgo.Record) {
	t.Helper()
	start := time.Now()
	// Reads from the bucket are slower than local ones, more so on a
	// loaded CI machine: a longer wait than consumeAll's.
	got := consumeAllWithin(t, addr, topic, len(want), 2*time.Minute)
	t.Logf("read %d records of %s back in %v", len(got), topic, time.Since(start).Round(time.Millisecond))
	byKey := map[string]*kgo.Record{}
	for _, r := range got {
		if _, dup := byKey[string(r.Key)]; dup {
			t.Fatalf("record %s twice", r.Key)
		}
		byKey[string(r.Key)] = r
	}
	for _, w := range want {
		g := byKey[string(w.Key)]
		if g == nil || !bytes.Equal(g.Value, w.Value) || len(g.Headers) != 1 || !bytes.Equal(g.Headers[0].Value, w.Headers[0].Value) ||
			g.Partition != w.Partition || g.Offset != w.Offset {
			t.Fatalf("record %s: got %+v, want partition %d offset %d", w.Key, g, w.Partition, w.Offset)
		}
	}
}

// waitTiered waits until every partition's data below its end is in the
// bucket and gone from local disk but for the active segment.
func waitTiered(t *testing.T, cl *kgo.Client, topic string, partitions int32) {
	t.Helper()
	adm := kadm.NewClient(cl)
	waitFor(t, 45*time.Second, "segments uploaded and deleted locally", func() bool {
		ends, err := adm.ListEndOffsets(testContext(t), topic)
		if err != nil {
			return false
		}
		for p := int32(0); p < partitions; p++ {
			end, _ := ends.Lookup(topic, p)
			tiered := listOffset(t, cl, topic, p, -5)
			local := listOffset(t, cl, topic, p, -4)
			// All but the active segment: it rolls by segment.ms.
			if tiered < 0 || tiered+1 < end.Offset || local == 0 {
				return false
			}
		}
		return true
	})
}

func TestTieringFileBackend(t *testing.T) {
	bucket := t.TempDir()
	tb := tieredBroker(t, "", "file", bucket, "")
	adm := tb.admin()
	ctx := testContext(t)
	createTopic(t, adm, "tiered", 2, tieredTopicConfigs())

	// Remote storage is refused where Kafka refuses it.
	if r, _ := adm.CreateTopic(ctx, 1, 1, map[string]*string{"remote.storage.enable": strp("true"), "cleanup.policy": strp("compact")}, "compacted"); !errors.Is(r.Err, kerr.InvalidConfig) {
		t.Fatalf("remote storage on a compacted topic: %v", r.Err)
	}
	if r, _ := adm.CreateTopic(ctx, 1, 1, map[string]*string{"remote.storage.enable": strp("true"), "retention.ms": strp("1000"), "local.retention.ms": strp("2000")}, "longer"); !errors.Is(r.Err, kerr.InvalidConfig) {
		t.Fatalf("local retention above total: %v", r.Err)
	}

	cl := newClient(t, tb.addr, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	sent := produceTiered(t, cl, "tiered", 0, 600)
	waitTiered(t, cl, "tiered", 2)
	if start := listOffset(t, cl, "tiered", 0, -2); start != 0 {
		t.Fatalf("earliest offset %d, want 0 (from the bucket)", start)
	}
	if entries, _ := os.ReadDir(filepath.Join(tb.cfg.Server.DataDir, "tiered-0")); countSuffix(entries, ".log") > 1 {
		t.Fatalf("local segments kept: %d", countSuffix(entries, ".log"))
	}
	// A consumer from offset 0 reads everything back, exact.
	checkTieredRecords(t, tb.addr, "tiered", sent)
	// By time: the first record's timestamp finds offset 0 in the bucket.
	if o, err := adm.ListOffsetsAfterMilli(ctx, sent[0].Timestamp.UnixMilli(), "tiered"); err != nil {
		t.Fatal(err)
	} else if lo, _ := o.Lookup("tiered", sent[0].Partition); lo.Offset != 0 {
		t.Fatalf("offset by time %d", lo.Offset)
	}
	// A group's committed offsets come back with a restore.
	if err := adm.CommitAllOffsets(ctx, "readers", offsetsOf("tiered", map[int32]int64{0: 123, 1: 45})); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // a metadata upload

	// A new broker on an empty data directory, same bucket: the topic
	// (same id), its configs, the data and the offsets are back, and new
	// records continue the offsets.
	oldID := topicID(t, adm, "tiered")
	tb.stop()
	tb2 := tieredBroker(t, "", "file", bucket, "")
	adm2 := tb2.admin()
	if id := topicID(t, adm2, "tiered"); id != oldID {
		t.Fatalf("restored topic id %s, was %s", id, oldID)
	}
	checkTieredRecords(t, tb2.addr, "tiered", sent)
	os2, err := adm2.FetchOffsets(ctx, "readers")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := os2.Lookup("tiered", 0); o.At != 123 {
		t.Fatalf("restored committed offset %d", o.At)
	}
	cl2 := newClient(t, tb2.addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	r := &kgo.Record{Topic: "tiered", Partition: 0, Value: []byte("after restore")}
	if err := cl2.ProduceSync(ctx, r).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if r.Offset != 300 {
		t.Fatalf("first offset after restore %d, want 300", r.Offset)
	}
	rcs, err := adm2.DescribeTopicConfigs(ctx, "tiered")
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := rcs.On("tiered", nil)
	for _, c := range rc.Configs {
		if c.Key == "segment.bytes" && c.MaybeValue() != "16384" {
			t.Fatalf("restored config segment.bytes = %s", c.MaybeValue())
		}
	}

	// Deleting the topic deletes its objects.
	if _, err := adm2.DeleteTopic(ctx, "tiered"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "objects deleted", func() bool {
		n := 0
		_ = filepath.WalkDir(bucket, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.Contains(p, "/topics/") {
				n++
			}
			return nil
		})
		return n == 0
	})
}

func countSuffix(entries []os.DirEntry, suffix string) int {
	n := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), suffix) {
			n++
		}
	}
	return n
}

func topicID(t *testing.T, adm *kadm.Client, topic string) string {
	t.Helper()
	d, err := adm.ListTopics(testContext(t), topic)
	if err != nil || d[topic].Err != nil {
		t.Fatalf("describe %s: %v %v", topic, err, d[topic].Err)
	}
	return d[topic].ID.String()
}

// TestTieringMinIO runs tiered storage on a real S3 server: uploads, reads
// from the bucket, a store that stops answering (producers carry on,
// readiness and metrics say uploads are behind, a fetch of a remote segment
// fails in bounded time), recovery, and a restore from the bucket.
func TestTieringMinIO(t *testing.T) {
	minio := tiertest.Start(t)
	tb := tieredBroker(t, "", "s3", minio.Bucket, minio.Endpoint)
	adm := tb.admin()
	ctx := testContext(t)
	cfgs := tieredTopicConfigs()
	cfgs["segment.bytes"] = strp("65536")
	createTopic(t, adm, "events", 1, cfgs)
	cl := newClient(t, tb.addr, kgo.ProducerBatchCompression(kgo.NoCompression())) // 1.8 MB stored
	sent := produceTiered(t, cl, "events", 0, 7000)
	waitTiered(t, cl, "events", 1)
	checkTieredRecords(t, tb.addr, "events", sent)

	// The store stops answering: producers are unaffected.
	if err := minio.Freeze(); err != nil {
		t.Fatal(err)
	}
	thawed := false
	defer func() {
		if !thawed {
			_ = minio.Thaw()
		}
	}()
	more := produceTiered(t, cl, "events", 7000, 200)
	waitFor(t, 40*time.Second, "readiness reports uploads behind", func() bool {
		code, body := httpGet(t, tb.b.HTTPAddr(), "/ready")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "upload")
	})
	if v := metricValue(t, tb.b.HTTPAddr(), "chronik_tiered_pending_bytes"); v <= 0 {
		t.Fatalf("pending bytes %v while the store is down", v)
	}
	// A restart while the store is down: the broker starts and serves
	// producers.
	tb = tb.restart()
	cl = newClient(t, tb.addr, kgo.ProducerBatchCompression(kgo.NoCompression()))
	more = append(more, produceTiered(t, cl, "events", 7200, 100)...)
	// A fetch of a remote segment not in the (emptied) cache answers an
	// error in bounded time.
	start := time.Now()
	code := rawFetchError(t, cl, "events", 0)
	if code != kerr.KafkaStorageError.Code || time.Since(start) > 30*time.Second {
		t.Fatalf("fetch with the store down: error %d after %v", code, time.Since(start))
	}

	// The store is back: uploads resume, everything reads back.
	if err := minio.Thaw(); err != nil {
		t.Fatal(err)
	}
	thawed = true
	waitTiered(t, cl, "events", 1)
	waitFor(t, 30*time.Second, "ready again", func() bool {
		code, _ := httpGet(t, tb.b.HTTPAddr(), "/ready")
		return code == http.StatusOK
	})
	checkTieredRecords(t, tb.addr, "events", append(sent, more...))

	// A broker on an empty data directory serves the old data and
	// continues the offsets.
	time.Sleep(time.Second) // a metadata upload
	tb.stop()
	tb2 := tieredBroker(t, "", "s3", minio.Bucket, minio.Endpoint)
	checkTieredRecords(t, tb2.addr, "events", append(sent, more...))
	cl2 := newClient(t, tb2.addr)
	r := &kgo.Record{Topic: "events", Value: []byte("after restore")}
	if err := cl2.ProduceSync(ctx, r).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if r.Offset != 7300 {
		t.Fatalf("first offset after restore %d, want 7300", r.Offset)
	}
}

func httpGet(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metricValue sums a metric's samples in /metrics.
func metricValue(t *testing.T, addr, name string) float64 {
	t.Helper()
	_, body := httpGet(t, addr, "/metrics")
	var sum float64
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, name+" ") || strings.HasPrefix(line, name+"{") {
			var v float64
			if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
				sum += v
			}
		}
	}
	return sum
}

// rawFetchError fetches offset 0 of a partition once and returns the
// partition's error code.
func rawFetchError(t *testing.T, cl *kgo.Client, topic string, partition int32) int16 {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.MaxWaitMillis, req.MaxBytes, req.ReplicaID = 12, 100, 1<<20, -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic // v12 and below
	d, err := kadm.NewClient(cl).ListTopics(testContext(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	rt.TopicID = d[topic].ID // v13 and above (the client picks the version)
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = partition, 0, 1<<20, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode); err != nil {
		t.Logf("fetch at offset 0: %v", err)
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}

// TestTieringKill9 kills the broker (kill -9) again and again while it
// uploads segments and writes manifests: after each restart every
// acknowledged record is read back exactly once, and no manifest in the
// bucket names an object that does not exist.
func TestTieringKill9(t *testing.T) {
	bucket := t.TempDir()
	dir := t.TempDir()
	pb := startProcBroker(t, dir, "--backend", "file", "--bucket", bucket, "--upload-interval-ms", "50", "--metadata-interval-ms", "200")
	adm := kadm.NewClient(newClient(t, pb.addr))
	createTopic(t, adm, "crashy", 2, map[string]*string{
		"remote.storage.enable": strp("true"), "segment.bytes": strp("8192"), "segment.ms": strp("1000"), "local.retention.bytes": strp("0"),
	})
	acked := map[string]bool{}
	next := 0
	for round := 0; round < 4; round++ {
		// Not idempotent: an idempotent producer may not give up on records
		// whose fate it cannot know, and would hang on the dead broker.
		cl := newClient(t, pb.addr, kgo.DisableIdempotentWrite(), kgo.RecordRetries(0), kgo.RecordDeliveryTimeout(5*time.Second))
		stopAt := time.Now().Add(time.Duration(400+round*250) * time.Millisecond)
		killed := make(chan struct{})
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			time.Sleep(time.Until(stopAt))
			pb.kill()
			cancel() // the client would keep dialing the dead broker
			close(killed)
		}()
	produce:
		for {
			var batch []*kgo.Record
			for range 20 {
				batch = append(batch, &kgo.Record{Topic: "crashy", Key: fmt.Appendf(nil, "r%d", next), Value: bytes.Repeat([]byte{'v'}, 300)})
				next++
			}
			for _, res := range cl.ProduceSync(ctx, batch...) {
				if res.Err != nil {
					break produce
				}
				acked[string(res.Record.Key)] = true
			}
		}
		<-killed
		cl.Close()
		pb.start()
		adm = kadm.NewClient(newClient(t, pb.addr))
	}
	t.Logf("%d records acknowledged over 4 kill -9 rounds", len(acked))

	// Everything closed gets uploaded again after the restarts, and a
	// consumer from 0 reads every acknowledged record once.
	cl := newClient(t, pb.addr)
	waitTiered(t, cl, "crashy", 2)
	ends, err := kadm.NewClient(cl).ListEndOffsets(testContext(t), "crashy")
	if err != nil {
		t.Fatal(err)
	}
	total := 0 // acknowledged, and written but unacknowledged at a kill
	ends.Each(func(o kadm.ListedOffset) { total += int(o.Offset) })
	got := consumeAll(t, pb.addr, "crashy", total)
	seen := map[string]bool{}
	for _, r := range got {
		k := string(r.Key)
		if seen[k] {
			t.Fatalf("record %s twice", k)
		}
		seen[k] = true
	}
	for k := range acked {
		if !seen[k] {
			t.Fatalf("acknowledged record %s lost", k)
		}
	}
	// Manifests name only objects that exist.
	manifests := 0
	_ = filepath.WalkDir(bucket, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Base(p) != "manifest.json" {
			return nil
		}
		manifests++
		var m struct {
			Segments []struct {
				Files map[string]struct {
					Key string `json:"key"`
				} `json:"files"`
			} `json:"segments"`
		}
		data, _ := os.ReadFile(p)
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for _, s := range m.Segments {
			for _, f := range s.Files {
				if _, err := os.Stat(filepath.Join(bucket, f.Key)); err != nil {
					t.Fatalf("%s names %s: %v", p, f.Key, err)
				}
			}
		}
		return nil
	})
	if manifests != 2 {
		t.Fatalf("%d manifests", manifests)
	}
}

// consumeAllWithin reads partitions of topic from the start until it has n
// records, failing after d.
func consumeAllWithin(t *testing.T, addr, topic string, n int, d time.Duration) []*kgo.Record {
	t.Helper()
	cl := newClient(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records before timeout", len(out), n)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		out = append(out, fs.Records()...)
	}
	return out
}
