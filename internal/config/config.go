// Package config holds Chronik's configuration: one TOML file with working
// defaults, where every key can also be set by an environment variable and by
// a command-line flag.
//
// Keys are unique across the TOML sections, so each key maps to exactly one
// flag and one environment variable:
//
//	TOML   [storage] fsync = "always"
//	flag   --fsync=always            (key with '_' replaced by '-')
//	env    CHRONIK_FSYNC=always      ("CHRONIK_" + upper-cased key)
//
// Precedence, lowest to highest: defaults < file < environment < flags.
package config

import (
	"log/slog"
	"net"
	"strconv"
	"time"
)

// Config is the complete broker configuration.
type Config struct {
	Server   Server   `toml:"server"`
	Storage  Storage  `toml:"storage"`
	Consumer Consumer `toml:"consumer"`
	Search   Search   `toml:"search"`
}

// Server configures the node identity, its listeners and logging.
type Server struct {
	NodeID          int32  `toml:"node_id"`
	KafkaListen     string `toml:"kafka_listen"`
	HTTPListen      string `toml:"http_listen"`
	AdvertisedHost  string `toml:"advertised_host"` // "" = derive, see Config.Advertised
	AdvertisedPort  int32  `toml:"advertised_port"` // 0 = the Kafka listen port
	DataDir         string `toml:"data_dir"`
	MaxRequestBytes int32  `toml:"max_request_bytes"`
	LogLevel        string `toml:"log_level"` // debug | info | warn | error
	// MetricsPerPartition adds partition labels to /metrics series.
	MetricsPerPartition bool `toml:"metrics_per_partition"`
}

// Storage configures the partition logs.
type Storage struct {
	SegmentSizeMB          int64  `toml:"segment_size_mb"`
	SegmentAgeMs           int64  `toml:"segment_age_ms"`
	RetentionMs            int64  `toml:"retention_ms"`    // -1 = keep forever
	RetentionBytes         int64  `toml:"retention_bytes"` // -1 = no size limit
	Fsync                  string `toml:"fsync"`           // always | interval | never
	FsyncIntervalMs        int64  `toml:"fsync_interval_ms"`
	MessageMaxBytes        int32  `toml:"message_max_bytes"`
	IndexIntervalBytes     int32  `toml:"index_interval_bytes"`
	ProducerIDExpirationMs int64  `toml:"producer_id_expiration_ms"`

	// Tiered storage: closed segments of topics with
	// remote.storage.enable=true are copied to this object store, and a
	// broker on an empty data directory restores from it.
	Backend            string `toml:"backend"`  // local (no tiering) | s3 | gcs | azure | file
	Bucket             string `toml:"bucket"`   // bucket or container; a directory for file
	Prefix             string `toml:"prefix"`   // key prefix inside the bucket
	Endpoint           string `toml:"endpoint"` // S3-compatible endpoint URL (MinIO, ...); "" = AWS
	Region             string `toml:"region"`   // S3 region
	UploadIntervalMs   int64  `toml:"upload_interval_ms"`
	MetadataIntervalMs int64  `toml:"metadata_interval_ms"`
	RemoteCacheMB      int64  `toml:"remote_cache_mb"`
}

// Search configures the full-text index over messages.
type Search struct {
	// SearchEnabled is the default of the topic config
	// chronik.search.enabled.
	SearchEnabled bool `toml:"search_enabled"`
	// SearchIndexDocs rolls a partition's index after this many records,
	// so retention drops whole indexes.
	SearchIndexDocs int64 `toml:"search_index_docs"`
}

// Consumer configures topic auto-creation and consumer groups.
type Consumer struct {
	AutoCreateTopics             bool  `toml:"auto_create_topics"`
	NumPartitions                int32 `toml:"num_partitions"`
	ReplicationFactor            int16 `toml:"replication_factor"` // single node: only 1
	GroupInitialRebalanceDelayMs int64 `toml:"group_initial_rebalance_delay_ms"`
	GroupMinSessionTimeoutMs     int32 `toml:"group_min_session_timeout_ms"`
	GroupMaxSessionTimeoutMs     int32 `toml:"group_max_session_timeout_ms"`
	// KIP-848 (consumer protocol) groups: the broker sets these.
	GroupConsumerSessionTimeoutMs    int32 `toml:"group_consumer_session_timeout_ms"`
	GroupConsumerHeartbeatIntervalMs int32 `toml:"group_consumer_heartbeat_interval_ms"`
	OffsetsRetentionMinutes          int64 `toml:"offsets_retention_minutes"`
	// TransactionMaxTimeoutMs is Kafka's transaction.max.timeout.ms.
	TransactionMaxTimeoutMs int64 `toml:"transaction_max_timeout_ms"`
}

// Allowed values of the enumerated keys.
const (
	BackendLocal = "local"

	FsyncAlways   = "always"
	FsyncInterval = "interval"
	FsyncNever    = "never"
)

var (
	fsyncModes = []string{FsyncAlways, FsyncInterval, FsyncNever}
	backends   = []string{BackendLocal, "s3", "gcs", "azure", "file"}
	logLevels  = []string{"debug", "info", "warn", "error"}
)

// Default returns a configuration that works out of the box for a single
// local node.
func Default() *Config {
	return &Config{
		Server: Server{
			NodeID:          1,
			KafkaListen:     ":9092",
			HTTPListen:      ":3000",
			AdvertisedHost:  "",
			AdvertisedPort:  0,
			DataDir:         "./data",
			MaxRequestBytes: 104857600,
			LogLevel:        "info",
		},
		Storage: Storage{
			SegmentSizeMB:          1024,
			SegmentAgeMs:           604800000,
			RetentionMs:            604800000,
			RetentionBytes:         -1,
			Fsync:                  FsyncAlways,
			FsyncIntervalMs:        1000,
			MessageMaxBytes:        1048588,
			IndexIntervalBytes:     4096,
			ProducerIDExpirationMs: 86400000,
			Backend:                BackendLocal,
			Prefix:                 "chronik/",
			UploadIntervalMs:       1000,
			MetadataIntervalMs:     5000,
			RemoteCacheMB:          1024,
		},
		Consumer: Consumer{
			AutoCreateTopics:                 true,
			NumPartitions:                    1,
			ReplicationFactor:                1,
			GroupInitialRebalanceDelayMs:     3000,
			GroupMinSessionTimeoutMs:         6000,
			GroupMaxSessionTimeoutMs:         1800000,
			GroupConsumerSessionTimeoutMs:    45000,
			GroupConsumerHeartbeatIntervalMs: 5000,
			OffsetsRetentionMinutes:          10080,
			TransactionMaxTimeoutMs:          900000,
		},
		Search: Search{
			SearchEnabled:   false,
			SearchIndexDocs: 1000000,
		},
	}
}

// Advertised returns the host and port that clients are told to connect to
// (the broker address in Metadata responses).
//
// The host is AdvertisedHost when set; otherwise the host of KafkaListen, or
// "localhost" when KafkaListen binds all interfaces (":9092", "0.0.0.0:9092",
// "[::]:9092"). The port is AdvertisedPort when non-zero, otherwise the port
// of KafkaListen. Note that KafkaListen may use port 0 (an ephemeral port,
// handy in tests); the broker must then advertise the port actually bound.
func (c *Config) Advertised() (host string, port int32) {
	lhost, lport, err := net.SplitHostPort(c.Server.KafkaListen)
	if err != nil {
		lhost, lport = "", ""
	}
	host = c.Server.AdvertisedHost
	if host == "" {
		host = lhost
		if isWildcard(host) {
			host = "localhost"
		}
	}
	port = c.Server.AdvertisedPort
	if port == 0 {
		p, _ := strconv.ParseUint(lport, 10, 16)
		port = int32(p)
	}
	return host, port
}

// SlogLevel returns Server.LogLevel as a slog level (info if unrecognised;
// Validate refuses unrecognised levels).
func (c *Config) SlogLevel() slog.Level {
	switch c.Server.LogLevel {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// SegmentBytes is SegmentSizeMB in bytes.
func (s Storage) SegmentBytes() int64 { return s.SegmentSizeMB << 20 }

// FsyncInterval is FsyncIntervalMs as a duration.
func (s Storage) FsyncInterval() time.Duration {
	return time.Duration(s.FsyncIntervalMs) * time.Millisecond
}

// isWildcard reports whether a listen host binds all interfaces.
func isWildcard(host string) bool {
	switch host {
	case "", "0.0.0.0", "::", "[::]":
		return true
	}
	return false
}
