package test

import (
	"errors"
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

	"github.com/chronik-streaming/chronik/internal/config"
)

func TestTopicAdmin(t *testing.T) {
	tb := startBroker(t, "", nil)
	adm := tb.admin()
	ctx := testContext(t)

	createTopic(t, adm, "orders", 3, map[string]*string{"retention.ms": strp("3600000")})

	// Errors users get from kadm/kafka-topics.
	if r, _ := adm.CreateTopic(ctx, 1, 1, nil, "orders"); !errors.Is(r.Err, kerr.TopicAlreadyExists) {
		t.Fatalf("duplicate create: %v", r.Err)
	}
	if r, _ := adm.CreateTopic(ctx, 1, 3, nil, "replicated"); !errors.Is(r.Err, kerr.InvalidReplicationFactor) {
		t.Fatalf("replication factor 3: %v", r.Err)
	}
	if r, _ := adm.CreateTopic(ctx, 1, 1, nil, "bad/name"); !errors.Is(r.Err, kerr.InvalidTopicException) {
		t.Fatalf("bad name: %v", r.Err)
	}
	if r, _ := adm.CreateTopic(ctx, 1, 1, map[string]*string{"cleanup.policy": strp("sometimes")}, "badcfg"); !errors.Is(r.Err, kerr.InvalidConfig) {
		t.Fatalf("bad config: %v", r.Err)
	}
	if r, _ := adm.CreateTopic(ctx, 1, 1, map[string]*string{"no.such.config": strp("1")}, "badcfg"); !errors.Is(r.Err, kerr.InvalidConfig) {
		t.Fatalf("unknown config: %v", r.Err)
	}
	// -1 means the broker default (KIP-464).
	if r, err := adm.CreateTopic(ctx, -1, -1, nil, "defaults"); err != nil || r.Err != nil || r.NumPartitions != 1 {
		t.Fatalf("create with defaults: %v %+v", err, r)
	}
	// validate-only creates nothing.
	if _, err := adm.ValidateCreateTopics(ctx, 2, 1, nil, "ghost"); err != nil {
		t.Fatal(err)
	}

	details, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := details["ghost"]; ok {
		t.Fatal("validate-only create made a topic")
	}
	o := details["orders"]
	if len(o.Partitions) != 3 || o.ID == (kadm.TopicID{}) {
		t.Fatalf("orders: %+v", o)
	}
	for _, p := range o.Partitions {
		if p.Leader != 1 || len(p.Replicas) != 1 || len(p.ISR) != 1 {
			t.Fatalf("partition %+v", p)
		}
	}

	// Configs: set value is dynamic, others come from defaults.
	rcs, err := adm.DescribeTopicConfigs(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := rcs.On("orders", nil)
	found := map[string]kadm.Config{}
	for _, c := range rc.Configs {
		found[c.Key] = c
	}
	if c := found["retention.ms"]; c.MaybeValue() != "3600000" || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
		t.Fatalf("retention.ms = %+v", c)
	}
	if c := found["cleanup.policy"]; c.MaybeValue() != "delete" || c.Source != kmsg.ConfigSourceDefaultConfig {
		t.Fatalf("cleanup.policy = %+v", c)
	}
	if c := found["max.message.bytes"]; c.MaybeValue() != "1048588" {
		t.Fatalf("max.message.bytes = %+v", c)
	}
	bcs, err := adm.DescribeBrokerConfigs(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(bcs) != 1 || len(bcs[0].Configs) == 0 {
		t.Fatalf("broker configs: %+v", bcs)
	}

	// Grow partitions; shrinking is refused.
	if r, err := adm.UpdatePartitions(ctx, 5, "orders"); err != nil || r["orders"].Err != nil {
		t.Fatalf("grow partitions: %v %v", err, r)
	}
	if r, _ := adm.UpdatePartitions(ctx, 2, "orders"); !errors.Is(r["orders"].Err, kerr.InvalidPartitions) {
		t.Fatalf("shrink partitions: %v", r["orders"].Err)
	}
	if err := tb.client().ProduceSync(ctx, &kgo.Record{Topic: "orders", Partition: 4, Value: []byte("p4")}).FirstErr(); err != nil {
		t.Fatalf("produce to new partition: %v", err)
	}

	// Delete by name, and by id with the raw request (v6).
	if r, err := adm.DeleteTopics(ctx, "orders"); err != nil || r["orders"].Err != nil {
		t.Fatalf("delete: %v %+v", err, r)
	}
	id := details["defaults"].ID
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.Version = 6
	rt := kmsg.NewDeleteTopicsRequestTopic()
	rt.TopicID = id
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, tb.client())
	if err != nil || resp.Topics[0].ErrorCode != 0 || resp.Topics[0].Topic == nil || *resp.Topics[0].Topic != "defaults" {
		t.Fatalf("delete by id: %v %+v", err, resp)
	}
	details, _ = tb.admin().ListTopics(ctx) // a new client: kgo caches metadata briefly
	if len(details) != 0 {
		t.Fatalf("topics left: %v", details.Names())
	}
	// A deleted topic can be recreated, empty, with a new id.
	createTopic(t, adm, "orders", 1, nil)
	end, _ := adm.ListEndOffsets(ctx, "orders")
	if o, _ := end.Lookup("orders", 0); o.Offset != 0 {
		t.Fatalf("recreated topic end offset %d", o.Offset)
	}
}

func TestAutoCreateOnMetadata(t *testing.T) {
	tb := startBroker(t, "", nil)
	cl := tb.client(kgo.AllowAutoTopicCreation())
	if err := cl.ProduceSync(testContext(t), &kgo.Record{Topic: "auto", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatalf("produce to auto-created topic: %v", err)
	}
	tb2 := startBroker(t, "", func(c *config.Config) { c.Consumer.AutoCreateTopics = false })
	cl2 := tb2.client(kgo.AllowAutoTopicCreation(), kgo.RecordRetries(1), kgo.ProduceRequestTimeout(2*time.Second), kgo.RecordDeliveryTimeout(3*time.Second))
	if err := cl2.ProduceSync(testContext(t), &kgo.Record{Topic: "auto", Value: []byte("x")}).FirstErr(); err == nil {
		t.Fatal("produce succeeded with auto-create disabled")
	}
}

func TestListOffsets(t *testing.T) {
	tb := startBroker(t, "", nil)
	adm := tb.admin()
	ctx := testContext(t)
	createTopic(t, adm, "times", 1, nil)
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	cl := tb.client(kgo.DefaultProduceTopic("times"))
	for i := 0; i < 10; i++ {
		// One record per batch, timestamps a minute apart.
		r := &kgo.Record{Value: []byte{byte(i)}, Timestamp: base.Add(time.Duration(i) * time.Minute)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	start, _ := adm.ListStartOffsets(ctx, "times")
	end, _ := adm.ListEndOffsets(ctx, "times")
	if o, _ := start.Lookup("times", 0); o.Offset != 0 {
		t.Fatalf("start %d", o.Offset)
	}
	if o, _ := end.Lookup("times", 0); o.Offset != 10 {
		t.Fatalf("end %d", o.Offset)
	}
	after, _ := adm.ListOffsetsAfterMilli(ctx, base.Add(3*time.Minute+time.Second).UnixMilli(), "times")
	if o, _ := after.Lookup("times", 0); o.Offset != 4 {
		t.Fatalf("offset after +3m1s = %d, want 4", o.Offset)
	}
	exact, _ := adm.ListOffsetsAfterMilli(ctx, base.Add(5*time.Minute).UnixMilli(), "times")
	if o, _ := exact.Lookup("times", 0); o.Offset != 5 || o.Timestamp != base.Add(5*time.Minute).UnixMilli() {
		t.Fatalf("offset at +5m = %+v, want 5", o)
	}
	future, _ := adm.ListOffsetsAfterMilli(ctx, time.Now().Add(time.Hour).UnixMilli(), "times")
	if o, _ := future.Lookup("times", 0); o.Offset != 10 {
		// kadm maps "none" (-1) to the end offset, as the Java admin does
		t.Fatalf("offset after the future = %+v", o)
	}
	// Max timestamp (v7+) via the raw request.
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = "times"
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp = -3
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if p := resp.Topics[0].Partitions[0]; p.Offset != 9 || p.Timestamp != base.Add(9*time.Minute).UnixMilli() {
		t.Fatalf("max timestamp: %+v", p)
	}
}

// TestMetrics scrapes /metrics after real traffic: request counts and
// latencies by API, records and bytes per topic, log sizes, consumer
// group lag, search indexing lag and the Go runtime.
func TestMetrics(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb.admin(), "mt", 1, map[string]*string{"chronik.search.enabled": strp("true")})
	cl := tb.client(kgo.DefaultProduceTopic("mt"))
	for i := range 10 {
		if err := cl.ProduceSync(testContext(t), &kgo.Record{Value: fmt.Appendf(nil, "m%d", i)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	consumeAll(t, tb.addr, "mt", 10)
	waitSearchable(t, tb.b.HTTPAddr(), "mt", 10)
	if _, err := tb.admin().CommitOffsets(testContext(t), "mg", kadm.OffsetsFromRecords(kgo.Record{Topic: "mt", Partition: 0, Offset: 3})); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + tb.b.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	for _, want := range []string{
		`chronik_kafka_requests_total{api="Produce",version=`,
		`chronik_kafka_request_duration_seconds_bucket{api="Fetch",le=`,
		`chronik_topic_records_in_total{topic="mt"} 10`,
		`chronik_topic_records_out_total{topic="mt"}`,
		`chronik_log_size_bytes{topic="mt"}`,
		`chronik_consumer_group_lag{group="mg",topic="mt"} 6`,
		`chronik_search_index_lag_records{topic="mt"}`,
		`chronik_produce_fsync_wait_seconds_count`,
		`chronik_kafka_connections_active`,
		`go_goroutines`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
