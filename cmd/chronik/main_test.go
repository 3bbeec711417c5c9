package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runCmd runs the chronik command line in-process.
func runCmd(t *testing.T, ctx context.Context, env []string, args ...string) (status int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	status = run(ctx, args, env, &out, &errb)
	return status, out.String(), errb.String()
}

func TestVersion(t *testing.T) {
	status, out, _ := runCmd(t, context.Background(), nil, "version")
	if status != 0 || !strings.HasPrefix(out, "chronik ") || !strings.Contains(out, "go1") {
		t.Errorf("version: status %d, output %q", status, out)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"bogus"}, []string{`unknown command "bogus" for "chronik"`, "chronik --help"}},
		{[]string{"serv"}, []string{`unknown command "serv"`, "did you mean serve?"}},
		{[]string{"--no-such-flag"}, []string{"unknown flag: --no-such-flag"}},
		{[]string{"serve", "extra"}, []string{`unknown command "extra" for "chronik serve"`}},
		{[]string{"serve", "--node-id=abc"}, []string{"node-id", "abc"}},
		{[]string{"topic", "bogus"}, []string{`unknown command "bogus" for "chronik topic"`, "chronik topic --help"}},
		{[]string{"topic", "create"}, []string{"accepts 1 arg(s), received 0"}},
		{[]string{"topic", "describe", "a", "b"}, []string{"accepts 1 arg(s), received 2"}},
		{[]string{"topic", "create", "x", "-p", "0"}, []string{"--partitions must be >= 1"}},
		{[]string{"topic", "create", "x", "-r", "-3"}, []string{"--replication-factor must be >= 1"}},
		{[]string{"topic", "create", "x", "-c", "novalue"}, []string{`--config "novalue": want key=value`}},
		{[]string{"topic", "create", "x", "-c", "a=1", "-c", "a=2"}, []string{"a given twice"}},
		{[]string{"topic", "list", "--brokers", " , "}, []string{"--brokers is empty"}},
		{[]string{"topic", "list", "--timeout", "0s"}, []string{"--timeout must be positive"}},
		{[]string{"version", "x"}, []string{`unknown command "x" for "chronik version"`}},
	}
	for _, tt := range tests {
		status, _, stderr := runCmd(t, context.Background(), nil, tt.args...)
		if status != exitUsage {
			t.Errorf("%v: status %d, want %d (stderr %q)", tt.args, status, exitUsage, stderr)
		}
		for _, w := range tt.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%v: stderr %q, want it to contain %q", tt.args, stderr, w)
			}
		}
	}
}

func TestServeConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("[storage]\nfsync = \"sometimes\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  []string
		args []string
		want []string
	}{
		{"invalid flag value", nil, []string{"serve", "--fsync", "sometimes"},
			[]string{"storage.fsync (from --fsync): must be one of always, interval, never"}},
		{"root runs serve", nil, []string{"--replication-factor", "3"},
			[]string{"consumer.replication_factor (from --replication-factor): must be 1"}},
		{"invalid env value", []string{"CHRONIK_FSYNC=sometimes"}, []string{"serve"},
			[]string{"storage.fsync (from CHRONIK_FSYNC)"}},
		{"unknown env var", []string{"CHRONIK_DATADIR=/x"}, []string{"serve"},
			[]string{"unknown environment variable CHRONIK_DATADIR", "CHRONIK_DATA_DIR"}},
		{"config file from flag", nil, []string{"serve", "--config", bad},
			[]string{"storage.fsync (from " + bad + ")"}},
		{"config file from env", []string{"CHRONIK_CONFIG=" + bad}, []string{"serve"},
			[]string{"storage.fsync (from " + bad + ")"}},
		{"flag beats env for the config path", []string{"CHRONIK_CONFIG=" + bad}, []string{"--config", filepath.Join(dir, "missing.toml")},
			[]string{"missing.toml"}},
	}
	for _, tt := range tests {
		status, _, stderr := runCmd(t, context.Background(), tt.env, tt.args...)
		if status != exitUsage {
			t.Errorf("%s: status %d, want %d (stderr %q)", tt.name, status, exitUsage, stderr)
		}
		for _, w := range tt.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%s: stderr %q, want it to contain %q", tt.name, stderr, w)
			}
		}
	}
}

// TestServeRuns starts the broker on ephemeral ports and stops it by
// cancelling the context, as SIGINT would.
func TestServeRuns(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	status, _, stderr := runCmd(t, ctx, nil, "serve",
		"--kafka-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
		"--data-dir", t.TempDir(), "--log-level", "debug")
	if status != 0 {
		t.Fatalf("serve: status %d, stderr:\n%s", status, stderr)
	}
	for _, w := range []string{"level=INFO msg=\"starting chronik\"", "msg=\"shutting down\"", "msg=\"chronik stopped\""} {
		if !strings.Contains(stderr, w) {
			t.Errorf("serve log lacks %q:\n%s", w, stderr)
		}
	}
}
