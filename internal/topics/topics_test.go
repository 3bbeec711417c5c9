package topics

import (
	"errors"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chronik-streaming/chronik/internal/batch/batchtest"
	"github.com/chronik-streaming/chronik/internal/config"
	plog "github.com/chronik-streaming/chronik/internal/log"
	"github.com/chronik-streaming/chronik/internal/meta"
)

func TestValidateName(t *testing.T) {
	for name, ok := range map[string]bool{
		"orders": true, "a.b_c-D9": true, strings.Repeat("x", 249): true,
		"": false, ".": false, "..": false, strings.Repeat("x", 250): false, "a/b": false, "a b": false, "ü": false,
	} {
		if err := ValidateName(name); (err == nil) != ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}

func TestValidateConfig(t *testing.T) {
	for _, c := range []struct {
		name, value string
		ok          bool
	}{
		{"retention.ms", "-1", true}, {"retention.ms", "abc", false}, {"retention.ms", "-2", false},
		{"cleanup.policy", "compact,delete", true}, {"cleanup.policy", "compact, delete", true}, {"cleanup.policy", "sometimes", false},
		{"compression.type", "zstd", true}, {"compression.type", "brotli", false},
		{"min.cleanable.dirty.ratio", "0.7", true}, {"min.cleanable.dirty.ratio", "2", false},
		{"message.timestamp.type", "LogAppendTime", true}, {"no.such", "1", false},
	} {
		err := ValidateConfig(c.name, c.value)
		if (err == nil) != c.ok {
			t.Errorf("ValidateConfig(%s=%s) = %v, want ok=%v", c.name, c.value, err, c.ok)
		}
		if err != nil && !strings.Contains(err.Error(), c.name) {
			t.Errorf("error %q does not name the key %s", err, c.name)
		}
	}
}

// TestStrayDirectoriesRemoved: partition directories the metadata store does
// not know (an interrupted create or delete) are removed on open; known ones
// and unrelated files stay.
func TestStrayDirectoriesRemoved(t *testing.T) {
	dir := t.TempDir()
	store, err := meta.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cfg := config.Default()
	cfg.Server.DataDir = dir
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := Open(dir, cfg, store, logger)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create(CreateSpec{Name: "kept", Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create(CreateSpec{Name: "kept.too", Partitions: 1, ReplicationFactor: 1}); err == nil || !errors.Is(err, ErrInvalidTopic) {
		// "kept.too" does not collide with "kept"; "kept_too" would collide with "kept.too".
		if err != nil {
			t.Fatalf("create kept.too: %v", err)
		}
	}
	if _, err := m.Create(CreateSpec{Name: "kept_too", Partitions: 1, ReplicationFactor: 1}); !errors.Is(err, ErrInvalidTopic) {
		t.Fatalf("kept_too should collide with kept.too: %v", err)
	}
	m.Close()
	for _, d := range []string{"ghost-0", "old-1.abc-delete"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("keep me"), 0o644)

	m, err = Open(dir, cfg, store, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, d := range []string{"ghost-0", "old-1.abc-delete"} {
		if _, err := os.Stat(filepath.Join(dir, d)); !os.IsNotExist(err) {
			t.Errorf("stray %s not removed", d)
		}
	}
	for _, f := range []string{"kept-0", "notes.txt"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s removed: %v", f, err)
		}
	}
	if _, ok := m.Get("kept"); !ok {
		t.Fatal("topic kept lost")
	}
}

func openManager(t *testing.T, dir string) (*Manager, func()) {
	t.Helper()
	store, err := meta.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Server.DataDir = dir
	m, err := Open(dir, cfg, store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		store.Close()
		t.Fatal(err)
	}
	var once sync.Once
	closeM := func() { once.Do(func() { m.Close(); store.Close() }) }
	t.Cleanup(closeM)
	return m, closeM
}

// TestAlterConfigs: incremental changes (SET, DELETE, APPEND, SUBTRACT)
// and replacing the set apply atomically, refuse invalid results without
// changing anything, take effect on the partition logs at once and persist.
func TestAlterConfigs(t *testing.T) {
	dir := t.TempDir()
	m, closeM := openManager(t, dir)
	if _, err := m.Create(CreateSpec{Name: "orders", Partitions: 2, ReplicationFactor: 1, Configs: map[string]string{"retention.ms": "3600000"}}); err != nil {
		t.Fatal(err)
	}
	tp, _ := m.Get("orders")
	configs := func() map[string]string { return m.Configs(tp) }
	mustEqual := func(want map[string]string) {
		t.Helper()
		if got := configs(); !maps.Equal(got, want) {
			t.Fatalf("configs = %v, want %v", got, want)
		}
	}

	if err := m.AlterConfigs("orders", []ConfigOp{
		{Name: "cleanup.policy", Op: ConfigAppend, Value: "compact"},
		{Name: "max.message.bytes", Op: ConfigSet, Value: "100"},
		{Name: "compression.type", Op: ConfigSet, Value: "zstd"},
		{Name: SearchEnabledConfig, Op: ConfigSet, Value: "true"},
	}, false); err != nil {
		t.Fatal(err)
	}
	mustEqual(map[string]string{"retention.ms": "3600000", "cleanup.policy": "delete,compact", "max.message.bytes": "100", "compression.type": "zstd", SearchEnabledConfig: "true"})
	if tp.StorageCodec() != 4 || !m.SearchEnabled(tp) {
		t.Fatalf("codec %d, search %v after the change", tp.StorageCodec(), m.SearchEnabled(tp))
	}
	// Live: the log refuses a batch over the new max.message.bytes.
	p, _ := m.Partition("orders", 1)
	if _, err := p.Log.Append(batchtest.Simple(1, 200, 1)); !errors.Is(err, plog.ErrMessageTooLarge) {
		t.Fatalf("append over the new max.message.bytes: %v", err)
	}

	// Each of these is invalid: nothing changes.
	before := configs()
	for _, ops := range [][]ConfigOp{
		{{Name: "retention.ms", Op: ConfigSet, Value: "soon"}},
		{{Name: "segment.ms", Op: ConfigSet, Value: "1000"}, {Name: "cleanup.policy", Op: ConfigSubtract, Value: "delete,compact"}},
		{{Name: "retention.ms", Op: ConfigAppend, Value: "1"}},
		{{Name: "no.such.config", Op: ConfigSet, Value: "1"}},
		{{Name: "min.compaction.lag.ms", Op: ConfigSet, Value: "10"}, {Name: "max.compaction.lag.ms", Op: ConfigSet, Value: "5"}},
		{{Name: "segment.ms", Op: 7, Value: "1"}},
	} {
		err := m.AlterConfigs("orders", ops, false)
		if !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("%v: %v, want invalid config", ops, err)
		}
		mustEqual(before)
	}
	// Validate-only changes nothing, even when valid.
	if err := m.AlterConfigs("orders", []ConfigOp{{Name: "segment.ms", Op: ConfigSet, Value: "1000"}}, true); err != nil {
		t.Fatal(err)
	}
	mustEqual(before)
	if err := m.AlterConfigs("ghost", nil, false); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("unknown topic: %v", err)
	}

	if err := m.AlterConfigs("orders", []ConfigOp{
		{Name: "cleanup.policy", Op: ConfigSubtract, Value: "delete"},
		{Name: "max.message.bytes", Op: ConfigDelete},
		{Name: "not.set.anyway", Op: ConfigDelete},
	}, false); err != nil {
		t.Fatal(err)
	}
	mustEqual(map[string]string{"retention.ms": "3600000", "cleanup.policy": "compact", "compression.type": "zstd", SearchEnabledConfig: "true"})
	if _, err := p.Log.Append(batchtest.Simple(1, 200, 1)); !errors.Is(err, plog.ErrInvalidRecord) {
		// compact now: records without keys are refused
		t.Fatalf("keyless append to a compacted topic: %v", err)
	}

	// Replace: the listed configs become the whole set.
	if err := m.ReplaceConfigs("orders", map[string]string{"segment.bytes": "1048576"}, false); err != nil {
		t.Fatal(err)
	}
	mustEqual(map[string]string{"segment.bytes": "1048576"})
	if tp.StorageCodec() != -1 || m.SearchEnabled(tp) {
		t.Fatalf("codec %d, search %v after replacing", tp.StorageCodec(), m.SearchEnabled(tp))
	}
	if err := m.ReplaceConfigs("orders", map[string]string{"segment.bytes": "1"}, false); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("replace with an invalid value: %v", err)
	}
	if _, err := p.Log.Append(batchtest.Simple(1, 200, 1)); err != nil {
		t.Fatalf("append after replacing: %v", err)
	}

	// Persisted.
	closeM()
	m, _ = openManager(t, dir)
	tp, _ = m.Get("orders")
	if got := m.Configs(tp); !maps.Equal(got, map[string]string{"segment.bytes": "1048576"}) {
		t.Fatalf("after reopening: %v", got)
	}
}

func TestListConfigValues(t *testing.T) {
	for v, ok := range map[string]bool{"compact": true, "delete , compact": true, "compact,compact": true, "": false, " , ": false, "compact,sometimes": false} {
		if err := ValidateConfig("cleanup.policy", v); (err == nil) != ok {
			t.Errorf("cleanup.policy=%q: %v, want ok=%v", v, err, ok)
		}
	}
	if err := ValidateConfig("leader.replication.throttled.replicas", ""); err != nil {
		t.Errorf("empty throttled replicas: %v", err)
	}
}
