package config

import (
	"errors"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   []string // substrings of the error; nil = valid
	}{
		// [server]
		{"node id zero", func(c *Config) { c.Server.NodeID = 0 }, nil},
		{"negative node id", func(c *Config) { c.Server.NodeID = -1 }, []string{"server.node_id", ">= 0", "got -1"}},
		{"listen ipv4", func(c *Config) { c.Server.KafkaListen = "127.0.0.1:9092" }, nil},
		{"listen ipv6", func(c *Config) { c.Server.KafkaListen = "[::1]:9092" }, nil},
		{"listen hostname", func(c *Config) { c.Server.KafkaListen = "broker-1.local:9092" }, nil},
		{"listen ephemeral", func(c *Config) { c.Server.KafkaListen, c.Server.HTTPListen = "127.0.0.1:0", "127.0.0.1:0" }, nil},
		{"listen missing port", func(c *Config) { c.Server.KafkaListen = "localhost" }, []string{"server.kafka_listen", "host:port", `got "localhost"`}},
		{"listen bare port", func(c *Config) { c.Server.KafkaListen = "9092" }, []string{"server.kafka_listen", `did you mean ":9092"`}},
		{"listen port range", func(c *Config) { c.Server.KafkaListen = ":70000" }, []string{"server.kafka_listen", "0-65535"}},
		{"listen named port", func(c *Config) { c.Server.KafkaListen = ":kafka" }, []string{"server.kafka_listen", "numeric port"}},
		{"listen bad host", func(c *Config) { c.Server.KafkaListen = "bad host:9092" }, []string{"server.kafka_listen", "hostname or IP"}},
		{"listen empty", func(c *Config) { c.Server.KafkaListen = "" }, []string{"server.kafka_listen"}},
		{"http listen bad", func(c *Config) { c.Server.HTTPListen = "http://x:3000" }, []string{"server.http_listen", "host:port"}},
		{"http same port", func(c *Config) { c.Server.HTTPListen = ":9092" }, []string{"server.http_listen", "same port as kafka_listen"}},
		{"http same port other ip", func(c *Config) {
			c.Server.KafkaListen, c.Server.HTTPListen = "127.0.0.1:9092", "127.0.0.2:9092"
		}, nil},
		{"advertised host", func(c *Config) { c.Server.AdvertisedHost = "kafka.example.com" }, nil},
		{"advertised ip", func(c *Config) { c.Server.AdvertisedHost = "fd00::1" }, nil},
		{"advertised host with port", func(c *Config) { c.Server.AdvertisedHost = "kafka:9092" }, []string{"server.advertised_host", "without port"}},
		{"advertised wildcard", func(c *Config) { c.Server.AdvertisedHost = "0.0.0.0" }, []string{"server.advertised_host", "wildcard"}},
		{"advertised port negative", func(c *Config) { c.Server.AdvertisedPort = -5 }, []string{"server.advertised_port", "1-65535"}},
		{"advertised port big", func(c *Config) { c.Server.AdvertisedPort = 65536 }, []string{"server.advertised_port"}},
		{"data dir empty", func(c *Config) { c.Server.DataDir = " " }, []string{"server.data_dir"}},
		{"max request zero", func(c *Config) { c.Server.MaxRequestBytes = 0 }, []string{"server.max_request_bytes", "> 0"}},
		{"log level", func(c *Config) { c.Server.LogLevel = "verbose" }, []string{"server.log_level", "debug, info, warn, error", `got "verbose"`}},
		{"log level debug", func(c *Config) { c.Server.LogLevel = "debug" }, nil},

		// [storage]
		{"segment size zero", func(c *Config) { c.Storage.SegmentSizeMB = 0 }, []string{"storage.segment_size_mb", "between 1 and 2047"}},
		{"segment size negative", func(c *Config) { c.Storage.SegmentSizeMB = -1 }, []string{"storage.segment_size_mb"}},
		{"segment size too big", func(c *Config) { c.Storage.SegmentSizeMB = 2048 }, []string{"storage.segment_size_mb", "2 GiB"}},
		{"segment age", func(c *Config) { c.Storage.SegmentAgeMs = 0 }, []string{"storage.segment_age_ms", "> 0"}},
		{"retention forever", func(c *Config) { c.Storage.RetentionMs = -1 }, nil},
		{"retention negative", func(c *Config) { c.Storage.RetentionMs = -2 }, []string{"storage.retention_ms", "-1 (keep forever) or >= 0"}},
		{"retention bytes", func(c *Config) { c.Storage.RetentionBytes = 1 << 30 }, nil},
		{"retention bytes negative", func(c *Config) { c.Storage.RetentionBytes = -100 }, []string{"storage.retention_bytes", "-1 (no limit)"}},
		{"fsync interval", func(c *Config) { c.Storage.Fsync = "interval" }, nil},
		{"fsync never", func(c *Config) { c.Storage.Fsync = "never" }, nil},
		{"fsync bad", func(c *Config) { c.Storage.Fsync = "sometimes" }, []string{"storage.fsync", "always, interval, never", `got "sometimes"`}},
		{"fsync interval zero", func(c *Config) { c.Storage.FsyncIntervalMs = 0 }, []string{"storage.fsync_interval_ms"}},
		{"message max zero", func(c *Config) { c.Storage.MessageMaxBytes = 0 }, []string{"storage.message_max_bytes", "> 0"}},
		{"message max > request max", func(c *Config) { c.Storage.MessageMaxBytes = 200 << 20 }, []string{"storage.message_max_bytes", "max_request_bytes"}},
		{"index interval zero", func(c *Config) { c.Storage.IndexIntervalBytes = 0 }, nil},
		{"index interval negative", func(c *Config) { c.Storage.IndexIntervalBytes = -1 }, []string{"storage.index_interval_bytes", ">= 0"}},
		{"producer expiration", func(c *Config) { c.Storage.ProducerIDExpirationMs = -1 }, []string{"storage.producer_id_expiration_ms"}},

		// [consumer]
		{"auto create off", func(c *Config) { c.Consumer.AutoCreateTopics = false }, nil},
		{"partitions", func(c *Config) { c.Consumer.NumPartitions = 12 }, nil},
		{"partitions zero", func(c *Config) { c.Consumer.NumPartitions = 0 }, []string{"consumer.num_partitions", ">= 1"}},
		{"replication 3", func(c *Config) { c.Consumer.ReplicationFactor = 3 }, []string{"consumer.replication_factor", "must be 1", "got 3"}},
		{"replication 0", func(c *Config) { c.Consumer.ReplicationFactor = 0 }, []string{"consumer.replication_factor"}},
		{"rebalance delay zero", func(c *Config) { c.Consumer.GroupInitialRebalanceDelayMs = 0 }, nil},
		{"rebalance delay negative", func(c *Config) { c.Consumer.GroupInitialRebalanceDelayMs = -1 }, []string{"consumer.group_initial_rebalance_delay_ms"}},
		{"session min zero", func(c *Config) { c.Consumer.GroupMinSessionTimeoutMs = 0 }, []string{"consumer.group_min_session_timeout_ms", "> 0"}},
		{"session max zero", func(c *Config) { c.Consumer.GroupMaxSessionTimeoutMs = 0 }, []string{"consumer.group_max_session_timeout_ms", "> 0"}},
		{"session min > max", func(c *Config) {
			c.Consumer.GroupMinSessionTimeoutMs, c.Consumer.GroupMaxSessionTimeoutMs = 10000, 5000
		}, []string{"consumer.group_min_session_timeout_ms", "must not exceed group_max_session_timeout_ms (5000)", "got 10000"}},
		{"session min == max", func(c *Config) {
			c.Consumer.GroupMinSessionTimeoutMs, c.Consumer.GroupMaxSessionTimeoutMs = 10000, 10000
		}, nil},
		{"offsets retention", func(c *Config) { c.Consumer.OffsetsRetentionMinutes = 0 }, []string{"consumer.offsets_retention_minutes", ">= 1"}},
		{"transaction max timeout", func(c *Config) { c.Consumer.TransactionMaxTimeoutMs = 0 }, []string{"consumer.transaction_max_timeout_ms", "> 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.mutate(c)
			err := c.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want error containing %q", tt.want)
			}
			var ve ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate() error %T is not a ValidationError", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestValidateReportsAllProblems(t *testing.T) {
	c := Default()
	c.Server.NodeID = -1
	c.Storage.Fsync = "x"
	c.Consumer.ReplicationFactor = 2
	err := c.Validate()
	var ve ValidationError
	if !errors.As(err, &ve) || len(ve) != 3 {
		t.Fatalf("Validate() = %v, want 3 problems", err)
	}
	for _, key := range []string{"node_id", "fsync", "replication_factor"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error %q does not name %s", err, key)
		}
	}
}
