package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// writeFile writes a TOML file into a temp dir and returns its path.
func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "chronik.toml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// flagSet returns a registered flag set parsed from args.
func flagSet(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	RegisterFlags(fs)
	fs.String("config", "", "not a config key")
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return fs
}

func TestLoadDefaults(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags *pflag.FlagSet
	}{{"nil flags", nil}, {"unset flags", flagSet(t)}} {
		c, err := Load("", tc.flags, []string{"HOME=/root", "PATH=/bin"})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !reflect.DeepEqual(c, Default()) {
			t.Errorf("%s: Load() = %+v, want defaults", tc.name, c)
		}
	}
}

func TestLoadPrecedence(t *testing.T) {
	file := writeFile(t, `
[server]
data_dir = "/from/file"
node_id = 7
log_level = "warn"

[storage]
fsync = "interval"
`)
	tests := []struct {
		name  string
		path  string
		env   []string
		args  []string
		check func(*Config) error
	}{
		{"file over default", file, nil, nil, func(c *Config) error {
			return expect(c.Server.DataDir, "/from/file", c.Server.NodeID, int32(7), c.Storage.Fsync, "interval", c.Server.KafkaListen, ":9092")
		}},
		{"env over file", file, []string{"CHRONIK_DATA_DIR=/from/env", "CHRONIK_NODE_ID=8"}, nil, func(c *Config) error {
			return expect(c.Server.DataDir, "/from/env", c.Server.NodeID, int32(8), c.Server.LogLevel, "warn")
		}},
		{"flag over env", file, []string{"CHRONIK_DATA_DIR=/from/env"}, []string{"--data-dir=/from/flag"}, func(c *Config) error {
			return expect(c.Server.DataDir, "/from/flag", c.Server.NodeID, int32(7))
		}},
		{"env over default without file", "", []string{"CHRONIK_FSYNC=never", "CHRONIK_AUTO_CREATE_TOPICS=false"}, nil, func(c *Config) error {
			return expect(c.Storage.Fsync, "never", c.Consumer.AutoCreateTopics, false)
		}},
		{"flag equal to default still wins", file, []string{"CHRONIK_NODE_ID=8"}, []string{"--node-id", "1"}, func(c *Config) error {
			return expect(c.Server.NodeID, int32(1))
		}},
		{"enum values are case-insensitive", "", []string{"CHRONIK_LOG_LEVEL=DEBUG"}, []string{"--fsync", " Never"}, func(c *Config) error {
			return expect(c.Server.LogLevel, "debug", c.Storage.Fsync, "never")
		}},
		{"empty env string", "", []string{"CHRONIK_ADVERTISED_HOST="}, nil, func(c *Config) error {
			return expect(c.Server.AdvertisedHost, "")
		}},
		{"non-config env is ignored", "", []string{"CHRONIK_CONFIG=/x.toml", "CHRONIK_BROKERS=a:1", "CHRONIK_TEST_BROKER=b:2", "CHRONIK_TEST_LOG=1", "CHRONIK_REQUIRE_CLIENTS=1", "CHRONIKAL=1", "KAFKA_HEAP=1"}, nil, func(c *Config) error {
			return expect(c.Server.DataDir, "./data")
		}},
		{"bool flag", "", nil, []string{"--auto-create-topics=false"}, func(c *Config) error {
			return expect(c.Consumer.AutoCreateTopics, false)
		}},
		{"int16 flag", "", nil, []string{"--replication-factor", "1"}, func(c *Config) error {
			return expect(c.Consumer.ReplicationFactor, int16(1))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(tt.path, flagSet(t, tt.args...), tt.env)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if err := tt.check(c); err != nil {
				t.Error(err)
			}
		})
	}
}

// expect compares got/want pairs.
func expect(pairs ...any) error {
	var bad []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i] != pairs[i+1] {
			bad = append(bad, fmt.Sprintf("got %#v, want %#v", pairs[i], pairs[i+1]))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	return nil
}

// nonDefault is a valid, non-default value for every key.
var nonDefault = map[string]string{
	"node_id":                              "42",
	"kafka_listen":                         "127.0.0.1:19092",
	"http_listen":                          "127.0.0.1:13000",
	"advertised_host":                      "kafka.example.com",
	"advertised_port":                      "29092",
	"data_dir":                             "/var/lib/chronik",
	"max_request_bytes":                    "52428800",
	"log_level":                            "debug",
	"segment_size_mb":                      "256",
	"segment_age_ms":                       "3600000",
	"retention_ms":                         "-1",
	"retention_bytes":                      "1073741824",
	"fsync":                                "interval",
	"fsync_interval_ms":                    "250",
	"message_max_bytes":                    "2097152",
	"index_interval_bytes":                 "8192",
	"producer_id_expiration_ms":            "3600000",
	"backend":                              "file",
	"bucket":                               "/var/lib/chronik-bucket",
	"prefix":                               "cluster-a/",
	"endpoint":                             "http://127.0.0.1:9000",
	"region":                               "eu-west-1",
	"upload_interval_ms":                   "500",
	"metadata_interval_ms":                 "2000",
	"remote_cache_mb":                      "64",
	"auto_create_topics":                   "false",
	"num_partitions":                       "3",
	"replication_factor":                   "1", // the only valid value; equal to the default
	"group_initial_rebalance_delay_ms":     "0",
	"group_min_session_timeout_ms":         "1000",
	"group_max_session_timeout_ms":         "60000",
	"group_consumer_session_timeout_ms":    "30000",
	"group_consumer_heartbeat_interval_ms": "2000",
	"offsets_retention_minutes":            "1440",
	"transaction_max_timeout_ms":           "60000",
	"search_enabled":                       "true",
	"metrics_per_partition":                "true",
	"search_index_docs":                    "5000",
}

// companions are keys a key's test value needs set too (in the same section).
var companions = map[string][2]string{"backend": {"bucket", "/var/lib/chronik-bucket"}}

// TestEveryKeyEverySource sets each key through each of file, env and flag
// and checks that the field changes.
func TestEveryKeyEverySource(t *testing.T) {
	if len(nonDefault) != len(Keys()) {
		t.Fatalf("nonDefault covers %d keys, config has %d", len(nonDefault), len(Keys()))
	}
	for _, k := range Keys() {
		raw, ok := nonDefault[k.Name]
		if !ok {
			t.Errorf("no test value for %s", k.Name)
			continue
		}
		want := Default()
		if err := k.set(want, raw); err != nil {
			t.Fatalf("%s: %v", k.Name, err)
		}
		wantV := k.value(want)

		tomlVal := raw
		if _, isString := wantV.(string); isString {
			tomlVal = fmt.Sprintf("%q", raw)
		}
		// A key that needs another one set comes with it.
		fileExtra, env, flags := "", []string{k.Env + "=" + raw}, []string{"--" + k.Flag + "=" + raw}
		if c, ok := companions[k.Name]; ok {
			for _, k2 := range Keys() {
				if k2.Name == c[0] {
					fileExtra = fmt.Sprintf("%s = %q\n", k2.Name, c[1])
					env = append(env, k2.Env+"="+c[1])
					flags = append(flags, "--"+k2.Flag+"="+c[1])
				}
			}
		}
		sources := map[string]func() (*Config, error){
			"file": func() (*Config, error) {
				return Load(writeFile(t, fmt.Sprintf("[%s]\n%s = %s\n%s", k.Section, k.Name, tomlVal, fileExtra)), nil, nil)
			},
			"env": func() (*Config, error) {
				return Load("", nil, env)
			},
			"flag": func() (*Config, error) {
				return Load("", flagSet(t, flags...), nil)
			},
		}
		for src, load := range sources {
			c, err := load()
			if err != nil {
				t.Errorf("%s via %s: %v", k.Name, src, err)
				continue
			}
			if got := k.value(c); got != wantV {
				t.Errorf("%s via %s = %#v, want %#v", k.Name, src, got, wantV)
			}
		}
	}
}

func TestRegisterFlags(t *testing.T) {
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	RegisterFlags(fs)
	def := Default()
	n := 0
	fs.VisitAll(func(*pflag.Flag) { n++ })
	if n != len(Keys()) {
		t.Errorf("RegisterFlags added %d flags, want %d", n, len(Keys()))
	}
	for _, k := range Keys() {
		f := fs.Lookup(k.Flag)
		if f == nil {
			t.Errorf("no flag --%s", k.Flag)
			continue
		}
		if want := fmt.Sprint(k.value(def)); f.DefValue != want {
			t.Errorf("--%s default = %q, want %q", k.Flag, f.DefValue, want)
		}
		if f.Usage != k.Help {
			t.Errorf("--%s usage = %q, want %q", k.Flag, f.Usage, k.Help)
		}
	}
}

func TestLoadFileErrors(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    []string
	}{
		{"unknown key", "[storage]\nfsnyc = \"never\"\n", []string{`unknown key "storage.fsnyc"`, `did you mean "fsync"`}},
		{"key in wrong table", "[storage]\ndata_dir = \"/x\"\n", []string{`unknown key "storage.data_dir"`, "belongs in the [server] table"}},
		{"key outside any table", "node_id = 3\n", []string{`unknown key "node_id"`, "[server]"}},
		{"misspelt table", "[sever]\nnode_id = 3\n", []string{`unknown key "sever"`, "did you mean the [server] table"}},
		{"unknown table", "[kafka]\nfoo = 1\nbar = 2\n", []string{`unknown key "kafka"`, "allowed tables: [server], [storage], [consumer]"}},
		{"several unknown keys", "[server]\nfoo = 1\n[consumer]\nbar = 2\n", []string{`"server.foo"`, `"consumer.bar"`}},
		{"syntax error", "[server\nnode_id = 1\n", []string{"chronik.toml", "line 2", "table name"}},
		{"wrong type", "[server]\nnode_id = \"one\"\n", []string{"chronik.toml", "node_id"}},
		{"overflow", "[server]\nnode_id = 3000000000\n", []string{"chronik.toml", "node_id"}},
		{"invalid value", "[storage]\nfsync = \"sometimes\"\n", []string{"storage.fsync (from ", "chronik.toml): must be one of always, interval, never", `got "sometimes"`}},
		{"negative size", "[storage]\nretention_bytes = -5\n", []string{"storage.retention_bytes (from ", "-1 (no limit) or >= 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeFile(t, tt.content), nil, nil)
			if err == nil {
				t.Fatalf("Load() = nil error, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Load() = %q, want it to contain %q", err, w)
				}
			}
			if strings.Contains(tt.name, "unknown table") && strings.Contains(err.Error(), "kafka.foo") {
				t.Errorf("keys inside an unknown table should not be reported separately: %q", err)
			}
		})
	}

	t.Run("missing file", func(t *testing.T) {
		_, err := Load(filepath.Join(t.TempDir(), "nope.toml"), nil, nil)
		if err == nil || !strings.Contains(err.Error(), "nope.toml") {
			t.Errorf("Load() = %v, want error naming the file", err)
		}
	})
}

func TestLoadEnvErrors(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want []string
	}{
		{"unknown var", []string{"CHRONIK_FOO=1"}, []string{"unknown environment variable CHRONIK_FOO"}},
		{"misspelt var", []string{"CHRONIK_DATADIR=/x"}, []string{"CHRONIK_DATADIR", "did you mean CHRONIK_DATA_DIR"}},
		{"lower-case var", []string{"CHRONIK_data_dir=/x"}, []string{"unknown environment variable CHRONIK_data_dir"}},
		{"section-qualified var", []string{"CHRONIK_SERVER_DATA_DIR=/x"}, []string{"unknown environment variable CHRONIK_SERVER_DATA_DIR"}},
		{"not an int", []string{"CHRONIK_NODE_ID=one"}, []string{"CHRONIK_NODE_ID", "server.node_id", "integer between -2147483648 and 2147483647", `got "one"`}},
		{"int32 overflow", []string{"CHRONIK_MAX_REQUEST_BYTES=3000000000"}, []string{"CHRONIK_MAX_REQUEST_BYTES", "integer between"}},
		{"int16 overflow", []string{"CHRONIK_REPLICATION_FACTOR=70000"}, []string{"CHRONIK_REPLICATION_FACTOR", "integer between -32768 and 32767"}},
		{"int64 garbage", []string{"CHRONIK_RETENTION_MS=7d"}, []string{"CHRONIK_RETENTION_MS", "storage.retention_ms", `got "7d"`}},
		{"empty int", []string{"CHRONIK_NUM_PARTITIONS="}, []string{"CHRONIK_NUM_PARTITIONS", "integer"}},
		{"not a bool", []string{"CHRONIK_AUTO_CREATE_TOPICS=yes"}, []string{"CHRONIK_AUTO_CREATE_TOPICS", "true or false", `got "yes"`}},
		{"invalid value", []string{"CHRONIK_FSYNC=sometimes"}, []string{"storage.fsync (from CHRONIK_FSYNC)", "always, interval, never"}},
		{"replication", []string{"CHRONIK_REPLICATION_FACTOR=3"}, []string{"consumer.replication_factor (from CHRONIK_REPLICATION_FACTOR): must be 1"}},
		{"several errors", []string{"CHRONIK_FOO=1", "CHRONIK_NODE_ID=x"}, []string{"CHRONIK_FOO", "CHRONIK_NODE_ID"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load("", nil, tt.env)
			if err == nil {
				t.Fatalf("Load() = nil error, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Load() = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"--fsync=sometimes"}, []string{"storage.fsync (from --fsync)", "always, interval, never"}},
		{[]string{"--kafka-listen=9092"}, []string{"server.kafka_listen (from --kafka-listen)", `did you mean ":9092"`}},
		{[]string{"--group-min-session-timeout-ms=5000", "--group-max-session-timeout-ms=4000"}, []string{
			"consumer.group_min_session_timeout_ms (from --group-min-session-timeout-ms)", "must not exceed group_max_session_timeout_ms (4000)"}},
		{[]string{"--segment-size-mb=-1"}, []string{"storage.segment_size_mb (from --segment-size-mb)"}},
		{[]string{"--replication-factor=2"}, []string{"consumer.replication_factor (from --replication-factor): must be 1"}},
	}
	for _, tt := range tests {
		_, err := Load("", flagSet(t, tt.args...), nil)
		if err == nil {
			t.Errorf("%v: Load() = nil error", tt.args)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: Load() = %q, want it to contain %q", tt.args, err, w)
			}
		}
	}

	// pflag itself refuses unparsable numbers before Load sees them.
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	RegisterFlags(fs)
	if err := fs.Parse([]string{"--node-id=abc"}); err == nil || !strings.Contains(err.Error(), "node-id") {
		t.Errorf("parse --node-id=abc: %v, want error naming the flag", err)
	}
}
