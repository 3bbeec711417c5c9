package log

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// buildLog writes n batches over several segments (rolled at 2 KiB) and
// returns the batches.
func buildLog(t *testing.T, dir string, cfg Config, n int) [][]byte {
	t.Helper()
	l := openT(t, dir, cfg)
	var want [][]byte
	for i := 0; i < n; i++ {
		b := simple(3, 40, int64(1000+i))
		mustAppend(t, l, b)
		want = append(want, b)
	}
	crash(t, l)
	return want
}

func recoveryConfig() Config {
	c := testConfig()
	c.SegmentBytes = 2048
	c.IndexIntervalBytes = 256
	return c
}

type logCapture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *logCapture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

func (c *logCapture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

func openLogged(t *testing.T, dir string, cfg Config) (*Log, *logCapture) {
	t.Helper()
	c := &logCapture{}
	l, err := Open(dir, cfg, slog.New(slog.NewTextHandler(c, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, c
}

func TestRecoveryTornTail(t *testing.T) {
	dir := t.TempDir()
	cfg := recoveryConfig()
	want := buildLog(t, dir, cfg, 40)
	logs := segmentFiles(t, dir, ".log")
	if len(logs) < 3 {
		t.Fatalf("%d segments", len(logs))
	}
	before := map[string][]byte{}
	for _, p := range logs[:len(logs)-1] {
		before[p] = fileBytes(t, p)
		before[p[:len(p)-4]+".index"] = fileBytes(t, p[:len(p)-4]+".index")
	}
	last := logs[len(logs)-1]
	good := fileBytes(t, last)
	// A torn batch: the start of a copy of the first one.
	torn := append(bytes.Clone(good), good[:70]...)
	if err := os.WriteFile(last, torn, 0o644); err != nil {
		t.Fatal(err)
	}
	// And a lost index.
	os.Remove(last[:len(last)-4] + ".index")

	l, logged := openLogged(t, dir, cfg)
	if !strings.Contains(logged.String(), "level=WARN") || !strings.Contains(logged.String(), filepath.Base(last)) {
		t.Fatalf("truncation not logged: %s", logged)
	}
	if got := fileBytes(t, last); !bytes.Equal(got, good) {
		t.Fatalf("segment is %d bytes, want %d", len(got), len(good))
	}
	for p, b := range before {
		if !bytes.Equal(fileBytes(t, p), b) {
			t.Fatalf("%s changed", p)
		}
	}
	equalBatches(t, readAllBatches(t, l), want)
	if l.LogEndOffset() != 120 || l.HighWatermark() != 120 {
		t.Fatalf("leo %d", l.LogEndOffset())
	}
	// The index was rebuilt.
	if st, err := os.Stat(last[:len(last)-4] + ".index"); err != nil || st.Size() == 0 {
		t.Fatalf("index not rebuilt: %v", err)
	}
	res := mustAppend(t, l, simple(1, 1, 1))
	if res.BaseOffset != 120 {
		t.Fatalf("append after recovery at %d", res.BaseOffset)
	}
}

func TestRecoveryCorruptCRC(t *testing.T) {
	dir := t.TempDir()
	cfg := recoveryConfig()
	want := buildLog(t, dir, cfg, 40)
	logs := segmentFiles(t, dir, ".log")
	last := logs[len(logs)-1]
	data := fileBytes(t, last)
	// Corrupt a record byte of the third batch of the last segment.
	sz := len(want[0])
	if len(data) < 4*sz {
		t.Fatalf("last segment too small: %d", len(data))
	}
	data[2*sz+sz-3] ^= 0x55
	os.WriteFile(last, data, 0o644)
	earlier := fileBytes(t, logs[0])

	l, logged := openLogged(t, dir, cfg)
	if !strings.Contains(logged.String(), "CRC") {
		t.Fatalf("CRC failure not logged: %s", logged)
	}
	if got := fileBytes(t, last); len(got) != 2*sz {
		t.Fatalf("truncated to %d bytes, want %d", len(got), 2*sz)
	}
	if !bytes.Equal(fileBytes(t, logs[0]), earlier) {
		t.Fatal("earlier segment changed")
	}
	got := readAllBatches(t, l)
	if len(got) != len(want)-(len(data)/sz-2) {
		t.Fatalf("%d batches left of %d", len(got), len(want))
	}
	equalBatches(t, got, want[:len(got)])
	// The time index was rebuilt within the remaining data.
	l.state.RLock()
	s := l.active()
	err := s.timeIndex.sane(s.next - s.base)
	l.state.RUnlock()
	if err != nil {
		t.Fatal(err)
	}
}

func TestRecoveryDropsSegmentsAfterCorruption(t *testing.T) {
	dir := t.TempDir()
	cfg := recoveryConfig()
	want := buildLog(t, dir, cfg, 40)
	logs := segmentFiles(t, dir, ".log")
	// Make everything from the second segment on subject to recovery, and
	// corrupt the second segment's first batch magic.
	os.Remove(filepath.Join(dir, recoveryPointFile))
	data := fileBytes(t, logs[1])
	data[16] = 9
	os.WriteFile(logs[1], data, 0o644)
	l := openT(t, dir, cfg)
	// The corrupt segment is emptied (it stays, as the active segment,
	// since it continues the first one) and every later one is deleted.
	left := segmentFiles(t, dir, ".log")
	if len(left) != 2 || left[0] != logs[0] || left[1] != logs[1] || len(fileBytes(t, logs[1])) != 0 {
		t.Fatalf("segments left: %v", left)
	}
	n := len(fileBytes(t, logs[0])) / len(want[0])
	equalBatches(t, readAllBatches(t, l), want[:n])
	for _, suf := range []string{".index", ".timeindex"} {
		if len(segmentFiles(t, dir, suf)) != 2 {
			t.Fatalf("stale %s files", suf)
		}
	}
	mustAppend(t, l, simple(1, 1, 1))
}

func TestRecoveryTrustsSegmentsBelowRecoveryPoint(t *testing.T) {
	dir := t.TempDir()
	cfg := recoveryConfig()
	buildLog(t, dir, cfg, 40)
	logs := segmentFiles(t, dir, ".log")
	rp, err := readOffsetCheckpoint(dir, recoveryPointFile)
	if err != nil || rp == 0 {
		t.Fatalf("recovery point %d %v", rp, err)
	}
	// A flipped byte in the first segment (below the recovery point) is not
	// noticed: that segment is trusted and left alone.
	data := fileBytes(t, logs[0])
	data[len(data)-2] ^= 1
	os.WriteFile(logs[0], data, 0o644)
	l := openT(t, dir, cfg)
	if !bytes.Equal(fileBytes(t, logs[0]), data) || l.LogEndOffset() != 120 {
		t.Fatalf("trusted segment touched; leo %d", l.LogEndOffset())
	}
}

func TestRecoveryBadIndexRebuilt(t *testing.T) {
	dir := t.TempDir()
	cfg := recoveryConfig()
	want := buildLog(t, dir, cfg, 40)
	l := openT(t, dir, cfg)
	l.Close()
	idx := segmentFiles(t, dir, ".index")
	good := fileBytes(t, idx[0])
	if len(good) < 16 {
		t.Fatalf("index too small: %d", len(good))
	}
	bad := bytes.Clone(good)
	binary.BigEndian.PutUint32(bad[4:], 1<<30) // position beyond the segment
	os.WriteFile(idx[0], bad, 0o644)
	os.WriteFile(segmentFiles(t, dir, ".timeindex")[0], []byte{1, 2, 3}, 0o644)
	l = openT(t, dir, cfg)
	if !bytes.Equal(fileBytes(t, idx[0]), good) {
		t.Fatal("index not rebuilt identically")
	}
	equalBatches(t, readAllBatches(t, l), want)
	if off, _, found, _ := l.OffsetForTimestamp(1001); !found || off != 3 {
		t.Fatalf("time lookup after rebuild: %d %v", off, found)
	}
}

func TestRecoveryAllTorn(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "00000000000000000000.log"), []byte("garbage that is not a batch at all, not even close, really not"), 0o644)
	os.WriteFile(filepath.Join(dir, "00000000000000000099.index"), []byte("orphan"), 0o644)
	os.WriteFile(filepath.Join(dir, "x.tmp"), []byte("tmp"), 0o644)
	l := openT(t, dir, testConfig())
	if l.LogEndOffset() != 0 || l.Size() != 0 {
		t.Fatalf("leo %d size %d", l.LogEndOffset(), l.Size())
	}
	for _, f := range []string{"00000000000000000099.index", "x.tmp"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Fatalf("%s not removed", f)
		}
	}
	mustAppend(t, l, simple(1, 1, 1))
}

func TestRecoveryMarkerMismatch(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	l := openT(t, dir, cfg)
	for i := 0; i < 5; i++ {
		mustAppend(t, l, simple(1, 10, 1))
	}
	l.Close()
	// Bytes appended after the clean shutdown (by something else): the
	// marker no longer matches and the tail is recovered.
	p := filepath.Join(dir, "00000000000000000000.log")
	data := fileBytes(t, p)
	os.WriteFile(p, append(data, 1, 2, 3), 0o644)
	l = openT(t, dir, cfg)
	if got := fileBytes(t, p); len(got) != len(data) || l.LogEndOffset() != 5 {
		t.Fatalf("size %d leo %d", len(got), l.LogEndOffset())
	}
}
