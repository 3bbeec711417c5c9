package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// FieldError is one invalid setting.
type FieldError struct {
	Key    string // TOML key, e.g. "fsync"
	Value  any    // the offending value
	Msg    string // what is allowed
	Source string // where the value came from ("--fsync", "CHRONIK_FSYNC", a file path) when known; set by Load
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if k, ok := keyByName[e.Key]; ok {
		b.WriteString(k.Path())
	} else {
		b.WriteString(e.Key)
	}
	if e.Source != "" {
		fmt.Fprintf(&b, " (from %s)", e.Source)
	}
	fmt.Fprintf(&b, ": %s; got %s", e.Msg, quote(e.Value))
	return b.String()
}

func quote(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

// ValidationError lists every invalid setting found by Validate.
type ValidationError []*FieldError

func (ve ValidationError) Error() string {
	if len(ve) == 1 {
		return "invalid configuration: " + ve[0].Error()
	}
	var b strings.Builder
	b.WriteString("invalid configuration:")
	for _, e := range ve {
		b.WriteString("\n  ")
		b.WriteString(e.Error())
	}
	return b.String()
}

// Validate checks every setting and returns a ValidationError listing all
// problems, or nil.
func (c *Config) Validate() error {
	var ve ValidationError
	bad := func(key string, value any, format string, args ...any) {
		ve = append(ve, &FieldError{Key: key, Value: value, Msg: fmt.Sprintf(format, args...)})
	}
	atLeast := func(key string, v, lo int64) {
		if v < lo {
			bad(key, v, "must be >= %d", lo)
		}
	}
	positive := func(key string, v int64) {
		if v <= 0 {
			bad(key, v, "must be > 0")
		}
	}
	limitOrUnlimited := func(key string, v int64, unlimited string) {
		if v < -1 {
			bad(key, v, "must be -1 (%s) or >= 0", unlimited)
		}
	}

	s, st, co := &c.Server, &c.Storage, &c.Consumer

	// [server]
	atLeast("node_id", int64(s.NodeID), 0)
	kHost, kPort, kErr := checkListen(s.KafkaListen)
	if kErr != "" {
		bad("kafka_listen", s.KafkaListen, "%s", kErr)
	}
	hHost, hPort, hErr := checkListen(s.HTTPListen)
	if hErr != "" {
		bad("http_listen", s.HTTPListen, "%s", hErr)
	}
	if kErr == "" && hErr == "" && kPort != 0 && kPort == hPort &&
		(kHost == hHost || isWildcard(kHost) || isWildcard(hHost)) {
		bad("http_listen", s.HTTPListen, "must not use the same port as kafka_listen (%q)", s.KafkaListen)
	}
	if h := s.AdvertisedHost; h != "" {
		switch {
		case !validHost(h):
			bad("advertised_host", h, `must be a hostname or IP address without port, or "" to derive it from kafka_listen`)
		case isWildcard(h):
			bad("advertised_host", h, "must be an address clients can connect to, not a wildcard address")
		}
	}
	if p := s.AdvertisedPort; p < 0 || p > 65535 {
		bad("advertised_port", p, "must be 0 (use the kafka_listen port) or a port 1-65535")
	}
	if strings.TrimSpace(s.DataDir) == "" {
		bad("data_dir", s.DataDir, "must be a directory path")
	}
	positive("max_request_bytes", int64(s.MaxRequestBytes))
	if !slices.Contains(logLevels, s.LogLevel) {
		bad("log_level", s.LogLevel, "must be one of %s", strings.Join(logLevels, ", "))
	}

	// [storage]
	if v := st.SegmentSizeMB; v < 1 || v > 2047 {
		bad("segment_size_mb", v, "must be between 1 and 2047 (a segment must stay below 2 GiB)")
	}
	positive("segment_age_ms", st.SegmentAgeMs)
	limitOrUnlimited("retention_ms", st.RetentionMs, "keep forever")
	limitOrUnlimited("retention_bytes", st.RetentionBytes, "no limit")
	if !slices.Contains(fsyncModes, st.Fsync) {
		bad("fsync", st.Fsync, "must be one of %s", strings.Join(fsyncModes, ", "))
	}
	positive("fsync_interval_ms", st.FsyncIntervalMs)
	positive("message_max_bytes", int64(st.MessageMaxBytes))
	if st.MessageMaxBytes > 0 && s.MaxRequestBytes > 0 && st.MessageMaxBytes > s.MaxRequestBytes {
		bad("message_max_bytes", st.MessageMaxBytes, "must not exceed max_request_bytes (%d)", s.MaxRequestBytes)
	}
	atLeast("index_interval_bytes", int64(st.IndexIntervalBytes), 0)
	positive("producer_id_expiration_ms", st.ProducerIDExpirationMs)
	if !slices.Contains(backends, st.Backend) {
		bad("backend", st.Backend, "must be one of %s", strings.Join(backends, ", "))
	} else if st.Backend != BackendLocal && st.Bucket == "" {
		bad("bucket", st.Bucket, "must be set when backend is %s", st.Backend)
	}
	if e := st.Endpoint; e != "" {
		if u, err := url.Parse(e); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("endpoint", e, "must be an http:// or https:// URL")
		}
	}
	positive("upload_interval_ms", st.UploadIntervalMs)
	positive("metadata_interval_ms", st.MetadataIntervalMs)
	positive("remote_cache_mb", st.RemoteCacheMB)

	// [consumer]
	atLeast("num_partitions", int64(co.NumPartitions), 1)
	if co.ReplicationFactor != 1 {
		bad("replication_factor", co.ReplicationFactor, "must be 1 (chronik is a single-node broker)")
	}
	atLeast("group_initial_rebalance_delay_ms", co.GroupInitialRebalanceDelayMs, 0)
	positive("group_min_session_timeout_ms", int64(co.GroupMinSessionTimeoutMs))
	positive("group_max_session_timeout_ms", int64(co.GroupMaxSessionTimeoutMs))
	if co.GroupMinSessionTimeoutMs > 0 && co.GroupMinSessionTimeoutMs > co.GroupMaxSessionTimeoutMs {
		bad("group_min_session_timeout_ms", co.GroupMinSessionTimeoutMs,
			"must not exceed group_max_session_timeout_ms (%d)", co.GroupMaxSessionTimeoutMs)
	}
	positive("group_consumer_session_timeout_ms", int64(co.GroupConsumerSessionTimeoutMs))
	positive("group_consumer_heartbeat_interval_ms", int64(co.GroupConsumerHeartbeatIntervalMs))
	if co.GroupConsumerHeartbeatIntervalMs >= co.GroupConsumerSessionTimeoutMs && co.GroupConsumerSessionTimeoutMs > 0 {
		bad("group_consumer_heartbeat_interval_ms", co.GroupConsumerHeartbeatIntervalMs,
			"must be less than group_consumer_session_timeout_ms (%d)", co.GroupConsumerSessionTimeoutMs)
	}
	atLeast("offsets_retention_minutes", co.OffsetsRetentionMinutes, 1)
	positive("transaction_max_timeout_ms", co.TransactionMaxTimeoutMs)
	atLeast("search_index_docs", c.Search.SearchIndexDocs, 1000)

	if len(ve) == 0 {
		return nil
	}
	return ve
}

// checkListen parses a listen address "host:port" ("" host = all
// interfaces, port 0 = ephemeral) and returns a message on error.
func checkListen(addr string) (host string, port int, msg string) {
	const want = "must be host:port or :port with a numeric port 0-65535"
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		if _, numErr := strconv.ParseUint(addr, 10, 16); numErr == nil {
			return "", 0, fmt.Sprintf("%s (did you mean %q?)", want, ":"+addr)
		}
		return "", 0, want
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return "", 0, want
	}
	if h != "" && !validHost(h) {
		return "", 0, want + ", where host is a hostname or IP address"
	}
	return h, int(n), ""
}

// validHost reports whether h is an IP address (IPv6 without brackets, zone
// allowed) or a syntactically valid hostname.
func validHost(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if len(h) == 0 || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(strings.TrimSuffix(h, "."), ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}
