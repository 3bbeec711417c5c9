// Package test holds Chronik's integration tests: they start a real broker
// (in-process on real TCP ports, or as a child process where the test kills
// it) and drive it with real Kafka clients.
package test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-streaming/chronik/internal/broker"
	"github.com/chronik-streaming/chronik/internal/config"
)

// testBroker is an in-process broker on loopback ports.
type testBroker struct {
	t    testing.TB
	cfg  *config.Config
	b    *broker.Broker
	addr string
}

// startBroker starts a broker on dataDir ("" = a fresh temporary one);
// mutate adjusts its config.
func startBroker(t testing.TB, dataDir string, mutate func(*config.Config)) *testBroker {
	t.Helper()
	cfg := config.Default()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	cfg.Server.DataDir = dataDir
	cfg.Server.KafkaListen = "127.0.0.1:0"
	cfg.Server.HTTPListen = "127.0.0.1:0"
	cfg.Consumer.GroupInitialRebalanceDelayMs = 0
	if mutate != nil {
		mutate(cfg)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("CHRONIK_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	b, err := broker.Start(cfg, logger)
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	b.Serve()
	tb := &testBroker{t: t, cfg: cfg, b: b, addr: b.KafkaAddr()}
	t.Cleanup(tb.stop)
	return tb
}

// stop closes the broker (idempotent).
func (tb *testBroker) stop() {
	if tb.b != nil {
		if err := tb.b.Close(); err != nil {
			tb.t.Errorf("close broker: %v", err)
		}
		tb.b = nil
	}
}

// restart closes the broker cleanly and starts it again on the same data.
func (tb *testBroker) restart() *testBroker {
	tb.stop()
	return startBroker(tb.t, tb.cfg.Server.DataDir, func(c *config.Config) {
		*c = *tb.cfg
		c.Server.KafkaListen = "127.0.0.1:0"
		c.Server.HTTPListen = "127.0.0.1:0"
	})
}

// client returns a franz-go client for the broker, closed with the test.
func (tb *testBroker) client(opts ...kgo.Opt) *kgo.Client {
	tb.t.Helper()
	return newClient(tb.t, tb.addr, opts...)
}

func newClient(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.RetryTimeout(10 * time.Second)}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func (tb *testBroker) admin() *kadm.Client {
	return kadm.NewClient(tb.client())
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// createTopic creates a topic and fails the test on error.
func createTopic(t *testing.T, adm *kadm.Client, name string, partitions int32, configs map[string]*string) {
	t.Helper()
	resp, err := adm.CreateTopic(testContext(t), partitions, 1, configs, name)
	if err != nil || resp.Err != nil {
		t.Fatalf("create topic %s: %v %v", name, err, resp.Err)
	}
}

// consumeAll reads partitions of topic from the start until it has n records.
func consumeAll(t *testing.T, addr, topic string, n int, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	opts = append([]kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)
	cl := newClient(t, addr, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
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

func strp(s string) *string { return &s }

func kadmClient(cl *kgo.Client) *kadm.Client { return kadm.NewClient(cl) }

// endOffsets returns a topic's end offsets by partition.
func endOffsets(t *testing.T, cl *kgo.Client, topic string) map[int32]int64 {
	t.Helper()
	lo, err := kadm.NewClient(cl).ListEndOffsets(testContext(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	lo.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

// restartSamePort restarts the broker on the same Kafka address, so that
// connected clients find it again.
func (tb *testBroker) restartSamePort() *testBroker {
	addr := tb.addr
	tb.stop()
	return startBroker(tb.t, tb.cfg.Server.DataDir, func(c *config.Config) { *c = *tb.cfg; c.Server.KafkaListen = addr; c.Server.HTTPListen = "127.0.0.1:0" })
}
