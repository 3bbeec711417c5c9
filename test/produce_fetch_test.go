package test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestProduceConsumeEveryCodec produces keyed, headered, null-key and
// empty-value records with each codec through an idempotent producer and
// reads them back exactly, partition by partition, in order.
func TestProduceConsumeEveryCodec(t *testing.T) {
	tb := startBroker(t, "", nil)
	codecs := map[string]kgo.CompressionCodec{
		"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
		"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
	}
	for name, codec := range codecs {
		t.Run(name, func(t *testing.T) {
			topic := "codec-" + name
			createTopic(t, tb.admin(), topic, 3, nil)
			cl := tb.client(kgo.ProducerBatchCompression(codec), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DefaultProduceTopic(topic))
			var want []*kgo.Record
			for i := 0; i < 300; i++ {
				r := &kgo.Record{Partition: int32(i % 3), Value: []byte(strings.Repeat(fmt.Sprintf("value-%d ", i), i%7))}
				if i%5 != 0 {
					r.Key = []byte(fmt.Sprintf("key-%d", i))
				}
				if i%3 == 0 {
					r.Headers = []kgo.RecordHeader{{Key: "h", Value: []byte(fmt.Sprint(i))}, {Key: "empty"}}
				}
				want = append(want, r)
			}
			if err := cl.ProduceSync(testContext(t), want...).FirstErr(); err != nil {
				t.Fatalf("produce: %v", err)
			}
			got := consumeAll(t, tb.addr, topic, len(want), kgo.RecordPartitioner(kgo.ManualPartitioner()))
			assertSameRecords(t, want, got)
		})
	}
}

// assertSameRecords checks that got holds exactly want (matched by partition
// and offset) with identical keys, values, headers.
func assertSameRecords(t *testing.T, want, got []*kgo.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	type po struct {
		p int32
		o int64
	}
	byPos := map[po]*kgo.Record{}
	nextOffset := map[int32]int64{}
	for _, r := range got {
		if r.Offset != nextOffset[r.Partition] {
			t.Fatalf("partition %d: offset %d, want %d (gap, duplicate or reorder)", r.Partition, r.Offset, nextOffset[r.Partition])
		}
		nextOffset[r.Partition]++
		byPos[po{r.Partition, r.Offset}] = r
	}
	for _, w := range want {
		g := byPos[po{w.Partition, w.Offset}]
		if g == nil {
			t.Fatalf("record %d/%d missing", w.Partition, w.Offset)
		}
		if !bytes.Equal(g.Key, w.Key) || (g.Key == nil) != (w.Key == nil) {
			t.Fatalf("record %d/%d key %q, want %q", w.Partition, w.Offset, g.Key, w.Key)
		}
		if !bytes.Equal(g.Value, w.Value) {
			t.Fatalf("record %d/%d value %q, want %q", w.Partition, w.Offset, g.Value, w.Value)
		}
		if len(g.Headers) != len(w.Headers) {
			t.Fatalf("record %d/%d headers %v, want %v", w.Partition, w.Offset, g.Headers, w.Headers)
		}
		for i := range w.Headers {
			if g.Headers[i].Key != w.Headers[i].Key || !bytes.Equal(g.Headers[i].Value, w.Headers[i].Value) {
				t.Fatalf("record %d/%d header %d = %v, want %v", w.Partition, w.Offset, i, g.Headers[i], w.Headers[i])
			}
		}
	}
}

// TestLargeMessages: a 1 MiB value is refused by default and accepted on a
// topic whose max.message.bytes was raised.
func TestLargeMessages(t *testing.T) {
	tb := startBroker(t, "", nil)
	adm := tb.admin()
	createTopic(t, adm, "small", 1, nil)
	createTopic(t, adm, "big", 1, map[string]*string{"max.message.bytes": strp("3000000")})
	value := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB, incompressible enough? no compression below
	cl := tb.client(kgo.ProducerBatchMaxBytes(4<<20), kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RecordRetries(1))

	err := cl.ProduceSync(testContext(t), &kgo.Record{Topic: "small", Value: value}).FirstErr()
	if !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("1 MiB to default topic: err %v, want MESSAGE_TOO_LARGE", err)
	}
	r := &kgo.Record{Topic: "big", Key: []byte("k"), Value: value}
	if err := cl.ProduceSync(testContext(t), r).FirstErr(); err != nil {
		t.Fatalf("1 MiB to big topic: %v", err)
	}
	got := consumeAll(t, tb.addr, "big", 1, kgo.FetchMaxBytes(1<<20), kgo.FetchMaxPartitionBytes(1<<20))
	if !bytes.Equal(got[0].Value, value) {
		t.Fatalf("1 MiB value came back with %d bytes", len(got[0].Value))
	}
}

// TestRestartKeepsEverything: records, offsets, topic ids and the cluster id
// survive a clean restart, and producing continues at the next offset.
func TestRestartKeepsEverything(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb.admin(), "durable", 2, nil)
	cl := tb.client(kgo.DefaultProduceTopic("durable"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var want []*kgo.Record
	for i := 0; i < 100; i++ {
		want = append(want, &kgo.Record{Partition: int32(i % 2), Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprintf("v%d", i))})
	}
	if err := cl.ProduceSync(testContext(t), want...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	topicsBefore, err := tb.admin().ListTopics(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	cl.Close()

	tb = tb.restart()
	topicsAfter, err := tb.admin().ListTopics(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	if topicsAfter["durable"].ID != topicsBefore["durable"].ID {
		t.Fatalf("topic id changed across restart: %v -> %v", topicsBefore["durable"].ID, topicsAfter["durable"].ID)
	}
	more := []*kgo.Record{{Partition: 0, Value: []byte("after")}, {Partition: 1, Value: []byte("after")}}
	cl = tb.client(kgo.DefaultProduceTopic("durable"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := cl.ProduceSync(testContext(t), more...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if more[0].Offset != 50 || more[1].Offset != 50 {
		t.Fatalf("offsets after restart: %d, %d; want 50, 50", more[0].Offset, more[1].Offset)
	}
	got := consumeAll(t, tb.addr, "durable", 102, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	assertSameRecords(t, append(want, more...), got)
}

// TestLongPollWakesOnProduce: a fetch waiting at the end of the log returns
// as soon as a record arrives, well before its max wait.
func TestLongPollWakesOnProduce(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb.admin(), "poll", 1, nil)
	consumer := tb.client(kgo.ConsumeTopics("poll"), kgo.FetchMaxWait(20*time.Second))
	got := make(chan *kgo.Record, 1)
	go func() {
		fs := consumer.PollFetches(testContext(t))
		if rs := fs.Records(); len(rs) > 0 {
			got <- rs[0]
		}
	}()
	time.Sleep(500 * time.Millisecond) // let the fetch park at the end of the log
	start := time.Now()
	if err := tb.client().ProduceSync(testContext(t), &kgo.Record{Topic: "poll", Value: []byte("wake")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-got:
		if string(r.Value) != "wake" {
			t.Fatalf("value %q", r.Value)
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("long poll woke only after %v", time.Since(start))
		}
	case <-time.After(15 * time.Second):
		t.Fatal("long poll did not wake")
	}
}
