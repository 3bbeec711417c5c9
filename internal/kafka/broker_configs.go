package kafka

import (
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/config"
	"github.com/chronik-streaming/chronik/internal/topics"
)

// A brokerConfig is one of the broker configs DescribeConfigs lists, by
// Kafka's name where Chronik has Kafka's setting, else under "chronik.".
// Broker configs come from Chronik's configuration (TOML file, flags,
// environment) and change by restart: they are read-only, and
// AlterConfigs/IncrementalAlterConfigs refuse changes to them
// (INVALID_REQUEST); their sources are STATIC_BROKER_CONFIG (the value
// differs from the built-in default) and DEFAULT_CONFIG. The broker defaults
// of topic configs (log.retention.ms, ...) are the exception: they are
// dynamic (see topics.AlterBrokerConfigs).
type brokerConfig struct {
	name string
	typ  topics.ConfigType
	key  string // Chronik's configuration key ("" when fixed)
	doc  string
	// get renders the value from a configuration; the source is
	// STATIC_BROKER_CONFIG when it differs from the built-in default's.
	get func(c *config.Config) string
	// show, when set, renders the value reported instead (the running
	// broker's view, e.g. the advertised address with its real port).
	show func(h *Handler) string
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

var brokerConfigTable = []brokerConfig{
	{name: "node.id", typ: topics.TypeInt, key: "server.node_id", doc: "This node's id.", get: func(c *config.Config) string { return itoa(int64(c.Server.NodeID)) }},
	{name: "broker.id", typ: topics.TypeInt, key: "server.node_id", doc: "This broker's id (the same as node.id).", get: func(c *config.Config) string { return itoa(int64(c.Server.NodeID)) }},
	{name: "listeners", typ: topics.TypeString, key: "server.kafka_listen", doc: "Address the Kafka listener binds.", get: func(c *config.Config) string { return "PLAINTEXT://" + c.Server.KafkaListen }},
	{name: "advertised.listeners", typ: topics.TypeString, key: "server.advertised_host, server.advertised_port", doc: "Address clients are told to connect to.",
		get: func(c *config.Config) string {
			host, port := c.Advertised()
			return "PLAINTEXT://" + net.JoinHostPort(host, strconv.Itoa(int(port)))
		},
		show: func(h *Handler) string {
			return "PLAINTEXT://" + net.JoinHostPort(h.broker.Host, strconv.Itoa(int(h.broker.Port)))
		}},
	{name: "log.dirs", typ: topics.TypeString, key: "server.data_dir", doc: "The directory holding logs and metadata.", get: func(c *config.Config) string { return c.Server.DataDir }},
	{name: "log.dir", typ: topics.TypeString, key: "server.data_dir", doc: "The directory holding logs and metadata (the same as log.dirs).", get: func(c *config.Config) string { return c.Server.DataDir }},
	{name: "socket.request.max.bytes", typ: topics.TypeInt, key: "server.max_request_bytes", doc: "Largest request accepted, in bytes.", get: func(c *config.Config) string { return itoa(int64(c.Server.MaxRequestBytes)) }},
	{name: "producer.id.expiration.ms", typ: topics.TypeInt, key: "storage.producer_id_expiration_ms", doc: "How long an idle idempotent producer's state is kept.", get: func(c *config.Config) string { return itoa(c.Storage.ProducerIDExpirationMs) }},
	{name: "auto.create.topics.enable", typ: topics.TypeBoolean, key: "consumer.auto_create_topics", doc: "Create unknown topics on metadata and produce requests.", get: func(c *config.Config) string { return strconv.FormatBool(c.Consumer.AutoCreateTopics) }},
	{name: "num.partitions", typ: topics.TypeInt, key: "consumer.num_partitions", doc: "Partitions of topics created with the default count.", get: func(c *config.Config) string { return itoa(int64(c.Consumer.NumPartitions)) }},
	{name: "default.replication.factor", typ: topics.TypeInt, key: "consumer.replication_factor", doc: "Replication factor of new topics (one node: 1).", get: func(c *config.Config) string { return itoa(int64(c.Consumer.ReplicationFactor)) }},
	{name: "group.initial.rebalance.delay.ms", typ: topics.TypeInt, key: "consumer.group_initial_rebalance_delay_ms", doc: "Delay of a new classic group's first rebalance.", get: func(c *config.Config) string { return itoa(c.Consumer.GroupInitialRebalanceDelayMs) }},
	{name: "group.min.session.timeout.ms", typ: topics.TypeInt, key: "consumer.group_min_session_timeout_ms", doc: "Smallest session timeout a classic group member may ask for.", get: func(c *config.Config) string { return itoa(int64(c.Consumer.GroupMinSessionTimeoutMs)) }},
	{name: "group.max.session.timeout.ms", typ: topics.TypeInt, key: "consumer.group_max_session_timeout_ms", doc: "Largest session timeout a classic group member may ask for.", get: func(c *config.Config) string { return itoa(int64(c.Consumer.GroupMaxSessionTimeoutMs)) }},
	{name: "group.consumer.session.timeout.ms", typ: topics.TypeInt, key: "consumer.group_consumer_session_timeout_ms", doc: "Session timeout of consumer-protocol (KIP-848) group members.", get: func(c *config.Config) string { return itoa(int64(c.Consumer.GroupConsumerSessionTimeoutMs)) }},
	{name: "group.consumer.heartbeat.interval.ms", typ: topics.TypeInt, key: "consumer.group_consumer_heartbeat_interval_ms", doc: "Heartbeat interval of consumer-protocol (KIP-848) group members.", get: func(c *config.Config) string { return itoa(int64(c.Consumer.GroupConsumerHeartbeatIntervalMs)) }},
	{name: "offsets.retention.minutes", typ: topics.TypeInt, key: "consumer.offsets_retention_minutes", doc: "How long an empty group's committed offsets are kept.", get: func(c *config.Config) string { return itoa(c.Consumer.OffsetsRetentionMinutes) }},
	{name: "transaction.max.timeout.ms", typ: topics.TypeInt, key: "consumer.transaction_max_timeout_ms", doc: "Largest transaction timeout a producer may ask for.", get: func(c *config.Config) string { return itoa(c.Consumer.TransactionMaxTimeoutMs) }},
	// Chronik's own settings, with no Kafka counterpart.
	{name: "chronik.fsync", typ: topics.TypeString, key: "storage.fsync", doc: "When appended data is fsynced: always, interval or never.", get: func(c *config.Config) string { return c.Storage.Fsync }},
	{name: "chronik.http.listen", typ: topics.TypeString, key: "server.http_listen", doc: "Address of the HTTP listener (health, metrics, admin API, search).", get: func(c *config.Config) string { return c.Server.HTTPListen }},
	{name: "chronik.log.level", typ: topics.TypeString, key: "server.log_level", doc: "Level of the broker's own log.", get: func(c *config.Config) string { return c.Server.LogLevel }},
	{name: "chronik.metrics.per.partition", typ: topics.TypeBoolean, key: "server.metrics_per_partition", doc: "Label /metrics series by partition too.", get: func(c *config.Config) string { return strconv.FormatBool(c.Server.MetricsPerPartition) }},
	{name: "chronik.search.index.docs", typ: topics.TypeLong, key: "search.search_index_docs", doc: "Records per partition search index before it rolls.", get: func(c *config.Config) string { return itoa(c.Search.SearchIndexDocs) }},
}

// brokerConfigEntry is a broker config resolved against this broker.
type brokerConfigEntry struct {
	name         string
	typ          topics.ConfigType
	doc          string
	value        string
	defaultValue string // the built-in default
	static       bool   // set by Chronik's configuration to a value other than the default
	staticValue  string
	dynamic      bool // changeable while running (see topics.AlterBrokerConfigs)
	dynamicSet   bool // and changed
}

// synonyms lists where the value comes from, most specific first, as Kafka
// does: the dynamic value if set, the static broker config if set, then the
// default.
func (e brokerConfigEntry) synonyms(dynamicSource kmsg.ConfigSource) []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym {
	var out []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym
	if e.dynamicSet {
		out = append(out, synonym(e.name, e.value, dynamicSource))
	}
	if e.static {
		out = append(out, synonym(e.name, e.staticValue, kmsg.ConfigSourceStaticBrokerConfig))
	}
	return append(out, synonym(e.name, e.defaultValue, kmsg.ConfigSourceDefaultConfig))
}

// brokerConfigs resolves every broker config, keyed by name: the table
// above and the broker defaults of the topic configs (log.retention.ms,
// log.segment.bytes, log.cleanup.policy, compression.type, ...).
func (h *Handler) brokerConfigs() map[string]brokerConfigEntry {
	def := config.Default()
	out := map[string]brokerConfigEntry{}
	for _, bc := range brokerConfigTable {
		v, dv := bc.get(h.cfg), bc.get(def)
		e := brokerConfigEntry{name: bc.name, typ: bc.typ, doc: brokerDoc(bc.doc, bc.key), value: v, defaultValue: dv, static: v != dv, staticValue: v}
		if bc.show != nil {
			e.value = bc.show(h)
			e.staticValue = e.value
		}
		out[bc.name] = e
	}
	for _, d := range topics.ConfigDefs() {
		if d.BrokerName == "" {
			continue
		}
		if _, ok := out[d.BrokerName]; ok {
			continue
		}
		v, dv := d.Default(h.cfg), d.Default(def)
		doc := "The default of the topic config " + d.Name + ": " + d.Doc
		e := brokerConfigEntry{name: d.BrokerName, typ: d.Type, doc: brokerDoc(doc, d.BrokerKey), value: v, defaultValue: dv, static: v != dv, staticValue: v}
		if _, ok := topics.BrokerSynonym(d.BrokerName); ok {
			e.dynamic = true
			e.doc = dynamicDoc(doc, d.BrokerKey)
			e.value, e.dynamicSet = h.topics.BrokerDefault(d)
		}
		out[d.BrokerName] = e
	}
	return out
}

func brokerDoc(doc, key string) string {
	if key == "" {
		return doc + " Fixed in Chronik."
	}
	return doc + " Set by " + key + " in Chronik's configuration (TOML file, flag or environment); read-only while the broker runs."
}

func dynamicDoc(doc, key string) string {
	doc += " Dynamic: AlterConfigs/IncrementalAlterConfigs on the broker change it live for every topic that does not set it"
	if key == "" {
		return doc + "."
	}
	return doc + "; the initial value comes from " + key + " in Chronik's configuration."
}

// describeBrokerConfigs lists this broker's configs, sorted by name; for
// the cluster-wide default resource, only the dynamic ones that are set.
func (h *Handler) describeBrokerConfigs(names []string, synonyms, docs, clusterDefault bool) []kmsg.DescribeConfigsResponseResourceConfig {
	want := wanted(names)
	all := h.brokerConfigs()
	dynamicSource := kmsg.ConfigSourceDynamicBrokerConfig
	if clusterDefault {
		dynamicSource = kmsg.ConfigSourceDynamicDefaultBrokerConfig
	}
	sorted := make([]string, 0, len(all))
	for n, e := range all {
		if want(n) && (!clusterDefault || e.dynamicSet) {
			sorted = append(sorted, n)
		}
	}
	sort.Strings(sorted)
	out := make([]kmsg.DescribeConfigsResponseResourceConfig, 0, len(sorted))
	for _, n := range sorted {
		e := all[n]
		c := kmsg.NewDescribeConfigsResponseResourceConfig()
		c.Name = n
		v := e.value
		c.Value = &v
		syns := e.synonyms(dynamicSource)
		c.Source = syns[0].Source
		c.ReadOnly = !e.dynamic
		c.ConfigType = kmsg.ConfigType(e.typ)
		if docs {
			doc := e.doc
			c.Documentation = &doc
		}
		if synonyms {
			c.ConfigSynonyms = syns
		}
		out = append(out, c)
	}
	return out
}

// brokerLoggers lists the broker's loggers and their levels (BROKER_LOGGER
// resources): Chronik has one, the root logger, at server.log_level.
func (h *Handler) brokerLoggers(names []string) []kmsg.DescribeConfigsResponseResourceConfig {
	if !wanted(names)("root") {
		return []kmsg.DescribeConfigsResponseResourceConfig{}
	}
	c := kmsg.NewDescribeConfigsResponseResourceConfig()
	c.Name = "root"
	level := strings.ToUpper(h.cfg.Server.LogLevel)
	c.Value = &level
	c.Source = kmsg.ConfigSourceDynamicBrokerLoggerConfig
	c.ReadOnly = true
	c.ConfigType = kmsg.ConfigTypeString
	return []kmsg.DescribeConfigsResponseResourceConfig{c}
}
