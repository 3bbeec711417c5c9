package topics

import (
	"context"
	"errors"

	plog "github.com/chronik-streaming/chronik/internal/log"
)

// RemoteLog is the part of a partition's log held in object storage
// (tiered storage, KIP-405); internal/tiering implements it. Offsets below
// the local log start that it holds are read from it.
type RemoteLog interface {
	// StartOffset is the earliest offset held remotely; -1 when none.
	StartOffset() int64
	// EndOffset is one past the last offset held remotely; -1 when none.
	EndOffset() int64
	// Read returns whole batches from the one holding offset (or the next
	// one held), at most maxBytes (with minOne the first batch whole),
	// and with committed the aborted transactions overlapping them. It
	// returns within the context's deadline.
	Read(ctx context.Context, offset int64, maxBytes int32, minOne, committed bool) (records []byte, aborted []plog.AbortedTxn, err error)
	// OffsetForTimestamp finds the first record at or after ts.
	OffsetForTimestamp(ctx context.Context, ts int64) (offset, timestamp int64, found bool, err error)
}

// ErrRemoteUnavailable is returned when a remote read fails (the object
// store is down, slow, or holds a corrupt copy).
var ErrRemoteUnavailable = errors.New("remote storage unavailable")

// remoteHolder lets atomic.Pointer hold an interface.
type remoteHolder struct{ r RemoteLog }

// Remote returns the partition's remote log, nil when it is not tiered.
func (p *Partition) Remote() RemoteLog {
	if h := p.remote.Load(); h != nil {
		return h.r
	}
	return nil
}

// SetRemote attaches (or, with nil, detaches) the partition's remote log.
func (p *Partition) SetRemote(r RemoteLog) {
	if r == nil {
		p.remote.Store(nil)
		return
	}
	p.remote.Store(&remoteHolder{r})
}

// LogStartOffset is the earliest offset a client can read: the remote
// log's start when it holds data below the local log's.
func (p *Partition) LogStartOffset() int64 {
	local := p.Log.LogStartOffset()
	if r := p.Remote(); r != nil {
		if s := r.StartOffset(); s >= 0 && s < local {
			return s
		}
	}
	return local
}

// ReadsRemote reports whether offset is below the local log and held by
// the remote log.
func (p *Partition) ReadsRemote(offset int64) (RemoteLog, bool) {
	r := p.Remote()
	if r == nil || offset >= p.Log.LogStartOffset() {
		return nil, false
	}
	s := r.StartOffset()
	return r, s >= 0 && offset >= s
}
