package batch

import (
	"encoding/binary"
	"fmt"
)

// Iterator walks a byte slice of concatenated batches (a produce request's
// records, a fetch response, a segment read). Only headers are parsed; CRCs
// are not checked.
//
//	it := batch.NewIterator(b)
//	for it.Next() {
//		use(it.Header(), it.Batch())
//	}
//	if it.Err() != nil { ... malformed header at it.Pos() ... }
//	if len(it.Tail()) > 0 { ... partial batch at the end ... }
//
// A partial batch at the end (fewer bytes than a header, or than the length
// its header declares) is not an error: Next returns false and Tail returns
// those bytes. A header with a bad magic or a length below the minimum
// stops the walk with Err set; Tail then returns the bytes from that header
// on.
type Iterator struct {
	b   []byte
	pos int // start of the next batch
	cur []byte
	hdr Header
	at  int // start of the current batch
	err error
}

// NewIterator returns an iterator over the batches in b.
func NewIterator(b []byte) *Iterator { return &Iterator{b: b} }

// Next advances to the next whole batch and reports whether there is one.
func (it *Iterator) Next() bool {
	it.cur = nil
	if it.err != nil || it.pos >= len(it.b) {
		return false
	}
	rest := it.b[it.pos:]
	if len(rest) < HeaderSize {
		// Too short to see the header; still reject a bad magic or
		// length when those fields are already visible.
		if len(rest) >= offLeaderEpoch {
			if l := int32(binary.BigEndian.Uint32(rest[offBatchLength:])); l < MinBatchLength {
				it.err = fmt.Errorf("%w: batchLength %d < %d", ErrBadLength, l, MinBatchLength)
			}
		}
		if len(rest) > offMagic && int8(rest[offMagic]) != Magic {
			it.err = fmt.Errorf("%w: %d", ErrBadMagic, int8(rest[offMagic]))
		}
		return false
	}
	h, err := ParseHeader(rest)
	if err != nil {
		it.err = err
		return false
	}
	size := h.Size()
	if int64(len(rest)) < size {
		return false
	}
	it.hdr = h
	it.cur = rest[:size:size]
	it.at = it.pos
	it.pos += int(size)
	return true
}

// Batch returns the current whole batch (a subslice of the input).
func (it *Iterator) Batch() []byte { return it.cur }

// Header returns the current batch's header.
func (it *Iterator) Header() Header { return it.hdr }

// Pos returns the position of the current batch in the input, or, after
// Next returned false, the position where the walk stopped.
func (it *Iterator) Pos() int {
	if it.cur == nil {
		return it.pos
	}
	return it.at
}

// Tail returns the bytes after the last whole batch returned: a partial
// batch, or the bytes from a malformed header on. It is empty when the
// input ended exactly on a batch boundary. Call it after Next returned
// false.
func (it *Iterator) Tail() []byte { return it.b[it.pos:] }

// Err returns the error that stopped the walk (ErrBadMagic, ErrBadLength),
// or nil.
func (it *Iterator) Err() error { return it.err }

// Split returns the whole batches at the start of b (subslices, not
// copies) and the bytes that follow them: a partial batch, or nothing. err
// is set when a header is malformed; batches holds those before it and tail
// starts at the bad header.
func Split(b []byte) (batches [][]byte, tail []byte, err error) {
	it := NewIterator(b)
	for it.Next() {
		batches = append(batches, it.Batch())
	}
	return batches, it.Tail(), it.Err()
}

// WholeBatchesEnd returns the length of the longest prefix of b made of
// whole batches (by header lengths only), and the number of such batches.
func WholeBatchesEnd(b []byte) (end int, n int) {
	it := NewIterator(b)
	for it.Next() {
		n++
	}
	if it.Err() != nil {
		return it.Pos(), n
	}
	return len(b) - len(it.Tail()), n
}
