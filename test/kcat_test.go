package test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-streaming/chronik/internal/batch"
	"github.com/chronik-streaming/chronik/internal/compress"
)

// kcatPath finds kcat; CI installs it (Debian's, librdkafka 2.0.2) and sets
// CHRONIK_REQUIRE_CLIENTS so a missing kcat fails instead of skipping.
func kcatPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("CHRONIK_REQUIRE_CLIENTS") != "" {
			t.Fatal("kcat not installed (apt-get install kcat)")
		}
		t.Skip("kcat not installed")
	}
	return p
}

func runKcat(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(kcatPath(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kcat %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestKcat drives the broker with librdkafka through kcat: metadata, and a
// produce/consume round trip with each codec, keys, headers and an
// idempotent producer, checking every byte that comes back.
func TestKcat(t *testing.T) {
	kcatPath(t)
	tb := startBroker(t, "", nil)
	createTopic(t, tb.admin(), "kcat-meta", 2, nil)

	meta := runKcat(t, "", "-b", tb.addr, "-L")
	for _, want := range []string{"1 brokers:", "broker 1 at 127.0.0.1", `topic "kcat-meta" with 2 partitions`, "partition 1, leader 1, replicas: 1, isrs: 1"} {
		if !strings.Contains(meta, want) {
			t.Fatalf("kcat -L lacks %q:\n%s", want, meta)
		}
	}

	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			topic := "kcat-" + codec
			createTopic(t, tb.admin(), topic, 1, nil)
			var in, want strings.Builder
			for i := 0; i < 50; i++ {
				fmt.Fprintf(&in, "key%d:value %d %s\n", i, i, strings.Repeat("x", i))
				fmt.Fprintf(&want, "key%d|value %d %s|h1=v1,h2=|%d\n", i, i, strings.Repeat("x", i), i)
			}
			runKcat(t, in.String(), "-b", tb.addr, "-P", "-t", topic, "-K:", "-z", codec, "-H", "h1=v1", "-H", "h2=",
				"-X", "enable.idempotence=true", "-X", "acks=all")
			// librdkafka really compressed: the stored batch carries the codec.
			raw := fetchRaw(t, tb.client(kgo.MaxVersions(maxVersions(12))), 12, topic, 0, 1<<20)
			h, err := batch.Validate(raw.RecordBatches)
			if err != nil || compress.Name(h.Codec()) != codec {
				t.Fatalf("stored batch codec %q, %v; want %q", compress.Name(h.Codec()), err, codec)
			}
			got := runKcat(t, "", "-b", tb.addr, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%k|%s|%h|%o\n")
			if got != want.String() {
				t.Fatalf("consumed:\n%s\nwant:\n%s", got, want.String())
			}
			// Offsets query: kcat -Q by timestamp 0 gives the first offset.
			q := runKcat(t, "", "-b", tb.addr, "-Q", "-t", topic+":0:0")
			if !strings.Contains(q, "offset 0") {
				t.Fatalf("kcat -Q: %s", q)
			}
		})
	}

	// Null key and empty value survive (-Z sends empty as NULL).
	createTopic(t, tb.admin(), "kcat-null", 1, nil)
	runKcat(t, ":\nk:\n", "-b", tb.addr, "-P", "-t", "kcat-null", "-K:", "-Z")
	got := runKcat(t, "", "-b", tb.addr, "-C", "-t", "kcat-null", "-o", "beginning", "-e", "-q", "-f", "%K|%S|%o\n")
	if got != "-1|-1|0\n1|-1|1\n" {
		t.Fatalf("null key/value round trip: %q", got)
	}
}
