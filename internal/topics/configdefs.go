package topics

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/chronik-streaming/chronik/internal/config"
)

// ConfigType is a config's type as DescribeConfigs v3+ reports it.
type ConfigType int8

const (
	TypeBoolean ConfigType = 1
	TypeString  ConfigType = 2
	TypeInt     ConfigType = 3
	TypeShort   ConfigType = 4
	TypeLong    ConfigType = 5
	TypeDouble  ConfigType = 6
	TypeList    ConfigType = 7
)

// ConfigDef describes one topic-level config, by its Kafka name.
type ConfigDef struct {
	Name string
	Type ConfigType
	// BrokerName is the broker-wide config it falls back to ("" if none).
	BrokerName string
	// BrokerKey is the key of Chronik's configuration (TOML, flag,
	// environment) that sets the broker default ("" when it is fixed).
	BrokerKey string
	Doc       string
	// Default is the value when neither the topic nor the broker sets it.
	Default func(b *config.Config) string
	// Valid lists the allowed values of an enumeration (nil: any).
	Valid []string
	// Min and Max bound numeric values.
	Min, Max float64
}

func constant(v string) func(*config.Config) string { return func(*config.Config) string { return v } }

// flushMessages and flushMs render the broker's fsync policy as Kafka's
// flush settings: fsync=always flushes every message, fsync=interval every
// fsync_interval_ms, fsync=never leaves it to the OS.
func flushMessages(b *config.Config) string {
	if b.Storage.Fsync == config.FsyncAlways {
		return "1"
	}
	return i64(maxLong)
}

func flushMs(b *config.Config) string {
	if b.Storage.Fsync == config.FsyncInterval {
		return i64(b.Storage.FsyncIntervalMs)
	}
	return i64(maxLong)
}

func i64(v int64) string { return strconv.FormatInt(v, 10) }

const maxLong = math.MaxInt64

// SearchEnabledConfig is the topic config that makes a topic searchable.
const SearchEnabledConfig = "chronik.search.enabled"

// topicConfigs are the topic configs Chronik knows, with Kafka's names.
// Those that only matter to replication or features still to come are
// accepted and reported, so tools that set them keep working.
var topicConfigs = map[string]*ConfigDef{}

func init() {
	for _, d := range []*ConfigDef{
		{Name: "cleanup.policy", Type: TypeList, BrokerName: "log.cleanup.policy", Doc: "Retention policy for old segments: delete, compact, or both (a list).", Default: constant("delete"), Valid: []string{"delete", "compact"}},
		{Name: "compression.type", Type: TypeString, BrokerName: "compression.type", Doc: "Compression of stored batches; producer keeps what the producer sent.", Default: constant("producer"), Valid: []string{"producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"}},
		{Name: "retention.ms", Type: TypeLong, BrokerName: "log.retention.ms", BrokerKey: "storage.retention_ms", Doc: "How long closed segments are kept; -1 keeps them forever.", Default: func(b *config.Config) string { return i64(b.Storage.RetentionMs) }, Min: -1, Max: maxLong},
		{Name: "retention.bytes", Type: TypeLong, BrokerName: "log.retention.bytes", BrokerKey: "storage.retention_bytes", Doc: "Largest size of a partition before closed segments are deleted; -1 is unlimited.", Default: func(b *config.Config) string { return i64(b.Storage.RetentionBytes) }, Min: -1, Max: maxLong},
		{Name: "segment.bytes", Type: TypeInt, BrokerName: "log.segment.bytes", BrokerKey: "storage.segment_size_mb", Doc: "Size at which a segment is rolled.", Default: func(b *config.Config) string { return i64(b.Storage.SegmentSizeMB << 20) }, Min: 14, Max: math.MaxInt32},
		{Name: "segment.ms", Type: TypeLong, BrokerName: "log.roll.ms", BrokerKey: "storage.segment_age_ms", Doc: "Age at which a segment is rolled even if not full.", Default: func(b *config.Config) string { return i64(b.Storage.SegmentAgeMs) }, Min: 1, Max: maxLong},
		{Name: "max.message.bytes", Type: TypeInt, BrokerName: "message.max.bytes", BrokerKey: "storage.message_max_bytes", Doc: "Largest record batch the topic accepts.", Default: func(b *config.Config) string { return i64(int64(b.Storage.MessageMaxBytes)) }, Min: 0, Max: math.MaxInt32},
		{Name: "message.timestamp.type", Type: TypeString, BrokerName: "log.message.timestamp.type", Doc: "CreateTime keeps the producer's timestamps; LogAppendTime stamps the broker's time.", Default: constant("CreateTime"), Valid: []string{"CreateTime", "LogAppendTime"}},
		{Name: "index.interval.bytes", Type: TypeInt, BrokerName: "log.index.interval.bytes", BrokerKey: "storage.index_interval_bytes", Doc: "Bytes between offset index entries.", Default: func(b *config.Config) string { return i64(int64(b.Storage.IndexIntervalBytes)) }, Min: 0, Max: math.MaxInt32},
		{Name: "segment.index.bytes", Type: TypeInt, BrokerName: "log.index.size.max.bytes", Doc: "Largest size of an offset index.", Default: constant("10485760"), Min: 4, Max: math.MaxInt32},
		{Name: "segment.jitter.ms", Type: TypeLong, BrokerName: "log.roll.jitter.ms", Doc: "Random jitter subtracted from segment.ms.", Default: constant("0"), Min: 0, Max: maxLong},
		{Name: "min.insync.replicas", Type: TypeInt, BrokerName: "min.insync.replicas", Doc: "Replicas that must acknowledge acks=all; one node is the only replica.", Default: constant("1"), Min: 1, Max: math.MaxInt32},
		{Name: "flush.messages", Type: TypeLong, BrokerName: "log.flush.interval.messages", BrokerKey: "storage.fsync", Doc: "Chronik fsyncs by the broker's fsync policy (storage.fsync): the default shows what it amounts to (1 under fsync=always); a topic's own value is kept for compatibility and has no effect.", Default: flushMessages, Min: 1, Max: maxLong},
		{Name: "flush.ms", Type: TypeLong, BrokerName: "log.flush.interval.ms", BrokerKey: "storage.fsync_interval_ms", Doc: "Chronik fsyncs by the broker's fsync policy (storage.fsync): the default shows what it amounts to (storage.fsync_interval_ms under fsync=interval); a topic's own value is kept for compatibility and has no effect.", Default: flushMs, Min: 0, Max: maxLong},
		{Name: "delete.retention.ms", Type: TypeLong, BrokerName: "log.cleaner.delete.retention.ms", Doc: "How long tombstones are kept on compacted topics.", Default: constant("86400000"), Min: 0, Max: maxLong},
		{Name: "min.compaction.lag.ms", Type: TypeLong, BrokerName: "log.cleaner.min.compaction.lag.ms", Doc: "Minimum age of a record before it can be compacted.", Default: constant("0"), Min: 0, Max: maxLong},
		{Name: "max.compaction.lag.ms", Type: TypeLong, BrokerName: "log.cleaner.max.compaction.lag.ms", Doc: "Maximum time a record stays uncompacted.", Default: constant(i64(maxLong)), Min: 1, Max: maxLong},
		{Name: "min.cleanable.dirty.ratio", Type: TypeDouble, BrokerName: "log.cleaner.min.cleanable.ratio", Doc: "Dirty ratio above which a compacted log is cleaned.", Default: constant("0.5"), Min: 0, Max: 1},
		{Name: "file.delete.delay.ms", Type: TypeLong, BrokerName: "log.segment.delete.delay.ms", Doc: "Delay before a deleted segment's file is removed.", Default: constant("60000"), Min: 0, Max: maxLong},
		{Name: "preallocate", Type: TypeBoolean, BrokerName: "log.preallocate", Doc: "Preallocate segment files.", Default: constant("false"), Valid: []string{"true", "false"}},
		{Name: "unclean.leader.election.enable", Type: TypeBoolean, BrokerName: "unclean.leader.election.enable", Doc: "Irrelevant on one node; kept for compatibility.", Default: constant("false"), Valid: []string{"true", "false"}},
		{Name: "message.timestamp.before.max.ms", Type: TypeLong, BrokerName: "log.message.timestamp.before.max.ms", Doc: "Largest allowed age of a record's CreateTime.", Default: constant(i64(maxLong)), Min: 0, Max: maxLong},
		{Name: "message.timestamp.after.max.ms", Type: TypeLong, BrokerName: "log.message.timestamp.after.max.ms", Doc: "Largest allowed lead of a record's CreateTime over the broker's clock.", Default: constant(i64(maxLong)), Min: 0, Max: maxLong},
		{Name: "message.downconversion.enable", Type: TypeBoolean, BrokerName: "log.message.downconversion.enable", Doc: "Whether old fetch versions get down-converted batches.", Default: constant("true"), Valid: []string{"true", "false"}},
		{Name: "local.retention.ms", Type: TypeLong, BrokerName: "log.local.retention.ms", Doc: "Local retention with tiered storage; -2 follows retention.ms.", Default: constant("-2"), Min: -2, Max: maxLong},
		{Name: "local.retention.bytes", Type: TypeLong, BrokerName: "log.local.retention.bytes", Doc: "Local retention with tiered storage; -2 follows retention.bytes.", Default: constant("-2"), Min: -2, Max: maxLong},
		{Name: "remote.storage.enable", Type: TypeBoolean, BrokerName: "", Doc: "Tier closed segments to the object store of [storage] backend (KIP-405); refused on compacted topics and without an object store.", Default: constant("false"), Valid: []string{"true", "false"}},
		{Name: SearchEnabledConfig, Type: TypeBoolean, BrokerName: SearchEnabledConfig, BrokerKey: "search.search_enabled", Doc: "Index the topic's messages for search (GET /api/v1/topics/{topic}/search); the broker default is [search] search_enabled.", Default: func(b *config.Config) string { return strconv.FormatBool(b.Search.SearchEnabled) }, Valid: []string{"true", "false"}},
		{Name: "leader.replication.throttled.replicas", Type: TypeList, Doc: "Replication throttling; not used on one node.", Default: constant("")},
		{Name: "follower.replication.throttled.replicas", Type: TypeList, Doc: "Replication throttling; not used on one node.", Default: constant("")},
	} {
		topicConfigs[d.Name] = d
	}
}

// ConfigDefs returns every topic config definition, sorted by name.
func ConfigDefs() []*ConfigDef {
	out := make([]*ConfigDef, 0, len(topicConfigs))
	for _, d := range topicConfigs {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// LookupConfig returns the definition of a topic config.
func LookupConfig(name string) (*ConfigDef, bool) {
	d, ok := topicConfigs[name]
	return d, ok
}

// ValidateConfig checks one topic config value; the error names the key.
func ValidateConfig(name, value string) error {
	d, ok := topicConfigs[name]
	if !ok {
		return fmt.Errorf("unknown topic config %q", name)
	}
	if d.Type == TypeList && d.Valid != nil {
		items := ListItems(value)
		if len(items) == 0 {
			return fmt.Errorf("invalid value %q for %s: must be a non-empty list of %s", value, name, strings.Join(d.Valid, ", "))
		}
		for _, it := range items {
			if !slices.Contains(d.Valid, it) {
				return fmt.Errorf("invalid value %q for %s: %q is not one of %s", value, name, it, strings.Join(d.Valid, ", "))
			}
		}
		return nil
	}
	if d.Valid != nil {
		if slices.Contains(d.Valid, value) {
			return nil
		}
		return fmt.Errorf("invalid value %q for %s: must be one of %s", value, name, strings.Join(d.Valid, ", "))
	}
	switch d.Type {
	case TypeInt, TypeLong, TypeShort:
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return fmt.Errorf("invalid value %q for %s: not an integer", value, name)
		}
		if float64(n) < d.Min || float64(n) > d.Max {
			if d.Max >= maxLong {
				return fmt.Errorf("invalid value %q for %s: must be at least %.0f", value, name, d.Min)
			}
			return fmt.Errorf("invalid value %q for %s: must be in [%.0f, %.0f]", value, name, d.Min, d.Max)
		}
	case TypeDouble:
		f, err := strconv.ParseFloat(value, 64)
		if err != nil || f < d.Min || f > d.Max {
			return fmt.Errorf("invalid value %q for %s: must be a number in [%g, %g]", value, name, d.Min, d.Max)
		}
	}
	return nil
}

// ListItems splits a list config's value into its items, trimmed, without
// empty ones (Kafka's list syntax: comma-separated).
func ListItems(value string) []string {
	var out []string
	for _, it := range strings.Split(value, ",") {
		if it = strings.TrimSpace(it); it != "" {
			out = append(out, it)
		}
	}
	return out
}

// validateConfigSet checks a topic's whole set of explicit configs: each
// value, then the rules that relate two configs, resolved against the
// broker's defaults.
func (m *Manager) validateConfigSet(configs map[string]string) error {
	names := make([]string, 0, len(configs))
	for k := range configs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if err := ValidateConfig(k, configs[k]); err != nil {
			return err
		}
	}
	get := func(name string) int64 {
		v, _ := m.ConfigValue(configs, name)
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	if lo, hi := get("min.compaction.lag.ms"), get("max.compaction.lag.ms"); lo > hi {
		return fmt.Errorf("conflicting topic configs: min.compaction.lag.ms (%d) > max.compaction.lag.ms (%d)", lo, hi)
	}
	if remote, _ := m.ConfigValue(configs, "remote.storage.enable"); remote == "true" {
		if m.broker.Storage.Backend == "" || m.broker.Storage.Backend == "local" {
			return fmt.Errorf("remote.storage.enable=true needs an object store: set [storage] backend and bucket in Chronik's configuration")
		}
		if policy, _ := m.ConfigValue(configs, "cleanup.policy"); strings.Contains(policy, "compact") {
			return fmt.Errorf("remote storage is not supported on compacted topics (cleanup.policy=%s)", policy)
		}
		for _, k := range []string{"ms", "bytes"} {
			local, total := get("local.retention."+k), get("retention."+k)
			// -2 follows retention.*; -1 is unlimited.
			if local >= 0 && total >= 0 && local > total || local == -1 && total >= 0 {
				return fmt.Errorf("local.retention.%s (%d) cannot exceed retention.%s (%d)", k, local, k, total)
			}
		}
	}
	return nil
}
