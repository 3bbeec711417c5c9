package test

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// TestKafkaGo drives the broker with segmentio/kafka-go: the Conn level
// (DialLeader, WriteCompressedMessagesAt with headers, ReadBatch,
// ReadFirstOffset/ReadLastOffset, CreateTopics/DeleteTopics on the
// controller connection), then kafka.Writer and a group-less kafka.Reader.
func TestKafkaGo(t *testing.T) {
	tb := startBroker(t, "", nil)

	t.Run("admin", func(t *testing.T) { testKafkaGoAdmin(t, tb) })
	for _, c := range []struct {
		name  string
		codec kafka.CompressionCodec
	}{
		{"none", nil},
		{"gzip", kafka.Gzip.Codec()},
		{"snappy", kafka.Snappy.Codec()},
		{"lz4", kafka.Lz4.Codec()},
		{"zstd", kafka.Zstd.Codec()},
	} {
		t.Run("conn-"+c.name, func(t *testing.T) { testKafkaGoConn(t, tb, "kafkago-conn-"+c.name, c.name, c.codec) })
	}
	for _, c := range []kafka.Compression{0, kafka.Gzip, kafka.Snappy, kafka.Lz4, kafka.Zstd} {
		name := "none"
		if c != 0 {
			name = c.String()
		}
		t.Run("writer-"+name, func(t *testing.T) { testKafkaGoWriterReader(t, tb, "kafkago-writer-"+name, name, c) })
	}
}

func kafkaGoMessages(msgs []clientMsg) []kafka.Message {
	out := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		km := kafka.Message{Key: m.Key, Value: m.Value, Time: time.UnixMilli(m.Timestamp)}
		for _, h := range m.Headers {
			km.Headers = append(km.Headers, kafka.Header{Key: h.Key, Value: h.Value})
		}
		out[i] = km
	}
	return out
}

func fromKafkaGo(m kafka.Message) clientRecord {
	r := clientRecord{Topic: m.Topic, Partition: int32(m.Partition), Offset: m.Offset}
	r.Key, r.Value, r.Timestamp = m.Key, m.Value, m.Time.UnixMilli()
	for _, h := range m.Headers {
		r.Headers = append(r.Headers, clientHeader{Key: h.Key, Value: h.Value})
	}
	return r
}

func dialController(t *testing.T, addr string) *kafka.Conn {
	t.Helper()
	conn, err := kafka.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("kafka.Dial: %v", err)
	}
	defer conn.Close()
	ctrl, err := conn.Controller()
	if err != nil {
		t.Fatalf("Controller: %v", err)
	}
	if ctrl.ID != 1 || net.JoinHostPort(ctrl.Host, strconv.Itoa(ctrl.Port)) != addr {
		t.Fatalf("Controller = %+v, want node 1 at %s", ctrl, addr)
	}
	cc, err := kafka.Dial("tcp", net.JoinHostPort(ctrl.Host, strconv.Itoa(ctrl.Port)))
	if err != nil {
		t.Fatalf("dial controller: %v", err)
	}
	t.Cleanup(func() { cc.Close() })
	_ = cc.SetDeadline(time.Now().Add(30 * time.Second))
	return cc
}

func testKafkaGoAdmin(t *testing.T, tb *testBroker) {
	cc := dialController(t, tb.addr)
	topic := "kafkago-admin"
	if err := cc.CreateTopics(kafka.TopicConfig{
		Topic: topic, NumPartitions: 3, ReplicationFactor: 1,
		ConfigEntries: []kafka.ConfigEntry{{ConfigName: "retention.ms", ConfigValue: "3600000"}},
	}); err != nil {
		t.Fatalf("CreateTopics: %v", err)
	}
	// kafka-go's CreateTopics is idempotent: TOPIC_ALREADY_EXISTS is no error.
	if err := cc.CreateTopics(kafka.TopicConfig{Topic: topic, NumPartitions: 3, ReplicationFactor: 1}); err != nil {
		t.Fatalf("CreateTopics again: %v", err)
	}
	parts, err := cc.ReadPartitions(topic)
	if err != nil {
		t.Fatalf("ReadPartitions: %v", err)
	}
	if len(parts) != 3 {
		t.Fatalf("ReadPartitions: %d partitions, want 3: %+v", len(parts), parts)
	}
	for i, p := range parts {
		if p.Topic != topic || p.ID != i || p.Leader.ID != 1 || len(p.Replicas) != 1 || p.Replicas[0].ID != 1 || len(p.Isr) != 1 || p.Isr[0].ID != 1 {
			t.Fatalf("ReadPartitions[%d] = %+v", i, p)
		}
	}
	brokers, err := cc.Brokers()
	if err != nil || len(brokers) != 1 || brokers[0].ID != 1 {
		t.Fatalf("Brokers = %+v, %v", brokers, err)
	}
	if err := cc.DeleteTopics(topic); err != nil {
		t.Fatalf("DeleteTopics: %v", err)
	}
	// Not ReadPartitions: on the controller connection it sends Metadata v6
	// with allow_auto_topic_creation, which would create the topic again.
	lt, err := tb.admin().ListTopics(testContext(t))
	if err != nil || lt.Has(topic) {
		t.Fatalf("topic listed after DeleteTopics: %v", err)
	}
	if err := cc.DeleteTopics(topic); !errors.Is(err, kafka.UnknownTopicOrPartition) {
		t.Fatalf("DeleteTopics again: %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}
}

func testKafkaGoConn(t *testing.T, tb *testBroker, topic, codecName string, codec kafka.CompressionCodec) {
	cc := dialController(t, tb.addr)
	if err := cc.CreateTopics(kafka.TopicConfig{Topic: topic, NumPartitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatalf("CreateTopics: %v", err)
	}
	msgs := clientMessages(t, topic, 30)
	ctx := testContext(t)
	conn, err := kafka.DialLeader(ctx, "tcp", tb.addr, topic, 0)
	if err != nil {
		t.Fatalf("DialLeader: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	conn.SetRequiredAcks(-1)

	// Three produce requests of 10 records, each one batch.
	for i := 0; i < len(msgs); i += 10 {
		_, p, base, _, err := conn.WriteCompressedMessagesAt(codec, kafkaGoMessages(msgs[i:i+10])...)
		if err != nil {
			t.Fatalf("WriteCompressedMessagesAt(%d..): %v", i, err)
		}
		if p != 0 || base != int64(i) {
			t.Fatalf("WriteCompressedMessagesAt(%d..): partition %d base offset %d", i, p, base)
		}
	}
	if first, err := conn.ReadFirstOffset(); err != nil || first != 0 {
		t.Fatalf("ReadFirstOffset = %d, %v; want 0", first, err)
	}
	if last, err := conn.ReadLastOffset(); err != nil || last != int64(len(msgs)) {
		t.Fatalf("ReadLastOffset = %d, %v; want %d", last, err, len(msgs))
	}
	mid := msgs[len(msgs)/2].Timestamp
	if off, err := conn.ReadOffset(time.UnixMilli(mid)); err != nil || off != int64(len(msgs)/2) {
		t.Fatalf("ReadOffset(time of message %d) = %d, %v", len(msgs)/2, off, err)
	}

	// Read back from the start, in batches small enough to need several
	// fetches (the 8 KiB values do not fit together in 16 KiB).
	if _, err := conn.Seek(0, kafka.SeekAbsolute); err != nil {
		t.Fatalf("Seek: %v", err)
	}
	var got []clientRecord
	for fetches := 0; len(got) < len(msgs); fetches++ {
		if fetches > 100 {
			t.Fatalf("read %d of %d records in 100 fetches", len(got), len(msgs))
		}
		batch := conn.ReadBatchWith(kafka.ReadBatchConfig{MinBytes: 1, MaxBytes: 16 << 10, MaxWait: 500 * time.Millisecond})
		for {
			m, err := batch.ReadMessage()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					t.Fatalf("ReadMessage after %d records: %v", len(got), err)
				}
				break
			}
			m.Topic = topic
			got = append(got, fromKafkaGo(m))
		}
		if hwm := batch.HighWaterMark(); hwm != int64(len(msgs)) {
			t.Fatalf("batch high watermark %d, want %d", hwm, len(msgs))
		}
		if err := batch.Close(); err != nil {
			t.Fatalf("batch.Close: %v", err)
		}
	}
	// kafka-go's reader returns an empty header value as nil; the franz-go
	// read tells null from empty.
	checkRecords(t, "kafka-go ReadBatch", topic, got, msgs, false)
	checkRecords(t, "franz-go", topic, readBack(t, tb.addr, topic, len(msgs), codecName), msgs, true)
}

func testKafkaGoWriterReader(t *testing.T, tb *testBroker, topic, codecName string, codec kafka.Compression) {
	createTopic(t, tb.admin(), topic, 1, nil)
	msgs := clientMessages(t, topic, 30)
	// A transport of its own: the shared default one caches metadata for
	// 6s and would not know the topic just created.
	tr := &kafka.Transport{ClientID: "chronik-kafkago-test"}
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{
		Addr:         kafka.TCP(tb.addr),
		Transport:    tr,
		Topic:        topic,
		Balancer:     &kafka.LeastBytes{},
		RequiredAcks: kafka.RequireAll,
		Compression:  codec,
		BatchSize:    7,
		BatchTimeout: 5 * time.Millisecond,
		WriteTimeout: 10 * time.Second,
		ReadTimeout:  10 * time.Second,
	}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 0; i < len(msgs); i += 10 {
		if err := w.WriteMessages(ctx, kafkaGoMessages(msgs[i:i+10])...); err != nil {
			t.Fatalf("Writer.WriteMessages(%d..): %v", i, err)
		}
	}
	if s := w.Stats(); s.Messages != int64(len(msgs)) || s.Errors != 0 {
		t.Fatalf("writer stats: %d messages, %d errors", s.Messages, s.Errors)
	}

	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:   []string{tb.addr},
		Topic:     topic,
		Partition: 0,
		MinBytes:  1,
		MaxBytes:  1 << 20,
		MaxWait:   200 * time.Millisecond,
	})
	defer r.Close()
	if err := r.SetOffset(kafka.FirstOffset); err != nil {
		t.Fatalf("SetOffset: %v", err)
	}
	var got []clientRecord
	for len(got) < len(msgs) {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("Reader.ReadMessage after %d records: %v", len(got), err)
		}
		if m.HighWaterMark != int64(len(msgs)) {
			t.Fatalf("message %d: high watermark %d, want %d", m.Offset, m.HighWaterMark, len(msgs))
		}
		got = append(got, fromKafkaGo(m))
	}
	checkRecords(t, "kafka-go Reader", topic, got, msgs, false)
	checkRecords(t, "franz-go", topic, readBack(t, tb.addr, topic, len(msgs), codecName), msgs, true)
	if lag, err := r.ReadLag(ctx); err != nil || lag != 0 {
		t.Fatalf("ReadLag = %d, %v; want 0", lag, err)
	}
}
