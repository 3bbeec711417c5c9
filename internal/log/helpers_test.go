package log

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/chronik-streaming/chronik/internal/batch"
	"github.com/chronik-streaming/chronik/internal/batch/batchtest"
)

func testConfig() Config {
	c := DefaultConfig()
	c.Fsync = FsyncNever
	return c
}

func openT(t testing.TB, dir string, cfg Config) *Log {
	t.Helper()
	l, err := Open(dir, cfg, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func mustAppend(t testing.TB, l *Log, b []byte) AppendResult {
	t.Helper()
	res, err := l.Append(b)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	if l.config().Fsync == FsyncAlways {
		if err := l.WaitDurable(context.Background(), res.LastOffset+1); err != nil {
			t.Fatalf("WaitDurable: %v", err)
		}
	}
	return res
}

func simple(n, size int, ts int64) []byte { return batchtest.Simple(n, size, ts) }

func idem(pid int64, epoch int16, seq int32, n int) []byte {
	return batchtest.Build(batchtest.Options{N: n, ValueSize: 10, BaseTimestamp: 1000,
		Idempotent: true, ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq})
}

// crash closes the log's files without any checkpoint, as a kill -9 would
// leave them (the page cache survives).
func crash(t testing.TB, l *Log) {
	t.Helper()
	if err := l.shutdown(false); err != nil {
		t.Fatalf("crash: %v", err)
	}
}

// readAllBatches reads the whole log from its start through Read, checking
// each batch, and returns the batches.
func readAllBatches(t testing.TB, l *Log) [][]byte {
	t.Helper()
	var out [][]byte
	off := l.LogStartOffset()
	for off < l.HighWatermark() {
		res, err := l.Read(off, 1<<20, true)
		if err != nil {
			t.Fatalf("Read(%d): %v", off, err)
		}
		bs, tail, err := batch.Split(res.Records)
		if err != nil || len(tail) != 0 || len(bs) == 0 {
			t.Fatalf("Read(%d): %d batches, tail %d, err %v", off, len(bs), len(tail), err)
		}
		for _, b := range bs {
			h, err := batch.Validate(b)
			if err != nil {
				t.Fatalf("batch at %d: %v", off, err)
			}
			if h.BaseOffset > off && len(out) > 0 {
				t.Fatalf("gap: expected %d, batch starts at %d", off, h.BaseOffset)
			}
			off = h.NextOffset()
			out = append(out, b)
		}
	}
	return out
}

func segmentFiles(t testing.TB, dir, suffix string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+suffix))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(m)
	return m
}

func fileBytes(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func expectErr(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
}

func equalBatches(t testing.TB, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d batches, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("batch %d differs", i)
		}
	}
}

// faultyFile wraps a file and fails writes on demand, after writing part of
// the data (a short write on a full disk).
type faultyFile struct {
	file
	mu       *sync.Mutex
	failing  *bool
	syncFail *bool
}

func (f faultyFile) WriteAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	failing := *f.failing
	f.mu.Unlock()
	if failing {
		n, _ := f.file.WriteAt(p[:len(p)/2], off)
		return n, errNoSpace
	}
	return f.file.WriteAt(p, off)
}

func (f faultyFile) Sync() error {
	f.mu.Lock()
	failing := *f.syncFail
	f.mu.Unlock()
	if failing {
		return errNoSpace
	}
	return f.file.Sync()
}

var errNoSpace = errors.New("no space left on device (injected)")

// injectFaults makes every file opened from now on in dir faulty while the
// returned setter says so.
func injectFaults(t *testing.T, dir string) (setWrites func(bool), setSync func(bool)) {
	var mu sync.Mutex
	failing, syncFail := false, false
	orig := openFile
	openFile = func(path string, flag int) (file, error) {
		f, err := orig(path, flag)
		if err != nil || filepath.Dir(path) != dir {
			return f, err
		}
		return faultyFile{file: f, mu: &mu, failing: &failing, syncFail: &syncFail}, nil
	}
	t.Cleanup(func() { openFile = orig })
	return func(v bool) { mu.Lock(); failing = v; mu.Unlock() },
		func(v bool) { mu.Lock(); syncFail = v; mu.Unlock() }
}

func fixedClock(l *Log, t *time.Time, mu *sync.Mutex) {
	l.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return *t }
}

func idemHeader(t testing.TB, b []byte) batch.Header {
	t.Helper()
	h, err := batch.ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func idemHeaderNoT(b []byte) batch.Header {
	h, _ := batch.ParseHeader(b)
	return h
}
