// Package txn holds producer identity: producer id allocation now, the
// transaction coordinator later.
package txn

import (
	"sync"
)

// BlockSize is how many producer ids are reserved durably at a time.
const BlockSize = 1000

// Reserver durably reserves blocks of producer ids (meta.Store does).
type Reserver interface {
	ReserveProducerIDs(n int64) (int64, error)
}

// ProducerIDs hands out producer ids from durably reserved blocks, so that a
// crash may skip ids but never reuses one.
type ProducerIDs struct {
	store Reserver

	mu   sync.Mutex
	next int64
	end  int64 // exclusive end of the current block
}

// NewProducerIDs returns an allocator over store.
func NewProducerIDs(store Reserver) *ProducerIDs { return &ProducerIDs{store: store} }

// Next returns a producer id never handed out before.
func (p *ProducerIDs) Next() (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next >= p.end {
		start, err := p.store.ReserveProducerIDs(BlockSize)
		if err != nil {
			return -1, err
		}
		p.next, p.end = start, start+BlockSize
	}
	id := p.next
	p.next++
	return id, nil
}
