package server_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/config"
	"github.com/chronik-streaming/chronik/internal/group"
	"github.com/chronik-streaming/chronik/internal/kafka"
	"github.com/chronik-streaming/chronik/internal/meta"
	"github.com/chronik-streaming/chronik/internal/metrics"
	"github.com/chronik-streaming/chronik/internal/offsets"
	"github.com/chronik-streaming/chronik/internal/server"
	"github.com/chronik-streaming/chronik/internal/topics"
	"github.com/chronik-streaming/chronik/internal/txn"
)

// *metrics.Metrics is what the broker hands the server and the handlers.
var (
	_ server.Observer = (*metrics.Metrics)(nil)
	_ kafka.Metrics   = (*metrics.Metrics)(nil)
)

// TestMetricsFromRealClient serves real handlers on a loopback port, drives
// them with franz-go, and checks the request, connection and data metrics
// moved.
func TestMetricsFromRealClient(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Server.DataDir = dir
	cfg.Storage.Fsync = "always" // so produces wait for durability
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := meta.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	tm, err := topics.Open(dir, cfg, store, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tm.Close(); store.Close() })
	if _, err := tm.Create(topics.CreateSpec{Name: "metered", Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	offs, err := offsets.Open(dir, logger)
	if err != nil {
		t.Fatal(err)
	}
	groups := group.NewCoordinator(group.Config{}, logger)
	t.Cleanup(func() { groups.Close(); offs.Close() })

	m := metrics.New(metrics.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := int32(ln.Addr().(*net.TCPAddr).Port)
	h := kafka.New(kafka.Broker{NodeID: 1, Host: "127.0.0.1", Port: port, ClusterID: store.ClusterID()}, cfg,
		kafka.Deps{Topics: tm, ProducerIDs: txn.NewProducerIDs(store), Groups: groups, Offsets: offs, Metrics: m}, logger)
	srv := server.New(h, 1<<20, logger)
	srv.SetObserver(m)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(ln.Addr().String()), kgo.ConsumeTopics("metered"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	rec := &kgo.Record{Topic: "metered", Value: []byte("hello, metrics")}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for got := 0; got == 0; {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatal(err)
		}
		got = fs.NumRecords()
	}
	// A request answered with an error code (in a topic of the response;
	// kgo would refuse a partition-routed request for an unknown topic).
	md := kmsg.NewPtrMetadataRequest()
	mdt := kmsg.NewMetadataRequestTopic()
	mdt.Topic = kmsg.StringPtr("no-such-topic")
	md.Topics = append(md.Topics, mdt)
	md.AllowAutoTopicCreation = false
	mdResp, err := md.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(mdResp.Topics) != 1 || mdResp.Topics[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("metadata of an unknown topic: %+v", mdResp.Topics)
	}
	cl.Close()

	// The connections close on the server's side a little after the
	// client's.
	deadline := time.Now().Add(10 * time.Second)
	for gauge(t, m, "chronik_kafka_connections_active") != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}

	families := gather(t, m)
	checks := []struct {
		name   string
		labels map[string]string
		min    float64
	}{
		{"chronik_kafka_requests_total", map[string]string{"api": "ApiVersions"}, 1},
		{"chronik_kafka_requests_total", map[string]string{"api": "Metadata"}, 1},
		{"chronik_kafka_requests_total", map[string]string{"api": "Produce"}, 1},
		{"chronik_kafka_requests_total", map[string]string{"api": "Fetch"}, 1},
		{"chronik_kafka_request_errors_total", map[string]string{"api": "Metadata", "error": kerr.UnknownTopicOrPartition.Message}, 1},
		{"chronik_kafka_request_bytes_total", map[string]string{"api": "Produce"}, 50},
		{"chronik_kafka_response_bytes_total", map[string]string{"api": "Produce"}, 20},
		{"chronik_kafka_connections_total", nil, 1},
		{"chronik_topic_bytes_in_total", map[string]string{"topic": "metered"}, 62}, // more than a batch header
		{"chronik_topic_records_in_total", map[string]string{"topic": "metered"}, 1},
		{"chronik_topic_bytes_out_total", map[string]string{"topic": "metered"}, 62}, // more than a batch header
		{"chronik_topic_records_out_total", map[string]string{"topic": "metered"}, 1},
	}
	for _, c := range checks {
		if v := sum(families, c.name, c.labels); v < c.min {
			t.Errorf("%s%v = %v, want at least %v", c.name, c.labels, v, c.min)
		}
	}
	if v := sum(families, "chronik_topic_records_in_total", map[string]string{"topic": "metered"}); v != 1 {
		t.Errorf("records in = %v, want 1", v)
	}
	if n := gauge(t, m, "chronik_kafka_connections_active"); n != 0 {
		t.Errorf("%v connections still active after the client closed", n)
	}
	for _, api := range []string{"Produce", "Fetch", "Metadata"} {
		count, total := histogram(families, "chronik_kafka_request_duration_seconds", map[string]string{"api": api})
		if count < 1 || total <= 0 {
			t.Errorf("request duration of %s: %d samples summing to %vs", api, count, total)
		}
	}
	if count, _ := histogram(families, "chronik_produce_fsync_wait_seconds", nil); count < 1 {
		t.Error("no produce durability wait observed")
	}
	if count, _ := histogram(families, "chronik_fetch_wait_seconds", nil); count < 1 {
		t.Error("no fetch wait observed")
	}
}

func gather(t *testing.T, m *metrics.Metrics) []*dto.MetricFamily {
	t.Helper()
	fs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func gauge(t *testing.T, m *metrics.Metrics, name string) float64 {
	return sum(gather(t, m), name, nil)
}

// matching returns the samples of a family whose labels include labels.
func matching(families []*dto.MetricFamily, name string, labels map[string]string) []*dto.Metric {
	var out []*dto.Metric
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue next
				}
			}
			out = append(out, m)
		}
	}
	return out
}

func sum(families []*dto.MetricFamily, name string, labels map[string]string) float64 {
	var v float64
	for _, m := range matching(families, name, labels) {
		v += m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	return v
}

func histogram(families []*dto.MetricFamily, name string, labels map[string]string) (count uint64, total float64) {
	for _, m := range matching(families, name, labels) {
		count += m.GetHistogram().GetSampleCount()
		total += m.GetHistogram().GetSampleSum()
	}
	return count, total
}
