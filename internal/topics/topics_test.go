package topics

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chronik-streaming/chronik/internal/config"
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
