package config

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// EnvPrefix starts every configuration environment variable.
const EnvPrefix = "CHRONIK_"

// help is the one-line description of every key, used for flag usage and the
// example configuration file.
var help = map[string]string{
	"node_id":               "broker id reported to clients (>= 0)",
	"kafka_listen":          "Kafka protocol listen address, host:port",
	"http_listen":           "HTTP listen address (/health, /ready), host:port",
	"advertised_host":       `host advertised to clients; "" = listen host, or localhost when listening on all interfaces`,
	"advertised_port":       "port advertised to clients; 0 = the kafka_listen port",
	"data_dir":              "directory holding logs and metadata",
	"max_request_bytes":     "largest accepted request in bytes (Kafka socket.request.max.bytes)",
	"log_level":             "log level: debug, info, warn or error",
	"metrics_per_partition": "label /metrics series by partition too (bounded cardinality when off)",

	"segment_size_mb":           "roll a log segment once it reaches this size in MiB (1-2047)",
	"segment_age_ms":            "roll a log segment once it is this old in milliseconds",
	"retention_ms":              "delete segments older than this in milliseconds; -1 = keep forever",
	"retention_bytes":           "per-partition size limit in bytes before old segments are deleted; -1 = no limit",
	"fsync":                     "when to fsync appended data: always, interval or never",
	"fsync_interval_ms":         "fsync period in milliseconds when fsync = interval",
	"message_max_bytes":         "largest record batch accepted in bytes (Kafka message.max.bytes)",
	"index_interval_bytes":      "bytes of log between offset index entries (0 = index every batch)",
	"producer_id_expiration_ms": "forget idle idempotent producer ids after this many milliseconds",
	"backend":                   "object store for tiered storage: local (none), s3, gcs, azure or file",
	"bucket":                    "bucket (s3, gcs), container (azure) or directory (file) of the object store",
	"prefix":                    "key prefix of Chronik's objects in the bucket",
	"endpoint":                  `S3-compatible endpoint URL, e.g. http://127.0.0.1:9000 for MinIO; "" = AWS`,
	"region":                    `S3 region; "" = the AWS SDK's default (us-east-1 with an endpoint)`,
	"upload_interval_ms":        "how often closed segments of tiered topics are looked for and uploaded",
	"metadata_interval_ms":      "how often topics, configs and committed offsets are copied to the bucket",
	"remote_cache_mb":           "local cache of segments downloaded from the bucket, in MiB",

	"auto_create_topics":                   "create unknown topics on first produce or metadata request",
	"num_partitions":                       "partitions of auto-created topics and of create requests that ask for the default",
	"replication_factor":                   "replication factor of new topics (single node: must be 1)",
	"group_initial_rebalance_delay_ms":     "wait this long for more members before the first rebalance of a new group",
	"group_min_session_timeout_ms":         "smallest session timeout a group member may ask for",
	"group_max_session_timeout_ms":         "largest session timeout a group member may ask for",
	"group_consumer_session_timeout_ms":    "session timeout of members of KIP-848 (consumer protocol) groups",
	"group_consumer_heartbeat_interval_ms": "heartbeat interval the broker gives KIP-848 group members",
	"offsets_retention_minutes":            "drop committed offsets of empty groups after this many minutes",
	"transaction_max_timeout_ms":           "largest transaction timeout a transactional producer may ask for",

	"search_enabled":    "index the messages of topics that do not set chronik.search.enabled",
	"search_index_docs": "records per search index of a partition; older indexes are dropped whole by retention",
}

// Key describes one configuration key.
type Key struct {
	Name    string // TOML key, e.g. "data_dir"
	Section string // TOML table, e.g. "server"
	Flag    string // flag name without dashes, e.g. "data-dir"
	Env     string // environment variable, e.g. "CHRONIK_DATA_DIR"
	Help    string // one-line description

	index [2]int // field path in Config
}

// Path is the dotted TOML path of the key, e.g. "server.data_dir".
func (k Key) Path() string { return k.Section + "." + k.Name }

// Keys lists every configuration key in declaration order.
func Keys() []Key { return append([]Key(nil), keys...) }

var (
	keys      = buildKeys()
	keyByName = func() map[string]Key {
		m := make(map[string]Key, len(keys))
		for _, k := range keys {
			m[k.Name] = k
		}
		return m
	}()
)

func buildKeys() []Key {
	var out []Key
	ct := reflect.TypeFor[Config]()
	for i := range ct.NumField() {
		sf := ct.Field(i)
		section := sf.Tag.Get("toml")
		for j := range sf.Type.NumField() {
			f := sf.Type.Field(j)
			name := f.Tag.Get("toml")
			out = append(out, Key{
				Name:    name,
				Section: section,
				Flag:    strings.ReplaceAll(name, "_", "-"),
				Env:     EnvPrefix + strings.ToUpper(name),
				Help:    help[name],
				index:   [2]int{i, j},
			})
		}
	}
	return out
}

func (k Key) field(c *Config) reflect.Value {
	return reflect.ValueOf(c).Elem().Field(k.index[0]).Field(k.index[1])
}

// value returns the key's current value in c.
func (k Key) value(c *Config) any { return k.field(c).Interface() }

// set parses s according to the key's type and stores it in c. Range checks
// beyond the type's own are left to Validate.
func (k Key) set(c *Config, s string) error {
	f := k.field(c)
	switch f.Kind() {
	case reflect.String:
		f.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("must be true or false, got %q", s)
		}
		f.SetBool(b)
	case reflect.Int16, reflect.Int32, reflect.Int64:
		bits := f.Type().Bits()
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, bits)
		if err != nil {
			return fmt.Errorf("must be an integer between %d and %d, got %q",
				int64(-1)<<(bits-1), int64(math.MaxInt64>>(64-bits)), s)
		}
		f.SetInt(n)
	default:
		panic("config: unsupported field kind " + f.Kind().String())
	}
	return nil
}

// suggest returns a close key name for a misspelt one, or "".
func suggest(name string) string {
	best, bestDist := "", 3
	for _, k := range keys {
		if d := editDistance(name, k.Name); d < bestDist {
			best, bestDist = k.Name, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// sections are the TOML table names in declaration order.
var sections = func() []string {
	var out []string
	for _, k := range keys {
		if len(out) == 0 || out[len(out)-1] != k.Section {
			out = append(out, k.Section)
		}
	}
	return out
}()
