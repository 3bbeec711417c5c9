package kafka

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/config"
	"github.com/chronik-streaming/chronik/internal/server"
	"github.com/chronik-streaming/chronik/internal/topics"
)

// Config sources, as DescribeConfigs v1+ reports them.
const (
	sourceDynamicTopic = kmsg.ConfigSourceDynamicTopicConfig
	sourceStaticBroker = kmsg.ConfigSourceStaticBrokerConfig
	sourceDefault      = kmsg.ConfigSourceDefaultConfig
)

func handleDescribeConfigs(h *Handler, _ context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.DescribeConfigsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, rr := range r.Resources {
		res := kmsg.NewDescribeConfigsResponseResource()
		res.ResourceType = rr.ResourceType
		res.ResourceName = rr.ResourceName
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			t, ok := h.topics.Get(rr.ResourceName)
			if !ok {
				res.ErrorCode = kerr.UnknownTopicOrPartition.Code
				res.ErrorMessage = errorMessage(fmt.Errorf("topic %s does not exist", rr.ResourceName))
				break
			}
			res.Configs = h.describeTopicConfigs(h.topics.Configs(t), rr.ConfigNames, r.IncludeSynonyms, r.IncludeDocumentation)
		case kmsg.ConfigResourceTypeBroker:
			if rr.ResourceName != "" && rr.ResourceName != strconv.Itoa(int(h.broker.NodeID)) {
				res.ErrorCode = kerr.InvalidRequest.Code
				res.ErrorMessage = errorMessage(fmt.Errorf("broker %q is not this broker (%d)", rr.ResourceName, h.broker.NodeID))
				break
			}
			res.Configs = h.describeBrokerConfigs(rr.ConfigNames, r.IncludeSynonyms, r.IncludeDocumentation)
		case kmsg.ConfigResourceTypeBrokerLogger:
			// No dynamic log levels yet: an empty list, as for a broker
			// with no loggers configured.
		default:
			res.ErrorCode = kerr.InvalidRequest.Code
			res.ErrorMessage = errorMessage(fmt.Errorf("unsupported config resource type %d", rr.ResourceType))
		}
		if r.Version == 0 {
			for i := range res.Configs {
				res.Configs[i].IsDefault = res.Configs[i].Source == sourceDefault
			}
		}
		resp.Resources = append(resp.Resources, res)
	}
	return server.Respond(resp), nil
}

func wanted(names []string) func(string) bool {
	if names == nil {
		return func(string) bool { return true }
	}
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[n] = true
	}
	return func(n string) bool { return set[n] }
}

// describeTopicConfigs lists a topic's configs: its own value where set,
// else the broker's, with where each came from.
func (h *Handler) describeTopicConfigs(explicit map[string]string, names []string, synonyms, docs bool) []kmsg.DescribeConfigsResponseResourceConfig {
	want := wanted(names)
	brokerVals := h.brokerConfigValues()
	var out []kmsg.DescribeConfigsResponseResourceConfig
	for _, d := range topics.ConfigDefs() {
		if !want(d.Name) {
			continue
		}
		c := kmsg.NewDescribeConfigsResponseResourceConfig()
		c.Name = d.Name
		c.ConfigType = kmsg.ConfigType(d.Type)
		if docs {
			doc := d.Doc
			c.Documentation = &doc
		}
		var syns []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym
		if v, ok := explicit[d.Name]; ok {
			syns = append(syns, synonym(d.Name, v, sourceDynamicTopic))
		}
		if bv, ok := brokerVals[d.BrokerName]; ok {
			syns = append(syns, synonym(d.BrokerName, *bv.value, bv.source))
		} else {
			syns = append(syns, synonym(d.BrokerName, d.Default(h.cfg), sourceDefault))
		}
		if syns[len(syns)-1].Name == "" {
			syns = syns[:len(syns)-1]
		}
		if len(syns) == 0 {
			syns = append(syns, synonym(d.Name, d.Default(h.cfg), sourceDefault))
		}
		v := syns[0].Value
		c.Value = v
		c.Source = syns[0].Source
		if synonyms {
			c.ConfigSynonyms = syns
		}
		out = append(out, c)
	}
	return out
}

func synonym(name string, value string, source kmsg.ConfigSource) kmsg.DescribeConfigsResponseResourceConfigConfigSynonym {
	s := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
	s.Name = name
	s.Value = &value
	s.Source = source
	return s
}

type brokerValue struct {
	value  *string
	source kmsg.ConfigSource
	typ    topics.ConfigType
	doc    string
}

// brokerConfigValues renders the broker's configuration under Kafka's names.
// A value that differs from the built-in default is reported as static
// broker config (it came from the TOML file, a flag or the environment).
func (h *Handler) brokerConfigValues() map[string]brokerValue {
	def := config.Default()
	out := map[string]brokerValue{}
	add := func(name string, typ topics.ConfigType, doc string, get func(c *config.Config) string) {
		v, dv := get(h.cfg), get(def)
		src := sourceDefault
		if v != dv {
			src = sourceStaticBroker
		}
		out[name] = brokerValue{value: &v, source: src, typ: typ, doc: doc}
	}
	itoa := func(n int64) string { return strconv.FormatInt(n, 10) }
	add("node.id", topics.TypeInt, "This broker's id.", func(c *config.Config) string { return itoa(int64(c.Server.NodeID)) })
	add("broker.id", topics.TypeInt, "This broker's id.", func(c *config.Config) string { return itoa(int64(c.Server.NodeID)) })
	add("listeners", topics.TypeString, "Address the Kafka listener binds.", func(c *config.Config) string { return "PLAINTEXT://" + c.Server.KafkaListen })
	add("advertised.listeners", topics.TypeString, "Address clients are told to connect to.", func(c *config.Config) string {
		host, port := c.Advertised()
		return "PLAINTEXT://" + net.JoinHostPort(host, strconv.Itoa(int(port)))
	})
	add("log.dirs", topics.TypeString, "Data directory.", func(c *config.Config) string { return c.Server.DataDir })
	add("socket.request.max.bytes", topics.TypeInt, "Largest request frame accepted.", func(c *config.Config) string { return itoa(int64(c.Server.MaxRequestBytes)) })
	add("log.retention.ms", topics.TypeLong, "Default retention.ms of topics.", func(c *config.Config) string { return itoa(c.Storage.RetentionMs) })
	add("log.retention.bytes", topics.TypeLong, "Default retention.bytes of topics.", func(c *config.Config) string { return itoa(c.Storage.RetentionBytes) })
	add("log.segment.bytes", topics.TypeInt, "Default segment.bytes of topics.", func(c *config.Config) string { return itoa(c.Storage.SegmentSizeMB << 20) })
	add("log.roll.ms", topics.TypeLong, "Default segment.ms of topics.", func(c *config.Config) string { return itoa(c.Storage.SegmentAgeMs) })
	add("message.max.bytes", topics.TypeInt, "Default max.message.bytes of topics.", func(c *config.Config) string { return itoa(int64(c.Storage.MessageMaxBytes)) })
	add("log.index.interval.bytes", topics.TypeInt, "Default index.interval.bytes of topics.", func(c *config.Config) string { return itoa(int64(c.Storage.IndexIntervalBytes)) })
	add("chronik.fsync", topics.TypeString, "When appended data is fsynced: always, interval or never.", func(c *config.Config) string { return c.Storage.Fsync })
	add("log.flush.interval.ms", topics.TypeLong, "fsync interval under fsync=interval.", func(c *config.Config) string { return itoa(c.Storage.FsyncIntervalMs) })
	add("producer.id.expiration.ms", topics.TypeInt, "How long an idle producer's state is kept.", func(c *config.Config) string { return itoa(c.Storage.ProducerIDExpirationMs) })
	add("auto.create.topics.enable", topics.TypeBoolean, "Create unknown topics on metadata requests.", func(c *config.Config) string { return strconv.FormatBool(c.Consumer.AutoCreateTopics) })
	add("num.partitions", topics.TypeInt, "Default partition count of new topics.", func(c *config.Config) string { return itoa(int64(c.Consumer.NumPartitions)) })
	add("default.replication.factor", topics.TypeShort, "Default replication factor of new topics.", func(c *config.Config) string { return itoa(int64(c.Consumer.ReplicationFactor)) })
	add("group.initial.rebalance.delay.ms", topics.TypeInt, "Delay of a new group's first rebalance.", func(c *config.Config) string { return itoa(c.Consumer.GroupInitialRebalanceDelayMs) })
	add("group.min.session.timeout.ms", topics.TypeInt, "Smallest session timeout a member may ask for.", func(c *config.Config) string { return itoa(int64(c.Consumer.GroupMinSessionTimeoutMs)) })
	add("group.max.session.timeout.ms", topics.TypeInt, "Largest session timeout a member may ask for.", func(c *config.Config) string { return itoa(int64(c.Consumer.GroupMaxSessionTimeoutMs)) })
	add("offsets.retention.minutes", topics.TypeInt, "How long an empty group's offsets are kept.", func(c *config.Config) string { return itoa(c.Consumer.OffsetsRetentionMinutes) })
	return out
}

// describeBrokerConfigs lists broker configs: Chronik's own plus the Kafka
// defaults of every topic config that has a broker-level name.
func (h *Handler) describeBrokerConfigs(names []string, synonyms, docs bool) []kmsg.DescribeConfigsResponseResourceConfig {
	want := wanted(names)
	vals := h.brokerConfigValues()
	for _, d := range topics.ConfigDefs() {
		if _, ok := vals[d.BrokerName]; !ok && d.BrokerName != "" {
			v := d.Default(h.cfg)
			vals[d.BrokerName] = brokerValue{value: &v, source: sourceDefault, typ: d.Type, doc: d.Doc}
		}
	}
	names2 := make([]string, 0, len(vals))
	for n := range vals {
		names2 = append(names2, n)
	}
	sort.Strings(names2)
	var out []kmsg.DescribeConfigsResponseResourceConfig
	for _, n := range names2 {
		if !want(n) {
			continue
		}
		bv := vals[n]
		c := kmsg.NewDescribeConfigsResponseResourceConfig()
		c.Name = n
		c.Value = bv.value
		c.Source = bv.source
		c.ReadOnly = true // broker configs change by restart until AlterConfigs exists
		c.ConfigType = kmsg.ConfigType(bv.typ)
		if docs {
			doc := bv.doc
			c.Documentation = &doc
		}
		if synonyms {
			c.ConfigSynonyms = []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym{synonym(n, *bv.value, bv.source)}
		}
		out = append(out, c)
	}
	return out
}
