package config

import (
	"log/slog"
	"reflect"
	"testing"
)

func TestDefaultIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
}

func TestDefaultValues(t *testing.T) {
	c := Default()
	tests := []struct {
		key  string
		got  any
		want any
	}{
		{"node_id", c.Server.NodeID, int32(1)},
		{"kafka_listen", c.Server.KafkaListen, ":9092"},
		{"http_listen", c.Server.HTTPListen, ":3000"},
		{"advertised_host", c.Server.AdvertisedHost, ""},
		{"advertised_port", c.Server.AdvertisedPort, int32(0)},
		{"data_dir", c.Server.DataDir, "./data"},
		{"max_request_bytes", c.Server.MaxRequestBytes, int32(104857600)},
		{"log_level", c.Server.LogLevel, "info"},
		{"segment_size_mb", c.Storage.SegmentSizeMB, int64(1024)},
		{"segment_age_ms", c.Storage.SegmentAgeMs, int64(604800000)},
		{"retention_ms", c.Storage.RetentionMs, int64(604800000)},
		{"retention_bytes", c.Storage.RetentionBytes, int64(-1)},
		{"fsync", c.Storage.Fsync, "always"},
		{"fsync_interval_ms", c.Storage.FsyncIntervalMs, int64(1000)},
		{"message_max_bytes", c.Storage.MessageMaxBytes, int32(1048588)},
		{"index_interval_bytes", c.Storage.IndexIntervalBytes, int32(4096)},
		{"producer_id_expiration_ms", c.Storage.ProducerIDExpirationMs, int64(86400000)},
		{"backend", c.Storage.Backend, "local"},
		{"bucket", c.Storage.Bucket, ""},
		{"prefix", c.Storage.Prefix, "chronik/"},
		{"endpoint", c.Storage.Endpoint, ""},
		{"region", c.Storage.Region, ""},
		{"upload_interval_ms", c.Storage.UploadIntervalMs, int64(1000)},
		{"metadata_interval_ms", c.Storage.MetadataIntervalMs, int64(5000)},
		{"remote_cache_mb", c.Storage.RemoteCacheMB, int64(1024)},
		{"auto_create_topics", c.Consumer.AutoCreateTopics, true},
		{"num_partitions", c.Consumer.NumPartitions, int32(1)},
		{"replication_factor", c.Consumer.ReplicationFactor, int16(1)},
		{"group_initial_rebalance_delay_ms", c.Consumer.GroupInitialRebalanceDelayMs, int64(3000)},
		{"group_min_session_timeout_ms", c.Consumer.GroupMinSessionTimeoutMs, int32(6000)},
		{"group_max_session_timeout_ms", c.Consumer.GroupMaxSessionTimeoutMs, int32(1800000)},
		{"group_consumer_session_timeout_ms", c.Consumer.GroupConsumerSessionTimeoutMs, int32(45000)},
		{"group_consumer_heartbeat_interval_ms", c.Consumer.GroupConsumerHeartbeatIntervalMs, int32(5000)},
		{"offsets_retention_minutes", c.Consumer.OffsetsRetentionMinutes, int64(10080)},
		{"transaction_max_timeout_ms", c.Consumer.TransactionMaxTimeoutMs, int64(900000)},
		{"search_enabled", c.Search.SearchEnabled, false},
		{"metrics_per_partition", c.Server.MetricsPerPartition, false},
		{"search_index_docs", c.Search.SearchIndexDocs, int64(1000000)},
	}
	if len(tests) != len(Keys()) {
		t.Errorf("test covers %d keys, config has %d", len(tests), len(Keys()))
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("default %s = %#v, want %#v", tt.key, tt.got, tt.want)
		}
		if k, ok := keyByName[tt.key]; !ok {
			t.Errorf("no key %s", tt.key)
		} else if v := k.value(c); v != tt.want {
			t.Errorf("key %s reads %#v through the registry, want %#v", tt.key, v, tt.want)
		}
	}
}

func TestKeyNaming(t *testing.T) {
	tests := []struct{ name, path, flag, env string }{
		{"node_id", "server.node_id", "node-id", "CHRONIK_NODE_ID"},
		{"data_dir", "server.data_dir", "data-dir", "CHRONIK_DATA_DIR"},
		{"kafka_listen", "server.kafka_listen", "kafka-listen", "CHRONIK_KAFKA_LISTEN"},
		{"fsync", "storage.fsync", "fsync", "CHRONIK_FSYNC"},
		{"segment_size_mb", "storage.segment_size_mb", "segment-size-mb", "CHRONIK_SEGMENT_SIZE_MB"},
		{"group_initial_rebalance_delay_ms", "consumer.group_initial_rebalance_delay_ms",
			"group-initial-rebalance-delay-ms", "CHRONIK_GROUP_INITIAL_REBALANCE_DELAY_MS"},
	}
	for _, tt := range tests {
		k, ok := keyByName[tt.name]
		if !ok {
			t.Fatalf("no key %s", tt.name)
		}
		if k.Path() != tt.path || k.Flag != tt.flag || k.Env != tt.env {
			t.Errorf("key %s: path/flag/env = %s/%s/%s, want %s/%s/%s",
				tt.name, k.Path(), k.Flag, k.Env, tt.path, tt.flag, tt.env)
		}
	}

	seen := map[string]bool{}
	for _, k := range Keys() {
		if k.Name == "" || k.Section == "" {
			t.Errorf("key %+v lacks a toml tag", k)
		}
		if seen[k.Name] {
			t.Errorf("key %s is not unique across sections", k.Name)
		}
		seen[k.Name] = true
		if k.Help == "" {
			t.Errorf("key %s has no help text", k.Name)
		}
	}
	for name := range help {
		if !seen[name] {
			t.Errorf("help text for unknown key %s", name)
		}
	}
	if want := []string{"server", "storage", "consumer", "search"}; !reflect.DeepEqual(sections, want) {
		t.Errorf("sections = %v, want %v", sections, want)
	}
}

func TestAdvertised(t *testing.T) {
	tests := []struct {
		listen   string
		host     string
		port     int32
		wantHost string
		wantPort int32
	}{
		{":9092", "", 0, "localhost", 9092},
		{"0.0.0.0:9092", "", 0, "localhost", 9092},
		{"[::]:9093", "", 0, "localhost", 9093},
		{"127.0.0.1:9092", "", 0, "127.0.0.1", 9092},
		{"[::1]:9092", "", 0, "::1", 9092},
		{"broker.internal:19092", "", 0, "broker.internal", 19092},
		{":9092", "kafka.example.com", 0, "kafka.example.com", 9092},
		{":9092", "", 29092, "localhost", 29092},
		{"10.0.0.5:9092", "public.example.com", 443, "public.example.com", 443},
		{"127.0.0.1:0", "", 0, "127.0.0.1", 0},
	}
	for _, tt := range tests {
		c := Default()
		c.Server.KafkaListen, c.Server.AdvertisedHost, c.Server.AdvertisedPort = tt.listen, tt.host, tt.port
		h, p := c.Advertised()
		if h != tt.wantHost || p != tt.wantPort {
			t.Errorf("listen=%q host=%q port=%d: Advertised() = %q, %d; want %q, %d",
				tt.listen, tt.host, tt.port, h, p, tt.wantHost, tt.wantPort)
		}
	}
}

func TestHelpers(t *testing.T) {
	c := Default()
	if got := c.Storage.SegmentBytes(); got != 1<<30 {
		t.Errorf("SegmentBytes = %d, want %d", got, 1<<30)
	}
	if got := c.Storage.FsyncInterval().Milliseconds(); got != 1000 {
		t.Errorf("FsyncInterval = %dms, want 1000ms", got)
	}
	levels := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}
	for s, want := range levels {
		c.Server.LogLevel = s
		if got := c.SlogLevel(); got != want {
			t.Errorf("SlogLevel(%q) = %v, want %v", s, got, want)
		}
	}
}
