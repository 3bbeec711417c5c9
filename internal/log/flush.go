package log

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Durability.
//
// Each log runs one flusher goroutine. Under FsyncAlways the high watermark
// advances only when the flusher has fsynced the bytes below it: Append
// writes without syncing and wakes the flusher; WaitDurable joins the next
// flush round. A round snapshots the end of the written data, fsyncs once,
// then moves the high watermark there, so one fsync serves every append
// written before the round started (group commit): with many producers
// waiting, the number of fsyncs stays far below the number of appends.
// Under FsyncInterval the high watermark moves on append and the flusher
// fsyncs every FlushIntervalMs; under FsyncNever only a roll or Close
// fsyncs.
//
// Segments are fsynced whole (log and indexes) when rolled, so a round only
// syncs the active segment's .log file.

// flushRound is one fsync serving every request made before it started.
type flushRound struct {
	done chan struct{}
	err  error
}

type flusher struct {
	l     *Log
	kick  chan struct{} // buffered: a round is wanted
	reset chan struct{} // buffered: the config changed
	stop  chan struct{}
	done  chan struct{}

	mu      sync.Mutex
	next    *flushRound // round that requests join now; nil when none
	stopped bool
}

func newFlusher(l *Log) *flusher {
	f := &flusher{
		l: l, kick: make(chan struct{}, 1), reset: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	go f.run()
	return f
}

func (f *flusher) run() {
	defer close(f.done)
	var ticker *time.Ticker
	var tick <-chan time.Time
	setTicker := func() {
		if ticker != nil {
			ticker.Stop()
			ticker, tick = nil, nil
		}
		if cfg := f.l.config(); cfg.Fsync == FsyncInterval {
			ticker = time.NewTicker(time.Duration(cfg.FlushIntervalMs) * time.Millisecond)
			tick = ticker.C
		}
	}
	setTicker()
	defer func() {
		if ticker != nil {
			ticker.Stop()
		}
	}()
	for {
		select {
		case <-f.kick:
			f.round()
		case <-tick:
			f.round()
		case <-f.reset:
			setTicker()
		case <-f.stop:
			return
		}
	}
}

// round runs one flush and completes the requests that joined it.
func (f *flusher) round() {
	f.mu.Lock()
	r := f.next
	f.next = nil
	f.mu.Unlock()
	err := f.l.syncActive()
	if r != nil {
		r.err = err
		close(r.done)
	}
}

// request joins the next round (starting one if needed) and returns it.
func (f *flusher) request() *flushRound {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		r := &flushRound{done: make(chan struct{}), err: ErrClosed}
		close(r.done)
		return r
	}
	if f.next == nil {
		f.next = &flushRound{done: make(chan struct{})}
	}
	r := f.next
	f.wake()
	return r
}

// wake asks for a round without waiting for it.
func (f *flusher) wake() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

func (f *flusher) configChanged() {
	select {
	case f.reset <- struct{}{}:
	default:
	}
}

// shutdown stops the goroutine; requests still pending fail with ErrClosed
// unless the caller's final flush (Close) satisfies them first.
func (f *flusher) shutdown() {
	f.mu.Lock()
	if f.stopped {
		f.mu.Unlock()
		return
	}
	f.stopped = true
	f.mu.Unlock()
	close(f.stop)
	<-f.done
	f.mu.Lock()
	r := f.next
	f.next = nil
	f.mu.Unlock()
	if r != nil {
		r.err = ErrClosed
		close(r.done)
	}
}

// syncActive fsyncs the active segment's data written so far and, under
// FsyncAlways, advances the high watermark over it. It skips the fsync when
// nothing was written since the last one.
func (l *Log) syncActive() error {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.state.RLock()
	if l.isClosed() {
		l.state.RUnlock()
		return ErrClosed
	}
	seg := l.segs[len(l.segs)-1]
	pos, off := seg.size, l.leo.Load()
	l.state.RUnlock()
	if off > l.syncedOffset.Load() {
		err := datasync(seg.log)
		l.fsyncs.Add(1)
		if err != nil {
			l.logger.Error("fsync failed", "file", seg.log.Name(), "err", err)
			return fmt.Errorf("%w: fsync %s: %w", ErrStorage, seg.log.Name(), err)
		}
		l.markSynced(off)
	}
	l.state.Lock()
	advanced := l.advanceHWLocked(off, seg, pos)
	l.state.Unlock()
	if advanced {
		l.wake()
	}
	return nil
}

// markSynced records that everything below off is on stable storage.
func (l *Log) markSynced(off int64) {
	for {
		cur := l.syncedOffset.Load()
		if off <= cur || l.syncedOffset.CompareAndSwap(cur, off) {
			return
		}
	}
}

// WaitDurable returns nil once HighWatermark() >= offset, that is once
// every record below offset is readable (and, under FsyncAlways, fsynced).
// Under FsyncAlways it makes the flusher fsync if needed; concurrent callers
// share fsyncs (group commit). A producer with acks != 0 appends, then waits
// for LastOffset+1. It returns ctx.Err() when ctx ends first, ErrStorage
// when the fsync fails, and ErrClosed when the log is closed before the
// offset became durable.
func (l *Log) WaitDurable(ctx context.Context, offset int64) error {
	for {
		notify := l.Notify()
		if l.hw.Load() >= offset {
			return nil
		}
		if l.isClosed() {
			return ErrClosed
		}
		if offset > l.leo.Load() {
			// Not appended yet: wait for the high watermark to move.
			select {
			case <-notify:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		r := l.flusher.request()
		select {
		case <-r.done:
			if r.err != nil {
				if l.hw.Load() >= offset {
					return nil
				}
				return r.err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// FsyncCount returns how many times the log fsynced segment data (flush
// rounds, rolls and Close), for tests and metrics.
func (l *Log) FsyncCount() int64 { return l.fsyncs.Load() }
