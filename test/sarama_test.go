package test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// saramaVersions are the protocol levels sarama is driven at: old ones that
// pin the request versions it sends (sarama < 1.46 behaviour; 0.10 means
// Produce v2 and Fetch v3 with message sets of magic 1, converted by the
// broker), and the newest constant, where sarama clamps to the broker's
// advertised ranges.
var saramaVersions = []struct {
	name    string
	version sarama.KafkaVersion
}{
	{"V0_10_0_0", sarama.V0_10_0_0},
	{"V2_1_0_0", sarama.V2_1_0_0},
	{"MaxVersion", sarama.MaxVersion},
}

func saramaConfig(v sarama.KafkaVersion) *sarama.Config {
	c := sarama.NewConfig()
	c.Version = v
	c.ClientID = "chronik-sarama-test"
	c.Net.DialTimeout = 5 * time.Second
	c.Net.ReadTimeout = 10 * time.Second
	c.Net.WriteTimeout = 10 * time.Second
	c.Metadata.Retry.Max = 5
	c.Metadata.Retry.Backoff = 100 * time.Millisecond
	c.Admin.Timeout = 10 * time.Second
	return c
}

// TestSarama drives the broker with IBM/sarama at two protocol levels:
// idempotent acks=all produce with every codec, read back with a partition
// consumer and compared field by field; ListOffsets; the admin API.
func TestSarama(t *testing.T) {
	tb := startBroker(t, "", nil)
	for _, sv := range saramaVersions {
		t.Run(sv.name, func(t *testing.T) {
			prefix := "sarama-" + strings.ToLower(strings.ReplaceAll(sv.name, "_", ""))
			for _, codec := range []sarama.CompressionCodec{
				sarama.CompressionNone, sarama.CompressionGZIP, sarama.CompressionSnappy,
				sarama.CompressionLZ4, sarama.CompressionZSTD,
			} {
				if codec == sarama.CompressionZSTD && !sv.version.IsAtLeast(sarama.V2_1_0_0) {
					continue // zstd arrived with Kafka 2.1
				}
				t.Run(codec.String(), func(t *testing.T) {
					testSaramaRoundTrip(t, tb, sv.version, prefix+"-"+codec.String(), codec)
				})
			}
			if sv.version.IsAtLeast(sarama.V0_10_1_0) { // CreateTopics arrived with 0.10.1
				t.Run("admin", func(t *testing.T) { testSaramaAdmin(t, tb, sv.version, prefix+"-admin") })
			}
		})
	}
}

func saramaMessage(topic string, m clientMsg) *sarama.ProducerMessage {
	pm := &sarama.ProducerMessage{Topic: topic, Partition: 0, Timestamp: time.UnixMilli(m.Timestamp)}
	if m.Key != nil {
		pm.Key = sarama.ByteEncoder(m.Key)
	}
	if m.Value != nil {
		pm.Value = sarama.ByteEncoder(m.Value)
	}
	for _, h := range m.Headers {
		pm.Headers = append(pm.Headers, sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
	}
	return pm
}

func testSaramaRoundTrip(t *testing.T, tb *testBroker, version sarama.KafkaVersion, topic string, codec sarama.CompressionCodec) {
	createTopic(t, tb.admin(), topic, 1, nil)
	msgs := clientMessages(t, topic, 40)
	oldFormat := !version.IsAtLeast(sarama.V0_11_0_0)
	if oldFormat {
		for i := range msgs {
			msgs[i].Headers = nil // message sets of magic 1 have none
		}
	}

	cfg := saramaConfig(version)
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Idempotent = !oldFormat // idempotence needs 0.11
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Return.Successes = true
	cfg.Producer.Compression = codec
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Producer.Retry.Max = 3
	cfg.Producer.Retry.Backoff = 100 * time.Millisecond

	client, err := sarama.NewClient([]string{tb.addr}, cfg)
	if err != nil {
		t.Fatalf("sarama.NewClient: %v", err)
	}
	defer client.Close()
	prod, err := sarama.NewSyncProducerFromClient(client)
	if err != nil {
		t.Fatalf("NewSyncProducer: %v", err)
	}
	defer prod.Close()

	// The first half one message per request (one batch each), the second
	// half in one SendMessages call (multi-record batches).
	half := len(msgs) / 2
	for i, m := range msgs[:half] {
		p, off, err := prod.SendMessage(saramaMessage(topic, m))
		if err != nil {
			t.Fatalf("SendMessage %d: %v", i, err)
		}
		if p != 0 || off != int64(i) {
			t.Fatalf("SendMessage %d: partition %d offset %d, want 0/%d", i, p, off, i)
		}
	}
	var batch []*sarama.ProducerMessage
	for _, m := range msgs[half:] {
		batch = append(batch, saramaMessage(topic, m))
	}
	if err := prod.SendMessages(batch); err != nil {
		t.Fatalf("SendMessages: %v", err)
	}
	for i, pm := range batch {
		if want := int64(half + i); pm.Offset != want || pm.Partition != 0 {
			t.Fatalf("SendMessages[%d]: partition %d offset %d, want 0/%d", i, pm.Partition, pm.Offset, want)
		}
	}

	// ListOffsets through the client.
	if off, err := client.GetOffset(topic, 0, sarama.OffsetOldest); err != nil || off != 0 {
		t.Fatalf("GetOffset(oldest) = %d, %v; want 0", off, err)
	}
	if off, err := client.GetOffset(topic, 0, sarama.OffsetNewest); err != nil || off != int64(len(msgs)) {
		t.Fatalf("GetOffset(newest) = %d, %v; want %d", off, err, len(msgs))
	}

	// Read back with a partition consumer on a fresh client.
	ccfg := saramaConfig(version)
	ccfg.Consumer.Return.Errors = true
	ccfg.Consumer.Fetch.Default = 64 << 10 // several fetches for the 40 records
	ccfg.Consumer.MaxWaitTime = 200 * time.Millisecond
	consumer, err := sarama.NewConsumer([]string{tb.addr}, ccfg)
	if err != nil {
		t.Fatalf("NewConsumer: %v", err)
	}
	defer consumer.Close()
	pc, err := consumer.ConsumePartition(topic, 0, sarama.OffsetOldest)
	if err != nil {
		t.Fatalf("ConsumePartition: %v", err)
	}
	defer pc.Close()
	timeout := time.After(30 * time.Second)
	for i := range msgs {
		select {
		case cm := <-pc.Messages():
			got := clientMsg{Key: cm.Key, Value: cm.Value, Timestamp: cm.Timestamp.UnixMilli()}
			for _, h := range cm.Headers {
				got.Headers = append(got.Headers, clientHeader{Key: string(h.Key), Value: h.Value})
			}
			if cm.Topic != topic || cm.Partition != 0 || cm.Offset != int64(i) {
				t.Fatalf("message %d at %s/%d@%d", i, cm.Topic, cm.Partition, cm.Offset)
			}
			if err := msgs[i].diff(got, true); err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
		case err := <-pc.Errors():
			t.Fatalf("consume error after %d messages: %v", i, err)
		case <-timeout:
			t.Fatalf("consumed %d of %d messages before timeout", i, len(msgs))
		}
	}
	if hwm := pc.HighWaterMarkOffset(); hwm != int64(len(msgs)) {
		t.Fatalf("high watermark %d, want %d", hwm, len(msgs))
	}
	checkRecords(t, "franz-go", topic, readBack(t, tb.addr, topic, len(msgs), codec.String()), msgs, true)
}

func testSaramaAdmin(t *testing.T, tb *testBroker, version sarama.KafkaVersion, topic string) {
	adm, err := sarama.NewClusterAdmin([]string{tb.addr}, saramaConfig(version))
	if err != nil {
		t.Fatalf("NewClusterAdmin: %v", err)
	}
	defer adm.Close()

	retention := "3600000"
	if err := adm.CreateTopic(topic, &sarama.TopicDetail{
		NumPartitions:     3,
		ReplicationFactor: 1,
		ConfigEntries:     map[string]*string{"retention.ms": &retention},
	}, false); err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	err = adm.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false)
	var terr *sarama.TopicError
	if !errors.As(err, &terr) || terr.Err != sarama.ErrTopicAlreadyExists {
		t.Fatalf("CreateTopic again: %v, want TOPIC_ALREADY_EXISTS", err)
	}

	md, err := adm.DescribeTopics([]string{topic})
	if err != nil {
		t.Fatalf("DescribeTopics: %v", err)
	}
	if len(md) != 1 || md[0].Name != topic || md[0].Err != sarama.ErrNoError || len(md[0].Partitions) != 3 {
		t.Fatalf("DescribeTopics: %s", describeSaramaTopics(md))
	}
	for _, p := range md[0].Partitions {
		if p.Err != sarama.ErrNoError || p.Leader != 1 || fmt.Sprint(p.Replicas) != "[1]" || fmt.Sprint(p.Isr) != "[1]" {
			t.Fatalf("DescribeTopics partition %d: err %v leader %d replicas %v isr %v", p.ID, p.Err, p.Leader, p.Replicas, p.Isr)
		}
	}

	brokers, controller, err := adm.DescribeCluster()
	if err != nil {
		t.Fatalf("DescribeCluster: %v", err)
	}
	if len(brokers) != 1 || brokers[0].ID() != 1 || controller != 1 || brokers[0].Addr() != tb.addr {
		t.Fatalf("DescribeCluster: %d brokers, first %d at %s, controller %d", len(brokers), brokers[0].ID(), brokers[0].Addr(), controller)
	}

	entries, err := adm.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic, ConfigNames: []string{"retention.ms"}})
	if err != nil {
		t.Fatalf("DescribeConfig: %v", err)
	}
	if len(entries) != 1 || entries[0].Name != "retention.ms" || entries[0].Value != retention || entries[0].Default {
		t.Fatalf("DescribeConfig(retention.ms) = %+v", entries)
	}

	if err := adm.CreatePartitions(topic, 4, nil, false); err != nil {
		t.Fatalf("CreatePartitions: %v", err)
	}
	topics, err := adm.ListTopics()
	if err != nil {
		t.Fatalf("ListTopics: %v", err)
	}
	d, ok := topics[topic]
	if !ok || d.NumPartitions != 4 || d.ReplicationFactor != 1 || d.ConfigEntries["retention.ms"] == nil || *d.ConfigEntries["retention.ms"] != retention {
		t.Fatalf("ListTopics[%s] = %v %+v", topic, ok, d)
	}

	if err := adm.DeleteTopic(topic); err != nil {
		t.Fatalf("DeleteTopic: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		md, err := adm.DescribeTopics([]string{topic})
		if err == nil && len(md) == 1 && md[0].Err == sarama.ErrUnknownTopicOrPartition {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic still described after DeleteTopic: %v %s", err, describeSaramaTopics(md))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := adm.DeleteTopic(topic); !errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
		t.Fatalf("DeleteTopic again: %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}
}

func describeSaramaTopics(md []*sarama.TopicMetadata) string {
	var b strings.Builder
	for _, m := range md {
		fmt.Fprintf(&b, "{%s err=%v partitions=%d}", m.Name, m.Err, len(m.Partitions))
	}
	return b.String()
}
