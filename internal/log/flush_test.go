package log

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chronik-streaming/chronik/internal/batch"
)

func TestGroupCommit(t *testing.T) {
	cfg := testConfig()
	cfg.Fsync = FsyncAlways
	l := openT(t, t.TempDir(), cfg)
	const producers, each = 64, 20
	var wg sync.WaitGroup
	errs := make(chan error, producers)
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				res, err := l.Append(simple(1, 100, 1))
				if err == nil {
					err = l.WaitDurable(context.Background(), res.LastOffset+1)
				}
				if err != nil {
					errs <- err
					return
				}
				if l.HighWatermark() <= res.LastOffset {
					errs <- ErrStorage
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	appends := int64(producers * each)
	fsyncs := l.FsyncCount()
	t.Logf("%d appends, %d fsyncs", appends, fsyncs)
	if fsyncs == 0 || fsyncs > appends/4 {
		t.Fatalf("%d fsyncs for %d appends: no group commit", fsyncs, appends)
	}
	if l.HighWatermark() != appends {
		t.Fatalf("hw %d", l.HighWatermark())
	}
}

func TestWaitDurableAfterClose(t *testing.T) {
	cfg := testConfig()
	cfg.Fsync = FsyncAlways
	l := openT(t, t.TempDir(), cfg)
	// Appends that nobody waited for are made durable by Close, and a
	// waiter racing with Close is answered.
	res, err := l.Append(simple(1, 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- l.WaitDurable(context.Background(), res.LastOffset+1) }()
	l.Close()
	if err := <-done; err != nil && err != ErrClosed {
		t.Fatal(err)
	}
	if l.HighWatermark() != 1 {
		t.Fatalf("hw %d after close", l.HighWatermark())
	}
}

func TestConcurrentAppendRead(t *testing.T) {
	for _, policy := range []FsyncPolicy{FsyncAlways, FsyncNever} {
		cfg := testConfig()
		cfg.Fsync = policy
		cfg.SegmentBytes = 8 << 10
		cfg.IndexIntervalBytes = 512
		cfg.RetentionBytes = 64 << 10
		cfg.RetentionMs = -1
		l := openT(t, t.TempDir(), cfg)
		var stop atomic.Bool
		var wg sync.WaitGroup
		var appended atomic.Int64
		for w := 0; w < 3; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 300; i++ {
					res, err := l.Append(simple(i%5+1, 50, int64(i)))
					if err != nil {
						t.Error(err)
						return
					}
					if i%10 == 0 {
						if err := l.WaitDurable(context.Background(), res.LastOffset+1); err != nil {
							t.Error(err)
							return
						}
					}
					appended.Add(1)
				}
			}()
		}
		var maint sync.WaitGroup
		maint.Add(1)
		go func() { // retention and rolls concurrently
			defer maint.Done()
			for !stop.Load() {
				l.Maintain(time.Now())
				time.Sleep(time.Millisecond)
			}
		}()
		var readers sync.WaitGroup
		for r := 0; r < 3; r++ {
			readers.Add(1)
			go func(r int) {
				defer readers.Done()
				off := int64(0)
				for !stop.Load() {
					res, err := l.Read(off, int32(1000*(r+1)), r == 0)
					if err == nil && len(res.Records) == 0 {
						select {
						case <-l.Notify():
						case <-time.After(time.Millisecond):
						}
						continue
					}
					if err != nil {
						if off < l.LogStartOffset() {
							off = l.LogStartOffset()
							continue
						}
						t.Error(err)
						return
					}
					it := batch.NewIterator(res.Records)
					for it.Next() {
						h, err := batch.Validate(it.Batch())
						if err != nil {
							t.Errorf("read a bad batch at %d: %v", off, err)
							return
						}
						if h.LastOffset() < off || h.NextOffset() > res.HighWatermark {
							t.Errorf("batch %d..%d for offset %d, hw %d", h.BaseOffset, h.LastOffset(), off, res.HighWatermark)
							return
						}
						off = h.NextOffset()
					}
					if len(it.Tail()) != 0 {
						t.Errorf("partial batch returned")
						return
					}
					_, _, _, _ = l.OffsetForTimestamp(100)
					_, _ = l.MaxTimestamp()
				}
			}(r)
		}
		wg.Wait()
		stop.Store(true)
		readers.Wait()
		maint.Wait()
		if l.LogEndOffset() < 3*300 {
			t.Fatalf("leo %d", l.LogEndOffset())
		}
	}
}

func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	setWrites, setSync := injectFaults(t, dir)
	cfg := testConfig()
	cfg.IndexIntervalBytes = 10
	l := openT(t, dir, cfg)
	var want [][]byte
	for i := 0; i < 3; i++ {
		b := simple(2, 30, 1)
		mustAppend(t, l, b)
		want = append(want, b)
	}
	p := segmentName(dir, 0, logSuffix)
	st, _ := os.Stat(p)
	sizeBefore := st.Size()
	idxBefore := fileBytes(t, segmentName(dir, 0, indexSuffix))

	setWrites(true)
	for i := 0; i < 3; i++ {
		_, err := l.Append(simple(2, 30, 1))
		expectErr(t, err, ErrStorage)
		if ErrorCode(err) != 56 {
			t.Fatalf("code %d", ErrorCode(err))
		}
	}
	st, _ = os.Stat(p)
	if st.Size() != sizeBefore || l.LogEndOffset() != 6 {
		t.Fatalf("failed append left %d bytes (had %d), leo %d", st.Size(), sizeBefore, l.LogEndOffset())
	}
	if string(fileBytes(t, segmentName(dir, 0, indexSuffix))) != string(idxBefore) {
		t.Fatal("index changed by a failed append")
	}
	equalBatches(t, readAllBatches(t, l), want)

	// Space is back.
	setWrites(false)
	b := simple(2, 30, 1)
	res := mustAppend(t, l, b)
	if res.BaseOffset != 6 {
		t.Fatalf("offset %d after recovery from ENOSPC", res.BaseOffset)
	}
	want = append(want, b)
	equalBatches(t, readAllBatches(t, l), want)

	// A failing fsync under FsyncAlways: WaitDurable reports it and the
	// high watermark does not move.
	cfg.Fsync = FsyncAlways
	l.SetConfig(cfg)
	setSync(true)
	res, err := l.Append(simple(1, 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	err = l.WaitDurable(context.Background(), res.LastOffset+1)
	expectErr(t, err, ErrStorage)
	if l.HighWatermark() != res.BaseOffset {
		t.Fatalf("hw %d moved past unsynced data", l.HighWatermark())
	}
	setSync(false)
	if err := l.WaitDurable(context.Background(), res.LastOffset+1); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l = openT(t, dir, cfg)
	if l.LogEndOffset() != 9 {
		t.Fatalf("leo %d after reopen", l.LogEndOffset())
	}
}
