package test

import (
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik-streaming/chronik/internal/batch/batchtest"
)

// TestDiskFull fills a small tmpfs under a running broker: producers get
// KAFKA_STORAGE_ERROR, /ready reports not ready, nothing acknowledged is
// lost or torn, and producing resumes once space returns.
func TestDiskFull(t *testing.T) {
	skipIfShort(t)
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", dir).CombinedOutput(); err != nil {
		if os.Getenv("CHRONIK_REQUIRE_CLIENTS") != "" && os.Geteuid() == 0 {
			t.Fatalf("mount tmpfs: %v %s", err, out)
		}
		t.Skipf("cannot mount a tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })

	tb := startBroker(t, filepath.Join(dir, "data"), nil)
	createTopic(t, tb.admin(), "full", 1, nil)
	cl := tb.client()
	ready := func() int {
		resp, err := http.Get("http://" + tb.b.HTTPAddr() + "/ready")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := ready(); code != 200 {
		t.Fatalf("/ready = %d before filling the disk", code)
	}

	// Leave a little room, then produce 64 KiB batches until the disk is full.
	filler := filepath.Join(dir, "filler")
	fill := exec.Command("dd", "if=/dev/zero", "of="+filler, "bs=64k", "count=100")
	fill.Run() // fails with "no space" once full, which is the point
	os.Truncate(filler, 0)
	exec.Command("dd", "if=/dev/zero", "of="+filler, "bs=4k", "count=10000").Run()
	st, _ := os.Stat(filler)
	os.Truncate(filler, st.Size()-300<<10) // ~300 KiB free

	acked := 0
	var failed bool
	for i := 0; i < 50; i++ {
		r := produceRaw(t, cl, "full", -1, batchtest.Build(batchtest.Options{N: 4, ValueSize: 16 << 10}))
		if r.ErrorCode == 0 {
			if r.BaseOffset != int64(acked*4) {
				t.Fatalf("batch %d at offset %d, want %d", i, r.BaseOffset, acked*4)
			}
			acked++
			continue
		}
		if err := kerr.ErrorForCode(r.ErrorCode); !errors.Is(err, kerr.KafkaStorageError) {
			t.Fatalf("produce on a full disk: %v, want KAFKA_STORAGE_ERROR", err)
		}
		failed = true
		break
	}
	if !failed {
		t.Fatal("the disk never filled up")
	}
	if code := ready(); code != 503 {
		t.Fatalf("/ready = %d on a full disk, want 503", code)
	}

	os.Remove(filler)
	if code := ready(); code != 200 {
		t.Fatalf("/ready = %d after space returned", code)
	}
	r := produceRaw(t, cl, "full", -1, batchtest.Build(batchtest.Options{N: 4, ValueSize: 16 << 10}))
	if r.ErrorCode != 0 || r.BaseOffset != int64(acked*4) {
		t.Fatalf("produce after space returned: %+v (want offset %d)", r, acked*4)
	}
	got := consumeAll(t, tb.addr, "full", (acked+1)*4)
	for i, rec := range got {
		if rec.Offset != int64(i) || len(rec.Value) != 16<<10 {
			t.Fatalf("record %d: offset %d, %d bytes", i, rec.Offset, len(rec.Value))
		}
	}
	// And after a restart the log is whole.
	tb = tb.restart()
	if got := consumeAll(t, tb.addr, "full", (acked+1)*4); len(got) != (acked+1)*4 {
		t.Fatalf("after restart: %d records", len(got))
	}
}
