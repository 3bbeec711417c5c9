package test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/config"
	"github.com/chronik-streaming/chronik/internal/topics"
)

// configsOf describes one topic's (or broker's) configs with kadm, by key.
func configsOf(t *testing.T, rcs kadm.ResourceConfigs, err error) map[string]kadm.Config {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if len(rcs) != 1 || rcs[0].Err != nil {
		t.Fatalf("describe configs: %+v", rcs)
	}
	out := map[string]kadm.Config{}
	for _, c := range rcs[0].Configs {
		out[c.Key] = c
	}
	return out
}

func topicConfigs(t *testing.T, adm *kadm.Client, topic string) map[string]kadm.Config {
	t.Helper()
	rcs, err := adm.DescribeTopicConfigs(testContext(t), topic)
	return configsOf(t, rcs, err)
}

// explicitConfigs returns the configs a topic sets itself.
func explicitConfigs(t *testing.T, adm *kadm.Client, topic string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, c := range topicConfigs(t, adm, topic) {
		if c.Source == kmsg.ConfigSourceDynamicTopicConfig {
			out[k] = c.MaybeValue()
		}
	}
	return out
}

// synonymsString renders synonyms as name=value(source) for comparison.
func synonymsString(c kadm.Config) string {
	var parts []string
	for _, s := range c.Synonyms {
		v := "null"
		if s.Value != nil {
			v = *s.Value
		}
		parts = append(parts, s.Key+"="+v+"("+s.Source.String()+")")
	}
	return strings.Join(parts, " ")
}

func TestAdminDescribeConfigs(t *testing.T) {
	tb := startBroker(t, "", func(c *config.Config) { c.Storage.RetentionMs = 3600000 })
	adm := tb.admin()
	ctx := testContext(t)
	createTopic(t, adm, "described", 1, map[string]*string{"segment.ms": strp("60000")})

	cs := topicConfigs(t, adm, "described")
	for key, want := range map[string]struct {
		value    string
		source   kmsg.ConfigSource
		synonyms string
	}{
		// The topic's own value, then the broker default under its Kafka name.
		"segment.ms": {"60000", kmsg.ConfigSourceDynamicTopicConfig, "segment.ms=60000(DYNAMIC_TOPIC_CONFIG) log.roll.ms=604800000(DEFAULT_CONFIG)"},
		// Set in Chronik's configuration: a static broker config.
		"retention.ms":      {"3600000", kmsg.ConfigSourceStaticBrokerConfig, "log.retention.ms=3600000(STATIC_BROKER_CONFIG) log.retention.ms=604800000(DEFAULT_CONFIG)"},
		"cleanup.policy":    {"delete", kmsg.ConfigSourceDefaultConfig, "log.cleanup.policy=delete(DEFAULT_CONFIG)"},
		"max.message.bytes": {"1048588", kmsg.ConfigSourceDefaultConfig, "message.max.bytes=1048588(DEFAULT_CONFIG)"},
		"flush.messages":    {"1", kmsg.ConfigSourceDefaultConfig, "log.flush.interval.messages=1(DEFAULT_CONFIG)"},
		// No broker-level counterpart: no synonyms, as in Kafka.
		"remote.storage.enable": {"false", kmsg.ConfigSourceDefaultConfig, ""},
	} {
		c, ok := cs[key]
		if !ok {
			t.Fatalf("%s missing", key)
		}
		if c.MaybeValue() != want.value || c.Source != want.source || synonymsString(c) != want.synonyms || c.Sensitive {
			t.Errorf("%s = %q %v [%s], want %q %v [%s]", key, c.MaybeValue(), c.Source, synonymsString(c), want.value, want.source, want.synonyms)
		}
	}

	// v4 with documentation and types; names filter; empty list = all.
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.IncludeDocumentation = true
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "described"
	rr.ConfigNames = []string{"retention.ms", "cleanup.policy", "no.such.config"}
	req.Resources = append(req.Resources, rr)
	rr.ConfigNames = []string{}
	req.Resources = append(req.Resources, rr)
	resp, err := req.RequestWith(ctx, tb.client())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(resp.Resources[0].Configs); n != 2 {
		t.Fatalf("named configs: %d", n)
	}
	if n := len(resp.Resources[1].Configs); n != len(cs) {
		t.Fatalf("empty names list: %d configs, want all %d", n, len(cs))
	}
	for _, c := range resp.Resources[0].Configs {
		wantType := map[string]kmsg.ConfigType{"retention.ms": kmsg.ConfigTypeLong, "cleanup.policy": kmsg.ConfigTypeList}[c.Name]
		if c.ConfigType != wantType || c.Documentation == nil || *c.Documentation == "" || c.ReadOnly || c.ConfigSynonyms != nil {
			t.Errorf("%s: type %v, doc %v, read-only %v, synonyms %v", c.Name, c.ConfigType, c.Documentation, c.ReadOnly, c.ConfigSynonyms)
		}
	}

	// v0 flags defaults instead of sources.
	v0 := kmsg.NewPtrDescribeConfigsRequest()
	v0.Version = 0
	rr.ConfigNames = []string{"segment.ms", "cleanup.policy"}
	v0.Resources = []kmsg.DescribeConfigsRequestResource{rr}
	for _, c := range roundTrip(t, tb.addr, v0).(*kmsg.DescribeConfigsResponse).Resources[0].Configs {
		if c.IsDefault != (c.Name == "cleanup.policy") {
			t.Errorf("v0 %s: is_default %v", c.Name, c.IsDefault)
		}
	}

	// Unknown and invalid topics.
	rcs, err := adm.DescribeTopicConfigs(ctx, "ghost", "bad/name")
	if err != nil {
		t.Fatal(err)
	}
	errs := map[string]error{}
	for _, rc := range rcs {
		errs[rc.Name] = rc.Err
	}
	if !errors.Is(errs["ghost"], kerr.UnknownTopicOrPartition) || !errors.Is(errs["bad/name"], kerr.InvalidTopicException) {
		t.Fatalf("unknown and invalid topics: %v", errs)
	}

	// Broker 1: Kafka's broker names, read-only, static where configured.
	bcs, err := adm.DescribeBrokerConfigs(ctx, 1)
	b := configsOf(t, bcs, err)
	for key, want := range map[string]struct {
		value    string
		source   kmsg.ConfigSource
		synonyms string
	}{
		"log.retention.ms":   {"3600000", kmsg.ConfigSourceStaticBrokerConfig, "log.retention.ms=3600000(STATIC_BROKER_CONFIG) log.retention.ms=604800000(DEFAULT_CONFIG)"},
		"message.max.bytes":  {"1048588", kmsg.ConfigSourceDefaultConfig, "message.max.bytes=1048588(DEFAULT_CONFIG)"},
		"log.cleanup.policy": {"delete", kmsg.ConfigSourceDefaultConfig, "log.cleanup.policy=delete(DEFAULT_CONFIG)"},
		"node.id":            {"1", kmsg.ConfigSourceDefaultConfig, "node.id=1(DEFAULT_CONFIG)"},
		"log.dirs":           {tb.cfg.Server.DataDir, kmsg.ConfigSourceStaticBrokerConfig, "log.dirs=" + tb.cfg.Server.DataDir + "(STATIC_BROKER_CONFIG) log.dirs=./data(DEFAULT_CONFIG)"},
		"chronik.fsync":      {"always", kmsg.ConfigSourceDefaultConfig, "chronik.fsync=always(DEFAULT_CONFIG)"},
		"advertised.listeners": {"PLAINTEXT://" + tb.addr, kmsg.ConfigSourceStaticBrokerConfig,
			"advertised.listeners=PLAINTEXT://" + tb.addr + "(STATIC_BROKER_CONFIG) advertised.listeners=PLAINTEXT://localhost:9092(DEFAULT_CONFIG)"},
	} {
		c, ok := b[key]
		if !ok {
			t.Fatalf("broker config %s missing", key)
		}
		if c.MaybeValue() != want.value || c.Source != want.source || synonymsString(c) != want.synonyms {
			t.Errorf("broker %s = %q %v [%s], want %q %v [%s]", key, c.MaybeValue(), c.Source, synonymsString(c), want.value, want.source, want.synonyms)
		}
	}
	// Read-only flags need the raw response.
	breq := kmsg.NewPtrDescribeConfigsRequest()
	breq.Version = 4
	brr := kmsg.NewDescribeConfigsRequestResource()
	brr.ResourceType, brr.ResourceName = kmsg.ConfigResourceTypeBroker, "1"
	breq.Resources = append(breq.Resources, brr)
	brr.ResourceName = "2"
	breq.Resources = append(breq.Resources, brr)
	brr.ResourceName = ""
	breq.Resources = append(breq.Resources, brr)
	brr.ResourceType, brr.ResourceName = kmsg.ConfigResourceTypeBrokerLogger, "1"
	breq.Resources = append(breq.Resources, brr)
	bresp := roundTrip(t, tb.addr, breq).(*kmsg.DescribeConfigsResponse) // kgo would route broker 2's resource to broker 2
	for _, c := range bresp.Resources[0].Configs {
		// Only the broker defaults of topic configs are dynamic.
		_, dynamic := topics.BrokerSynonym(c.Name)
		if c.ReadOnly == dynamic || c.IsSensitive {
			t.Errorf("broker config %s: read-only %v, sensitive %v", c.Name, c.ReadOnly, c.IsSensitive)
		}
	}
	if r := bresp.Resources[1]; r.ErrorCode != kerr.InvalidRequest.Code {
		t.Errorf("broker 2: %+v", r)
	}
	// The cluster-wide default resource lists dynamic defaults: none.
	if r := bresp.Resources[2]; r.ErrorCode != 0 || len(r.Configs) != 0 {
		t.Errorf("default broker resource: %+v", r)
	}
	if r := bresp.Resources[3]; r.ErrorCode != 0 || len(r.Configs) != 1 || r.Configs[0].Name != "root" || *r.Configs[0].Value != "INFO" {
		t.Errorf("broker logger: %+v", r)
	}
}

func TestAdminAlterTopicConfigs(t *testing.T) {
	tb := startBroker(t, "", nil)
	adm := tb.admin()
	ctx := testContext(t)
	createTopic(t, adm, "alter", 2, map[string]*string{"retention.ms": strp("3600000")})

	alter := func(validate bool, ops ...kadm.AlterConfig) kadm.AlterConfigsResponse {
		t.Helper()
		f := adm.AlterTopicConfigs
		if validate {
			f = adm.ValidateAlterTopicConfigs
		}
		rs, err := f(ctx, ops, "alter")
		if err != nil || len(rs) != 1 {
			t.Fatalf("alter: %v %+v", err, rs)
		}
		return rs[0]
	}
	mustEqual := func(want map[string]string) {
		t.Helper()
		got := explicitConfigs(t, adm, "alter")
		if len(got) != len(want) {
			t.Fatalf("explicit configs %v, want %v", got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("explicit configs %v, want %v", got, want)
			}
		}
	}

	// SET and APPEND (from the default "delete").
	if r := alter(false,
		kadm.AlterConfig{Op: kadm.SetConfig, Name: "segment.ms", Value: strp("60000")},
		kadm.AlterConfig{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: strp("compact")},
	); r.Err != nil {
		t.Fatalf("set+append: %v %s", r.Err, r.ErrMessage)
	}
	mustEqual(map[string]string{"retention.ms": "3600000", "segment.ms": "60000", "cleanup.policy": "delete,compact"})

	// SUBTRACT and DELETE.
	if r := alter(false,
		kadm.AlterConfig{Op: kadm.SubtractConfig, Name: "cleanup.policy", Value: strp("delete")},
		kadm.AlterConfig{Op: kadm.DeleteConfig, Name: "retention.ms"},
	); r.Err != nil {
		t.Fatalf("subtract+delete: %v %s", r.Err, r.ErrMessage)
	}
	mustEqual(map[string]string{"segment.ms": "60000", "cleanup.policy": "compact"})
	if c := topicConfigs(t, adm, "alter")["retention.ms"]; c.MaybeValue() != "604800000" || c.Source != kmsg.ConfigSourceDefaultConfig {
		t.Fatalf("deleted retention.ms: %+v", c)
	}

	// Validate-only changes nothing.
	if r := alter(true, kadm.AlterConfig{Op: kadm.SetConfig, Name: "max.message.bytes", Value: strp("2048")}); r.Err != nil {
		t.Fatalf("validate only: %v", r.Err)
	}
	mustEqual(map[string]string{"segment.ms": "60000", "cleanup.policy": "compact"})

	// Invalid: INVALID_CONFIG naming the reason, and nothing of the
	// resource changes (the valid op alongside is not applied either).
	for _, ops := range [][]kadm.AlterConfig{
		{{Op: kadm.SetConfig, Name: "max.message.bytes", Value: strp("2048")}, {Op: kadm.SetConfig, Name: "retention.ms", Value: strp("soon")}},
		{{Op: kadm.AppendConfig, Name: "retention.ms", Value: strp("1")}},
		{{Op: kadm.SubtractConfig, Name: "cleanup.policy", Value: strp("compact")}},
		{{Op: kadm.SetConfig, Name: "cleanup.policy", Value: strp("sometimes")}},
		{{Op: kadm.SetConfig, Name: "no.such.config", Value: strp("1")}},
	} {
		for _, validate := range []bool{false, true} {
			r := alter(validate, ops...)
			if !errors.Is(r.Err, kerr.InvalidConfig) || r.ErrMessage == "" {
				t.Fatalf("%+v (validate %v): %v %q", ops, validate, r.Err, r.ErrMessage)
			}
		}
	}
	if r := alter(false, kadm.AlterConfig{Op: kadm.SetConfig, Name: "retention.ms", Value: strp("soon")}); !strings.Contains(r.ErrMessage, "retention.ms") {
		t.Errorf("message does not name the key: %q", r.ErrMessage)
	}
	mustEqual(map[string]string{"segment.ms": "60000", "cleanup.policy": "compact"})

	// Unknown topic; static broker configs are read-only.
	if rs, _ := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: strp("1")}}, "ghost"); len(rs) != 1 || !errors.Is(rs[0].Err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("unknown topic: %+v", rs)
	}
	for _, alterBroker := range []func(context.Context, []kadm.AlterConfig, ...int32) (kadm.AlterConfigsResponses, error){adm.AlterBrokerConfigs, adm.AlterBrokerConfigsState} {
		rs, err := alterBroker(ctx, []kadm.AlterConfig{{Name: "log.dirs", Value: strp("/tmp")}, {Name: "log.retention.ms", Value: strp("1000")}}, 1)
		if err != nil || len(rs) != 1 || !errors.Is(rs[0].Err, kerr.InvalidRequest) || !strings.Contains(rs[0].ErrMessage, "log.dirs") {
			t.Fatalf("alter broker config: %v %+v", err, rs)
		}
	}

	// Malformed requests: a resource twice, a key twice, a null SET.
	raw := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := func(name string, cfgs ...kmsg.IncrementalAlterConfigsRequestResourceConfig) kmsg.IncrementalAlterConfigsRequestResource {
		r := kmsg.NewIncrementalAlterConfigsRequestResource()
		r.ResourceType, r.ResourceName, r.Configs = kmsg.ConfigResourceTypeTopic, name, cfgs
		return r
	}
	cfg := func(name string, op kmsg.IncrementalAlterConfigOp, v *string) kmsg.IncrementalAlterConfigsRequestResourceConfig {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Op, c.Value = name, op, v
		return c
	}
	createTopic(t, adm, "other", 1, nil)
	createTopic(t, adm, "third", 1, nil)
	raw.Resources = []kmsg.IncrementalAlterConfigsRequestResource{
		res("alter", cfg("segment.ms", 0, strp("1"))),
		res("alter", cfg("segment.ms", 0, strp("2"))),
		res("other", cfg("segment.ms", 0, strp("1")), cfg("segment.ms", 1, nil)),
		res("third", cfg("segment.ms", 0, nil)),
	}
	rresp, err := raw.RequestWith(ctx, tb.client())
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rresp.Resources {
		if r.ErrorCode != kerr.InvalidRequest.Code {
			t.Errorf("malformed resource %d: %+v", i, r)
		}
	}
	mustEqual(map[string]string{"segment.ms": "60000", "cleanup.policy": "compact"})

	// Non-incremental AlterConfigs replaces the whole set.
	rs, err := adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: strp("7200000")}, {Name: "max.message.bytes", Value: strp("4096")}}, "alter")
	if err != nil || rs[0].Err != nil {
		t.Fatalf("alter state: %v %+v", err, rs)
	}
	mustEqual(map[string]string{"retention.ms": "7200000", "max.message.bytes": "4096"})
	if rs, _ := adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: strp("-5")}}, "alter"); !errors.Is(rs[0].Err, kerr.InvalidConfig) {
		t.Fatalf("alter state with an invalid value: %+v", rs)
	}
	if rs, _ := adm.ValidateAlterTopicConfigsState(ctx, nil, "alter"); rs[0].Err != nil {
		t.Fatalf("validate-only empty state: %+v", rs)
	}
	mustEqual(map[string]string{"retention.ms": "7200000", "max.message.bytes": "4096"})

	// Live: the new max.message.bytes refuses a larger batch at once.
	cl := tb.client(kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RecordRetries(1))
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "alter", Value: bytes.Repeat([]byte("x"), 8000)}).FirstErr(); !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("produce over the new max.message.bytes: %v", err)
	}
	// Compaction switched on live: keyless records are refused.
	if rs, _ := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "cleanup.policy", Value: strp("compact")}}, "alter"); rs[0].Err != nil {
		t.Fatal(rs[0].Err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "alter", Value: []byte("no key")}).FirstErr(); !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("keyless produce to a topic made compacted: %v", err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "alter", Key: []byte("k"), Value: []byte("keyed")}).FirstErr(); err != nil {
		t.Fatalf("keyed produce: %v", err)
	}

	// Persisted.
	tb = tb.restart()
	adm = tb.admin()
	mustEqual(map[string]string{"retention.ms": "7200000", "max.message.bytes": "4096", "cleanup.policy": "compact"})
}

// TestAdminConfigRetentionTakesEffect: shrinking retention.ms (and rolling
// segments sooner) on a live topic deletes its old segments at the next
// maintenance run.
func TestAdminConfigRetentionTakesEffect(t *testing.T) {
	tb := startBroker(t, "", nil)
	adm := tb.admin()
	ctx := testContext(t)
	createTopic(t, adm, "shrink", 1, nil)
	if rs, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "segment.bytes", Value: strp("2000")}}, "shrink"); err != nil || rs[0].Err != nil {
		t.Fatalf("%v %+v", err, rs)
	}
	cl := tb.client(kgo.DefaultProduceTopic("shrink"), kgo.ProducerBatchCompression(kgo.NoCompression()))
	old := time.Now().Add(-time.Hour)
	for range 20 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: bytes.Repeat([]byte{'o'}, 200), Timestamp: old}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("fresh")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	startOffset := func() int64 {
		so, err := adm.ListStartOffsets(ctx, "shrink")
		if err != nil {
			return -1
		}
		o, _ := so.Lookup("shrink", 0)
		return o.Offset
	}
	time.Sleep(6 * time.Second) // a maintenance run under the default retention
	if s := startOffset(); s != 0 {
		t.Fatalf("log start %d before retention changed", s)
	}
	if rs, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: strp("60000")}}, "shrink"); err != nil || rs[0].Err != nil {
		t.Fatalf("%v %+v", err, rs)
	}
	waitFor(t, 20*time.Second, "old segments deleted", func() bool { return startOffset() > 0 })
}

// TestAdminDynamicBrokerConfigs: the broker defaults of topic configs change
// live through IncrementalAlterConfigs on the broker, for every topic that
// does not set them, are described as DYNAMIC_BROKER_CONFIG, refuse invalid
// values, and survive a restart.
func TestAdminDynamicBrokerConfigs(t *testing.T) {
	dir := t.TempDir()
	tb := startBroker(t, dir, nil)
	adm := tb.admin()
	ctx := testContext(t)
	createTopic(t, adm, "follows", 1, map[string]*string{"segment.bytes": strp("2000")})
	createTopic(t, adm, "own", 1, map[string]*string{"retention.ms": strp("86400000")})

	topicValue := func(adm *kadm.Client, topic, key string) kadm.Config {
		t.Helper()
		rcs, err := adm.DescribeTopicConfigs(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		rc, _ := rcs.On(topic, nil)
		for _, c := range rc.Configs {
			if c.Key == key {
				return c
			}
		}
		t.Fatalf("%s has no %s", topic, key)
		return kadm.Config{}
	}
	alter := func(cfgs ...kadm.AlterConfig) kadm.AlterConfigsResponse {
		t.Helper()
		rs, err := adm.AlterBrokerConfigs(ctx, cfgs, 1)
		if err != nil || len(rs) != 1 {
			t.Fatalf("%v %+v", err, rs)
		}
		return rs[0]
	}
	if r := alter(kadm.AlterConfig{Op: kadm.SetConfig, Name: "log.retention.ms", Value: strp("-7")}); !errors.Is(r.Err, kerr.InvalidConfig) || !strings.Contains(r.ErrMessage, "log.retention.ms") {
		t.Fatalf("invalid value: %+v", r)
	}
	if c := topicValue(adm, "follows", "retention.ms"); c.Source != kmsg.ConfigSourceDefaultConfig {
		t.Fatalf("refused change applied: %+v", c)
	}
	if r := alter(kadm.AlterConfig{Op: kadm.SetConfig, Name: "log.retention.ms", Value: strp("60000")},
		kadm.AlterConfig{Op: kadm.AppendConfig, Name: "log.cleanup.policy", Value: strp("compact")}); r.Err != nil {
		t.Fatalf("set: %+v", r)
	}
	if c := topicValue(adm, "follows", "retention.ms"); c.MaybeValue() != "60000" || c.Source != kmsg.ConfigSourceDynamicBrokerConfig {
		t.Fatalf("topic without its own retention: %+v", c)
	}
	if c := topicValue(adm, "follows", "cleanup.policy"); c.MaybeValue() != "delete,compact" {
		t.Fatalf("appended cleanup.policy: %+v", c)
	}
	if c := topicValue(adm, "own", "retention.ms"); c.MaybeValue() != "86400000" || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
		t.Fatalf("topic with its own retention: %+v", c)
	}
	brs, err := adm.DescribeBrokerConfigs(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	br, _ := brs.On("1", nil)
	for _, c := range br.Configs {
		if c.Key == "log.retention.ms" && (c.MaybeValue() != "60000" || c.Source != kmsg.ConfigSourceDynamicBrokerConfig) {
			t.Fatalf("broker log.retention.ms: %+v", c)
		}
	}
	if r := alter(kadm.AlterConfig{Op: kadm.DeleteConfig, Name: "log.cleanup.policy"}); r.Err != nil {
		t.Fatalf("delete: %+v", r)
	}

	// Live: old segments of the topic that follows go at the next
	// maintenance run.
	cl := tb.client(kgo.DefaultProduceTopic("follows"), kgo.ProducerBatchCompression(kgo.NoCompression()))
	old := time.Now().Add(-time.Hour)
	for range 20 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: bytes.Repeat([]byte{'o'}, 200), Timestamp: old}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("fresh")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "old segments deleted", func() bool {
		so, err := adm.ListStartOffsets(ctx, "follows")
		o, _ := so.Lookup("follows", 0)
		return err == nil && o.Offset > 0
	})

	// Persisted.
	tb = tb.restart()
	adm = tb.admin()
	if c := topicValue(adm, "follows", "retention.ms"); c.MaybeValue() != "60000" || c.Source != kmsg.ConfigSourceDynamicBrokerConfig {
		t.Fatalf("after restart: %+v", c)
	}
	if c := topicValue(adm, "follows", "cleanup.policy"); c.MaybeValue() != "delete" {
		t.Fatalf("after restart cleanup.policy: %+v", c)
	}
}

// TestAdminConfigSearchToggle: chronik.search.enabled set and deleted with
// IncrementalAlterConfigs switches a topic's search on and off.
func TestAdminConfigSearchToggle(t *testing.T) {
	tb := startBroker(t, "", nil)
	adm := tb.admin()
	ctx := testContext(t)
	createTopic(t, adm, "findme", 1, nil)
	if err := tb.client().ProduceSync(ctx, &kgo.Record{Topic: "findme", Value: []byte(`{"msg":"hello"}`)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	search := func() (int, uint64) {
		resp, err := http.Get("http://" + tb.b.HTTPAddr() + "/api/v1/topics/findme/search?limit=1")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var r struct{ Total uint64 }
		_ = json.Unmarshal(body, &r)
		return resp.StatusCode, r.Total
	}
	if code, _ := search(); code != http.StatusConflict {
		t.Fatalf("search before enabling: HTTP %d", code)
	}
	if rs, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "chronik.search.enabled", Value: strp("true")}}, "findme"); err != nil || rs[0].Err != nil {
		t.Fatalf("%v %+v", err, rs)
	}
	waitFor(t, 30*time.Second, "the record searchable", func() bool { code, n := search(); return code == 200 && n == 1 })
	if rs, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: "chronik.search.enabled"}}, "findme"); err != nil || rs[0].Err != nil {
		t.Fatalf("%v %+v", err, rs)
	}
	waitFor(t, 10*time.Second, "search disabled", func() bool { code, _ := search(); return code == http.StatusConflict })
}

func TestAdminDescribeClusterAndLogDirs(t *testing.T) {
	tb := startBroker(t, "", nil)
	adm := tb.admin()
	ctx := testContext(t)
	cl := tb.client(kgo.RecordPartitioner(kgo.ManualPartitioner()))

	// DescribeCluster at the newest version (kgo's choice) and v0.
	dc, err := kmsg.NewPtrDescribeClusterRequest().RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	host, port := tb.addrHostPort(t)
	if dc.ErrorCode != 0 || dc.ClusterID == "" || dc.ControllerID != 1 || len(dc.Brokers) != 1 || dc.EndpointType != 1 ||
		dc.ClusterAuthorizedOperations != -2147483648 {
		t.Fatalf("describe cluster: %+v", dc)
	}
	if br := dc.Brokers[0]; br.NodeID != 1 || br.Host != host || br.Port != port || br.Rack != nil || br.IsFenced {
		t.Fatalf("broker: %+v", br)
	}
	md, err := adm.BrokerMetadata(ctx)
	if err != nil || md.Cluster != dc.ClusterID {
		t.Fatalf("cluster id %q, metadata says %q (%v)", dc.ClusterID, md.Cluster, err)
	}
	v0 := kmsg.NewPtrDescribeClusterRequest()
	v0.Version = 0
	v0.IncludeClusterAuthorizedOperations = true
	if r := roundTrip(t, tb.addr, v0).(*kmsg.DescribeClusterResponse); r.ErrorCode != 0 || r.ClusterAuthorizedOperations <= 0 || len(r.Brokers) != 1 {
		t.Fatalf("describe cluster v0: %+v", r)
	}
	ctrl := kmsg.NewPtrDescribeClusterRequest()
	ctrl.Version = 1
	ctrl.EndpointType = 2
	if r := roundTrip(t, tb.addr, ctrl).(*kmsg.DescribeClusterResponse); r.ErrorCode != kerr.MismatchedEndpointType.Code {
		t.Fatalf("controllers endpoint: %+v", r)
	}

	// DescribeLogDirs: one dir, the data dir, with sizes after producing.
	createTopic(t, adm, "sized", 2, nil)
	createTopic(t, adm, "empty", 1, nil)
	for p := range int32(2) {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "sized", Partition: p, Value: bytes.Repeat([]byte("v"), 100)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	dirs, err := adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(tb.cfg.Server.DataDir)
	d, ok := dirs[1][abs]
	if len(dirs) != 1 || len(dirs[1]) != 1 || !ok || d.Err != nil {
		t.Fatalf("log dirs: %+v", dirs)
	}
	if d.TotalBytes <= 0 || d.UsableBytes <= 0 || d.UsableBytes > d.TotalBytes {
		t.Fatalf("volume: total %d, usable %d", d.TotalBytes, d.UsableBytes)
	}
	for p := range int32(2) {
		part, ok := d.Topics["sized"][p]
		if !ok || part.Size <= 0 || part.OffsetLag != 0 || part.IsFuture {
			t.Fatalf("sized-%d: %+v", p, part)
		}
	}
	if part := d.Topics["empty"][0]; part.Size != 0 {
		t.Fatalf("empty-0: %+v", part)
	}
	// Named partitions only; unknown ones are left out. v1 has no volume sizes.
	ld := kmsg.NewPtrDescribeLogDirsRequest()
	ld.Version = 1
	ld.Topics = []kmsg.DescribeLogDirsRequestTopic{{Topic: "sized", Partitions: []int32{1, 7}}, {Topic: "ghost", Partitions: []int32{0}}}
	lr := roundTrip(t, tb.addr, ld).(*kmsg.DescribeLogDirsResponse)
	if len(lr.Dirs) != 1 || len(lr.Dirs[0].Topics) != 1 || len(lr.Dirs[0].Topics[0].Partitions) != 1 || lr.Dirs[0].Topics[0].Partitions[0].Partition != 1 {
		t.Fatalf("describe log dirs v1: %+v", lr)
	}
}

// addrHostPort splits the broker's advertised address.
func (tb *testBroker) addrHostPort(t *testing.T) (string, int32) {
	t.Helper()
	md, err := tb.admin().BrokerMetadata(testContext(t))
	if err != nil || len(md.Brokers) != 1 {
		t.Fatalf("metadata: %v %+v", err, md)
	}
	return md.Brokers[0].Host, md.Brokers[0].Port
}

func TestAdminDescribeTopicPartitions(t *testing.T) {
	tb := startBroker(t, "", nil)
	adm := tb.admin()
	createTopic(t, adm, "dtp-a", 3, nil)
	createTopic(t, adm, "dtp-b", 2, nil)

	type page struct {
		parts  []string
		cursor string
	}
	describe := func(topics []string, limit int32, cursor *kmsg.DescribeTopicPartitionsRequestCursor) (*kmsg.DescribeTopicPartitionsResponse, page) {
		t.Helper()
		req := kmsg.NewPtrDescribeTopicPartitionsRequest()
		for _, n := range topics {
			req.Topics = append(req.Topics, kmsg.DescribeTopicPartitionsRequestTopic{Topic: n})
		}
		req.ResponsePartitionLimit = limit
		req.Cursor = cursor
		resp := roundTrip(t, tb.addr, req).(*kmsg.DescribeTopicPartitionsResponse)
		var p page
		for _, rt := range resp.Topics {
			if rt.ErrorCode != 0 {
				p.parts = append(p.parts, *rt.Topic+":"+kerr.ErrorForCode(rt.ErrorCode).Error())
				continue
			}
			for _, rp := range rt.Partitions {
				if rp.LeaderID != 1 || len(rp.Replicas) != 1 || len(rp.ISR) != 1 || rp.ErrorCode != 0 {
					t.Fatalf("partition %+v", rp)
				}
				p.parts = append(p.parts, *rt.Topic+"/"+string(rune('0'+rp.Partition)))
			}
		}
		if resp.NextCursor != nil {
			p.cursor = resp.NextCursor.Topic + "/" + string(rune('0'+resp.NextCursor.Partition))
		}
		return resp, p
	}
	next := func(r *kmsg.DescribeTopicPartitionsResponse) *kmsg.DescribeTopicPartitionsRequestCursor {
		return &kmsg.DescribeTopicPartitionsRequestCursor{Topic: r.NextCursor.Topic, Partition: r.NextCursor.Partition}
	}

	// Two partitions a page over both topics, following the cursor.
	names := []string{"dtp-b", "dtp-a"}
	r1, p1 := describe(names, 2, nil)
	if strings.Join(p1.parts, " ") != "dtp-a/0 dtp-a/1" || p1.cursor != "dtp-a/2" {
		t.Fatalf("page 1: %+v", p1)
	}
	if r1.Topics[0].TopicID == [16]byte{} || r1.Topics[0].AuthorizedOperations <= 0 {
		t.Fatalf("topic: %+v", r1.Topics[0])
	}
	r2, p2 := describe(names, 2, next(r1))
	if strings.Join(p2.parts, " ") != "dtp-a/2 dtp-b/0" || p2.cursor != "dtp-b/1" {
		t.Fatalf("page 2: %+v", p2)
	}
	_, p3 := describe(names, 2, next(r2))
	if strings.Join(p3.parts, " ") != "dtp-b/1" || p3.cursor != "" {
		t.Fatalf("page 3: %+v", p3)
	}
	// A page that ends exactly at a topic's end points at the next topic.
	if _, p := describe(names, 3, nil); strings.Join(p.parts, " ") != "dtp-a/0 dtp-a/1 dtp-a/2" || p.cursor != "dtp-b/0" {
		t.Fatalf("limit 3: %+v", p)
	}
	// Every topic (empty list), and unknown or invalid names.
	if _, p := describe(nil, 2000, nil); strings.Join(p.parts, " ") != "dtp-a/0 dtp-a/1 dtp-a/2 dtp-b/0 dtp-b/1" || p.cursor != "" {
		t.Fatalf("all topics: %+v", p)
	}
	_, p := describe([]string{"dtp-b", "ghost", "bad/name"}, 2000, nil)
	if strings.Join(p.parts, " ") != "bad/name:"+kerr.InvalidTopicException.Error()+" dtp-b/0 dtp-b/1 ghost:"+kerr.UnknownTopicOrPartition.Error() {
		t.Fatalf("unknown topics: %+v", p)
	}
	// A cursor outside the named topics is INVALID_REQUEST.
	r, _ := describe([]string{"dtp-a"}, 10, &kmsg.DescribeTopicPartitionsRequestCursor{Topic: "dtp-b"})
	if len(r.Topics) != 1 || r.Topics[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("cursor outside the list: %+v", r)
	}
}

func TestAdminReplicationQuotasAndACLs(t *testing.T) {
	tb := startBroker(t, "", nil)
	adm := tb.admin()
	ctx := testContext(t)
	createTopic(t, adm, "elect", 2, nil)

	// ElectLeaders: never needed on one node.
	for _, how := range []kadm.ElectLeadersHow{kadm.ElectPreferredReplica, kadm.ElectLiveReplica} {
		res, err := adm.ElectLeaders(ctx, how, kadm.TopicsSet{"elect": {0: {}, 1: {}, 9: {}}, "ghost": {0: {}}})
		if err != nil {
			t.Fatal(err)
		}
		for tp, want := range map[[2]string]error{
			{"elect", "0"}: kerr.ElectionNotNeeded, {"elect", "1"}: kerr.ElectionNotNeeded,
			{"elect", "9"}: kerr.UnknownTopicOrPartition, {"ghost", "0"}: kerr.UnknownTopicOrPartition,
		} {
			p := int32(tp[1][0] - '0')
			if got := res[tp[0]][p]; !errors.Is(got.Err, want) {
				t.Errorf("elect %s-%d (%d): %v, want %v", tp[0], p, how, got.Err, want)
			}
		}
	}
	all := kmsg.NewPtrElectLeadersRequest()
	all.Topics = nil
	if r, err := all.RequestWith(ctx, tb.client()); err != nil || r.ErrorCode != 0 || len(r.Topics) != 0 {
		t.Fatalf("elect all: %v %+v", err, r)
	}

	// Reassignments: none in progress; the only valid target is where
	// every partition already is.
	lr, err := adm.ListPartitionReassignments(ctx, nil)
	if err != nil || len(lr) != 0 {
		t.Fatalf("list reassignments: %v %+v", err, lr)
	}
	lr, err = adm.ListPartitionReassignments(ctx, kadm.TopicsSet{"elect": {0: {}}})
	if err != nil || len(lr) != 0 {
		t.Fatalf("list reassignments of elect-0: %v %+v", err, lr)
	}
	var req kadm.AlterPartitionAssignmentsReq
	req.Assign("elect", 0, []int32{1})
	req.Assign("elect", 1, []int32{1, 2})
	req.CancelAssign("elect", 7)
	req.Assign("ghost", 0, []int32{1})
	ar, err := adm.AlterPartitionAssignments(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if ar["elect"][0].Err != nil || !errors.Is(ar["elect"][1].Err, kerr.InvalidReplicaAssignment) ||
		!errors.Is(ar["elect"][7].Err, kerr.UnknownTopicOrPartition) || !errors.Is(ar["ghost"][0].Err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("alter assignments: %+v", ar)
	}
	var cancel kadm.AlterPartitionAssignmentsReq
	cancel.CancelAssign("elect", 0)
	if ar, err := adm.AlterPartitionAssignments(ctx, cancel); err != nil || !errors.Is(ar["elect"][0].Err, kerr.NoReassignmentInProgress) {
		t.Fatalf("cancel: %v %+v", err, ar)
	}

	// Client quotas: none.
	q, err := adm.DescribeClientQuotas(ctx, false, []kadm.DescribeClientQuotaComponent{{Type: "user", MatchType: kmsg.QuotasMatchTypeAny}})
	if err != nil || len(q) != 0 {
		t.Fatalf("describe quotas: %v %+v", err, q)
	}
	if _, err := adm.DescribeClientQuotas(ctx, false, []kadm.DescribeClientQuotaComponent{{Type: "user", MatchType: kmsg.QuotasMatchTypeExact}}); !errors.Is(err, kerr.InvalidRequest) {
		t.Fatalf("exact match without a name: %v", err)
	}

	// ACLs: no authorizer, as a Kafka broker without one answers.
	b := kadm.NewACLs().Topics("elect").Allow("User:alice").AllowHosts("*").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral)
	created, err := adm.CreateACLs(ctx, b)
	if err != nil || len(created) != 1 || !errors.Is(created[0].Err, kerr.SecurityDisabled) {
		t.Fatalf("create acls: %v %+v", err, created)
	}
	described, err := adm.DescribeACLs(ctx, b)
	if err != nil || len(described) != 1 || !errors.Is(described[0].Err, kerr.SecurityDisabled) {
		t.Fatalf("describe acls: %v %+v", err, described)
	}
	deleted, err := adm.DeleteACLs(ctx, b)
	if err != nil || len(deleted) != 1 || !errors.Is(deleted[0].Err, kerr.SecurityDisabled) {
		t.Fatalf("delete acls: %v %+v", err, deleted)
	}
}

// TestAdminAPIsEveryVersion sends each admin API at every advertised
// version over a bare connection and decodes the answer at that version.
func TestAdminAPIsEveryVersion(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb.admin(), "versions", 1, nil)
	vr, err := kmsg.NewPtrApiVersionsRequest().RequestWith(testContext(t), tb.client())
	if err != nil {
		t.Fatal(err)
	}
	advertised := map[int16][2]int16{}
	for _, k := range vr.ApiKeys {
		advertised[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
	}
	reqs := []kmsg.Request{
		kmsg.NewPtrDescribeACLsRequest(), kmsg.NewPtrCreateACLsRequest(), kmsg.NewPtrDeleteACLsRequest(),
		kmsg.NewPtrDescribeConfigsRequest(), kmsg.NewPtrAlterConfigsRequest(), kmsg.NewPtrIncrementalAlterConfigsRequest(),
		kmsg.NewPtrDescribeLogDirsRequest(), kmsg.NewPtrElectLeadersRequest(), kmsg.NewPtrAlterPartitionAssignmentsRequest(),
		kmsg.NewPtrListPartitionReassignmentsRequest(), kmsg.NewPtrDescribeClientQuotasRequest(), kmsg.NewPtrDescribeClusterRequest(),
		kmsg.NewPtrDescribeTopicPartitionsRequest(),
	}
	for _, req := range reqs {
		r, ok := advertised[req.Key()]
		if !ok {
			t.Errorf("api %d not advertised", req.Key())
			continue
		}
		if r[1] > req.MaxVersion() {
			t.Errorf("api %d: advertised up to v%d, kmsg knows v%d", req.Key(), r[1], req.MaxVersion())
		}
		for v := r[0]; v <= r[1]; v++ {
			req.SetVersion(v)
			switch q := req.(type) {
			case *kmsg.DescribeConfigsRequest:
				q.Resources = []kmsg.DescribeConfigsRequestResource{{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: "versions"}}
			case *kmsg.IncrementalAlterConfigsRequest:
				q.Resources = []kmsg.IncrementalAlterConfigsRequestResource{{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: "versions",
					Configs: []kmsg.IncrementalAlterConfigsRequestResourceConfig{{Name: "segment.ms", Value: strp("100000")}}}}
			case *kmsg.AlterConfigsRequest:
				q.Resources = []kmsg.AlterConfigsRequestResource{{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: "versions",
					Configs: []kmsg.AlterConfigsRequestResourceConfig{{Name: "segment.ms", Value: strp("100000")}}}}
			case *kmsg.CreateACLsRequest:
				q.Creations = []kmsg.CreateACLsRequestCreation{{ResourceType: kmsg.ACLResourceTypeTopic, ResourceName: "versions", ResourcePatternType: kmsg.ACLResourcePatternTypeLiteral,
					Principal: "User:a", Host: "*", Operation: kmsg.ACLOperationRead, PermissionType: kmsg.ACLPermissionTypeAllow}}
			case *kmsg.DeleteACLsRequest:
				q.Filters = []kmsg.DeleteACLsRequestFilter{{ResourceType: kmsg.ACLResourceTypeAny, ResourcePatternType: kmsg.ACLResourcePatternTypeAny,
					Operation: kmsg.ACLOperationAny, PermissionType: kmsg.ACLPermissionTypeAny}}
			case *kmsg.ElectLeadersRequest:
				q.Topics = []kmsg.ElectLeadersRequestTopic{{Topic: "versions", Partitions: []int32{0}}}
			case *kmsg.AlterPartitionAssignmentsRequest:
				q.Topics = []kmsg.AlterPartitionAssignmentsRequestTopic{{Topic: "versions", Partitions: []kmsg.AlterPartitionAssignmentsRequestTopicPartition{{Partition: 0, Replicas: []int32{1}}}}}
			case *kmsg.DescribeTopicPartitionsRequest:
				q.Topics = []kmsg.DescribeTopicPartitionsRequestTopic{{Topic: "versions"}}
			}
			resp := roundTrip(t, tb.addr, req)
			var code int16
			switch r := resp.(type) {
			case *kmsg.DescribeConfigsResponse:
				code = r.Resources[0].ErrorCode
			case *kmsg.AlterConfigsResponse:
				code = r.Resources[0].ErrorCode
			case *kmsg.IncrementalAlterConfigsResponse:
				code = r.Resources[0].ErrorCode
			case *kmsg.DescribeLogDirsResponse:
				if len(r.Dirs) != 1 {
					t.Errorf("describe log dirs v%d: %+v", v, r)
				}
			case *kmsg.ElectLeadersResponse:
				if p := r.Topics[0].Partitions[0]; p.ErrorCode != kerr.ElectionNotNeeded.Code {
					code = p.ErrorCode
				}
			case *kmsg.AlterPartitionAssignmentsResponse:
				code = r.Topics[0].Partitions[0].ErrorCode
			case *kmsg.DescribeClusterResponse:
				code = r.ErrorCode
			case *kmsg.DescribeTopicPartitionsResponse:
				code = r.Topics[0].ErrorCode
			case *kmsg.DescribeClientQuotasResponse:
				code = r.ErrorCode
			case *kmsg.DescribeACLsResponse:
				if r.ErrorCode != kerr.SecurityDisabled.Code {
					code = r.ErrorCode
				}
			case *kmsg.CreateACLsResponse:
				if r.Results[0].ErrorCode != kerr.SecurityDisabled.Code {
					code = -1
				}
			case *kmsg.DeleteACLsResponse:
				if r.Results[0].ErrorCode != kerr.SecurityDisabled.Code {
					code = -1
				}
			}
			if code != 0 {
				t.Errorf("%T v%d: error %d", req, v, code)
			}
		}
	}
}

// confluentAdminScript drives confluent-kafka-python's AdminClient
// (librdkafka): describe a topic's and the broker's configs, replace the
// topic's configs (AlterConfigs), and try an invalid value.
const confluentAdminScript = `
import json, sys
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource

a = AdminClient({'bootstrap.servers': sys.argv[1]})

def describe(restype, name):
    for _, f in a.describe_configs([ConfigResource(restype, name)], request_timeout=15).items():
        return {k: {'value': v.value, 'source': v.source, 'read_only': v.is_read_only,
                    'synonyms': [[s.name, s.value, s.source] for s in v.synonyms.values()]}
                for k, v in f.result().items()}

def alter(configs):
    try:
        for _, f in a.alter_configs([ConfigResource('topic', 'pyconf', set_config=configs)], request_timeout=15).items():
            f.result()
        return 'ok'
    except KafkaException as e:
        return e.args[0].name()

out = {'topic': describe('topic', 'pyconf'), 'broker': describe('broker', '1')}
out['alter'] = alter({'retention.ms': '7200000', 'cleanup.policy': 'compact'})
out['invalid'] = alter({'retention.ms': 'soon'})
out['after'] = describe('topic', 'pyconf')
print(json.dumps(out))
`

func TestAdminConfigsConfluentKafkaPython(t *testing.T) {
	py := pythonWith(t, "confluent_kafka")
	tb := startBroker(t, "", nil)
	createTopic(t, tb.admin(), "pyconf", 1, map[string]*string{"segment.ms": strp("60000")})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-c", confluentAdminScript, tb.addr)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("confluent admin script: %v\n%s", err, stderr.String())
	}
	type entry struct {
		Value    *string
		Source   int
		ReadOnly bool `json:"read_only"`
		Synonyms [][]any
	}
	var out struct {
		Topic, Broker, After map[string]entry
		Alter, Invalid       string
	}
	if err := json.Unmarshal(stdout, &out); err != nil {
		t.Fatalf("script output %q: %v", stdout, err)
	}
	if c := out.Topic["segment.ms"]; c.Value == nil || *c.Value != "60000" || c.Source != int(kmsg.ConfigSourceDynamicTopicConfig) || len(c.Synonyms) != 2 {
		t.Errorf("segment.ms: %+v", c)
	}
	if c := out.Topic["retention.ms"]; c.Value == nil || *c.Value != "604800000" || c.Source != int(kmsg.ConfigSourceDefaultConfig) {
		t.Errorf("retention.ms: %+v", c)
	}
	if c := out.Broker["log.retention.ms"]; c.Value == nil || *c.Value != "604800000" || c.ReadOnly {
		t.Errorf("broker log.retention.ms: %+v", c)
	}
	if out.Alter != "ok" || out.Invalid != "INVALID_CONFIG" {
		t.Errorf("alter: %s, invalid alter: %s", out.Alter, out.Invalid)
	}
	// AlterConfigs replaced the set: segment.ms is back to its default.
	for k, want := range map[string]string{"retention.ms": "7200000", "cleanup.policy": "compact", "segment.ms": "604800000"} {
		if c := out.After[k]; c.Value == nil || *c.Value != want {
			t.Errorf("after alter, %s = %+v, want %s", k, c, want)
		}
	}
}
