package test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/batch"
)

// legacyMessage encodes one uncompressed message of magic 0 or 1.
func legacyMessage(magic int8, ts int64, key, value []byte) []byte {
	var body []byte
	body = append(body, byte(magic), 0)
	if magic == 1 {
		body = binary.BigEndian.AppendUint64(body, uint64(ts))
	}
	for _, b := range [][]byte{key, value} {
		if b == nil {
			body = binary.BigEndian.AppendUint32(body, 0xffffffff)
			continue
		}
		body = binary.BigEndian.AppendUint32(body, uint32(len(b)))
		body = append(body, b...)
	}
	msg := binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(body))
	msg = append(msg, body...)
	out := binary.BigEndian.AppendUint64(nil, 0)
	out = binary.BigEndian.AppendUint32(out, uint32(len(msg)))
	return append(out, msg...)
}

// TestProduceLegacyMessageSets sends Produce v0 (magic 0) and v2 (magic 1)
// as old clients do; a modern consumer reads the records back.
func TestProduceLegacyMessageSets(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb.admin(), "legacy", 1, nil)
	send := func(version int16, set []byte) kmsg.ProduceResponseTopicPartition {
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.Acks, req.TimeoutMillis = version, -1, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "legacy"
		rt.Partitions = []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: set}}
		req.Topics = append(req.Topics, rt)
		return roundTrip(t, tb.addr, req).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	}
	v0 := append(legacyMessage(0, 0, []byte("k0"), []byte("magic zero")), legacyMessage(0, 0, nil, []byte("no key"))...)
	if p := send(0, v0); p.ErrorCode != 0 || p.BaseOffset != 0 {
		t.Fatalf("produce v0: %+v", p)
	}
	if p := send(2, legacyMessage(1, 1700000000123, []byte("k1"), nil)); p.ErrorCode != 0 || p.BaseOffset != 2 {
		t.Fatalf("produce v2: %+v", p)
	}
	bad := legacyMessage(1, 1, nil, []byte("x"))
	bad[len(bad)-1] ^= 1
	if p := send(2, bad); p.ErrorCode != 2 {
		t.Fatalf("bad crc: %+v, want CORRUPT_MESSAGE", p)
	}
	got := consumeAll(t, tb.addr, "legacy", 3)
	if string(got[0].Key) != "k0" || string(got[0].Value) != "magic zero" || got[1].Key != nil || string(got[1].Value) != "no key" {
		t.Fatalf("magic 0 records: %+v %+v", got[0], got[1])
	}
	if string(got[2].Key) != "k1" || got[2].Value != nil || got[2].Timestamp.UnixMilli() != 1700000000123 {
		t.Fatalf("magic 1 record: key %q value %v ts %v", got[2].Key, got[2].Value, got[2].Timestamp)
	}
}

// TestFetchLegacyVersions: Fetch v0-v3 get message sets of magic 0 and 1
// (down-converted, headers dropped); zstd is refused below v10.
func TestFetchLegacyVersions(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb.admin(), "old", 1, nil)
	createTopic(t, tb.admin(), "oldz", 1, nil)
	cl := tb.client(kgo.DefaultProduceTopic("old"), kgo.ProducerBatchCompression(kgo.GzipCompression()))
	want := []*kgo.Record{{Key: []byte("k"), Value: bytes.Repeat([]byte("v"), 300), Headers: []kgo.RecordHeader{{Key: "dropped"}}}, {Value: []byte("second")}}
	if err := cl.ProduceSync(testContext(t), want...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	zc := tb.client(kgo.DefaultProduceTopic("oldz"), kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	if err := zc.ProduceSync(testContext(t), &kgo.Record{Value: bytes.Repeat([]byte("z"), 500)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for _, version := range []int16{0, 1, 2, 3} {
		req := kmsg.NewPtrFetchRequest()
		req.Version, req.MaxBytes, req.MinBytes = version, 1<<20, 1
		req.Topics = []kmsg.FetchRequestTopic{{Topic: "old", Partitions: []kmsg.FetchRequestTopicPartition{{Partition: 0, PartitionMaxBytes: 1 << 20}}}}
		p := roundTrip(t, tb.addr, req).(*kmsg.FetchResponse).Topics[0].Partitions[0]
		if p.ErrorCode != 0 || p.HighWatermark != 2 {
			t.Fatalf("fetch v%d: %+v", version, p)
		}
		wantMagic := byte(1)
		if version < 2 {
			wantMagic = 0
		}
		if len(p.RecordBatches) < 17 || p.RecordBatches[16] != wantMagic {
			t.Fatalf("fetch v%d: magic %v, want %d", version, p.RecordBatches[16:17], wantMagic)
		}
		// Up-convert again to read it back: same keys and values.
		b, err := batch.ConvertLegacy(p.RecordBatches, 0)
		if err != nil {
			t.Fatalf("fetch v%d: answer is not a valid message set: %v", version, err)
		}
		recs, err := batch.Records(b)
		if err != nil || len(recs) != 2 || string(recs[0].Key) != "k" || !bytes.Equal(recs[0].Value, want[0].Value) || string(recs[1].Value) != "second" || len(recs[0].Headers) != 0 {
			t.Fatalf("fetch v%d: records %+v, %v", version, recs, err)
		}
		req.Topics[0].Topic = "oldz"
		if p := roundTrip(t, tb.addr, req).(*kmsg.FetchResponse).Topics[0].Partitions[0]; p.ErrorCode != kerr.UnsupportedCompressionType.Code {
			t.Fatalf("zstd to fetch v%d: %+v", version, p)
		}
	}
}
