package test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/chronik-streaming/chronik/internal/batch"
	"github.com/chronik-streaming/chronik/internal/compress"
)

// fetchRaw fetches one partition at offset with a pinned version.
func fetchRaw(t *testing.T, cl *kgo.Client, version int16, topic string, offset int64, maxBytes int32) kmsg.FetchResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.Version = version
	req.MaxWaitMillis = 0
	req.MaxBytes = maxBytes
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset = offset
	rp.PartitionMaxBytes = maxBytes
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	kresp, err := cl.Request(testContext(t), req)
	if err != nil {
		t.Fatalf("fetch v%d: %v", version, err)
	}
	return kresp.(*kmsg.FetchResponse).Topics[0].Partitions[0]
}

func TestFetchEdges(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb.admin(), "edges", 1, nil)
	cl := tb.client(kgo.DefaultProduceTopic("edges"), kgo.ProducerBatchCompression(kgo.ZstdCompression()), kgo.MaxVersions(maxVersions(12)))
	// Three batches: offsets 0-3, 4-7, 8-11.
	for b := 0; b < 3; b++ {
		var rs []*kgo.Record
		for i := 0; i < 4; i++ {
			rs = append(rs, &kgo.Record{Value: bytes.Repeat([]byte{byte(b), byte(i)}, 500)}) // compressible: kgo sends zstd
		}
		if err := cl.ProduceSync(testContext(t), rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	// Mid-batch: the whole batch containing offset 6 comes back.
	p := fetchRaw(t, cl, 12, "edges", 6, 1<<20)
	if p.ErrorCode != 0 || p.HighWatermark != 12 {
		t.Fatalf("fetch at 6: %+v", p)
	}
	h, err := batch.ParseHeader(p.RecordBatches)
	if err != nil || h.BaseOffset != 4 {
		t.Fatalf("first batch at 6: base %d, %v", h.BaseOffset, err)
	}
	// A limit smaller than one batch still returns the first batch whole.
	p = fetchRaw(t, cl, 12, "edges", 0, 10)
	if h, err := batch.Validate(p.RecordBatches); err != nil || h.BaseOffset != 0 || int64(len(p.RecordBatches)) != h.Size() {
		t.Fatalf("tiny limit: %d bytes, %v", len(p.RecordBatches), err)
	}
	// At the end: empty, no error. Beyond: OFFSET_OUT_OF_RANGE.
	if p = fetchRaw(t, cl, 12, "edges", 12, 1<<20); p.ErrorCode != 0 || len(p.RecordBatches) != 0 {
		t.Fatalf("fetch at end: %+v", p)
	}
	if p = fetchRaw(t, cl, 12, "edges", 13, 1<<20); p.ErrorCode != kerr.OffsetOutOfRange.Code || p.HighWatermark != 12 {
		t.Fatalf("fetch beyond end: %+v", p)
	}
	// zstd to a client too old for it (Fetch < v10).
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.MaxBytes = 9, 1<<20
	req.Topics = []kmsg.FetchRequestTopic{{Topic: "edges", Partitions: []kmsg.FetchRequestTopicPartition{{Partition: 0, PartitionMaxBytes: 1 << 20, CurrentLeaderEpoch: -1}}}}
	if p = roundTrip(t, tb.addr, req).(*kmsg.FetchResponse).Topics[0].Partitions[0]; p.ErrorCode != kerr.UnsupportedCompressionType.Code {
		t.Fatalf("zstd to fetch v9: %+v", p)
	}
}

// TestCompressionTypeRecompresses: a topic with compression.type=gzip stores
// gzip batches whatever the producer sent, and consumers read the same
// records.
func TestCompressionTypeRecompresses(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb.admin(), "gz", 1, map[string]*string{"compression.type": strp("gzip")})
	cl := tb.client(kgo.DefaultProduceTopic("gz"), kgo.ProducerBatchCompression(kgo.Lz4Compression()), kgo.MaxVersions(maxVersions(12)))
	want := []*kgo.Record{{Key: []byte("a"), Value: []byte("one")}, {Value: []byte("two"), Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("v")}}}}
	if err := cl.ProduceSync(testContext(t), want...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	p := fetchRaw(t, cl, 12, "gz", 0, 1<<20)
	h, err := batch.Validate(p.RecordBatches)
	if err != nil || h.Codec() != compress.Gzip {
		t.Fatalf("stored batch codec %d, %v; want gzip", h.Codec(), err)
	}
	assertSameRecords(t, want, consumeAll(t, tb.addr, "gz", 2))
}

// maxVersions caps Fetch so the test controls its version.
func maxVersions(fetch int16) *kversion.Versions {
	v := kversion.Stable()
	v.SetMaxKeyVersion(int16(kmsg.Fetch), fetch)
	return v
}

// TestDeleteRecords moves the log start mid-segment: ListOffsets earliest
// follows, fetching below it is out of range, and it survives a restart.
func TestDeleteRecords(t *testing.T) {
	tb := startBroker(t, "", nil)
	adm := tb.admin()
	createTopic(t, adm, "trim", 1, nil)
	produceN(t, tb.client(kgo.RecordPartitioner(kgo.ManualPartitioner())), "trim", 1, 30)
	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: "trim", Partition: 0, At: 12})
	res, err := adm.DeleteRecords(testContext(t), os)
	if err != nil || res.Error() != nil {
		t.Fatalf("delete records: %v %v", err, res.Error())
	}
	if r, _ := res.Lookup("trim", 0); r.LowWatermark != 12 {
		t.Fatalf("low watermark %d, want 12", r.LowWatermark)
	}
	start, _ := adm.ListStartOffsets(testContext(t), "trim")
	if o, _ := start.Lookup("trim", 0); o.Offset != 12 {
		t.Fatalf("earliest offset %d, want 12", o.Offset)
	}
	got := consumeAll(t, tb.addr, "trim", 18)
	if got[0].Offset != 12 || len(got) != 18 {
		t.Fatalf("consumed from %d (%d records), want 12..29", got[0].Offset, len(got))
	}
	// Beyond the high watermark is refused.
	var far kadm.Offsets
	far.Add(kadm.Offset{Topic: "trim", Partition: 0, At: 99})
	if res, _ := adm.DeleteRecords(testContext(t), far); !errors.Is(res.Error(), kerr.OffsetOutOfRange) {
		t.Fatalf("delete beyond the end: %v", res.Error())
	}
	tb = tb.restart()
	start, _ = tb.admin().ListStartOffsets(testContext(t), "trim")
	if o, _ := start.Lookup("trim", 0); o.Offset != 12 {
		t.Fatalf("after restart earliest offset %d, want 12", o.Offset)
	}
}

// TestRetentionDeletesOldSegments: closed segments whose records are older
// than retention.ms are deleted by the broker's maintenance; the log start
// moves to a segment boundary and consumers start there.
func TestRetentionDeletesOldSegments(t *testing.T) {
	skipIfShort(t)
	tb := startBroker(t, "", nil)
	adm := tb.admin()
	createTopic(t, adm, "short", 1, map[string]*string{"retention.ms": strp("60000"), "segment.bytes": strp("2000")})
	cl := tb.client(kgo.DefaultProduceTopic("short"), kgo.ProducerBatchCompression(kgo.NoCompression()))
	old := time.Now().Add(-time.Hour)
	for i := 0; i < 20; i++ { // one ~300-byte batch each: several segments
		r := &kgo.Record{Value: bytes.Repeat([]byte{'o'}, 200), Timestamp: old}
		if err := cl.ProduceSync(testContext(t), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.ProduceSync(testContext(t), &kgo.Record{Value: []byte("fresh")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	var start int64
	waitFor(t, 20*time.Second, "old segments deleted", func() bool {
		so, err := adm.ListStartOffsets(context.Background(), "short")
		if err != nil {
			return false
		}
		o, _ := so.Lookup("short", 0)
		start = o.Offset
		return start > 0
	})
	got := consumeAll(t, tb.addr, "short", int(21-start))
	if got[0].Offset != start || string(got[len(got)-1].Value) != "fresh" {
		t.Fatalf("after retention: first offset %d (start %d), last %q", got[0].Offset, start, got[len(got)-1].Value)
	}
}
