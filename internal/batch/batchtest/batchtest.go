// Package batchtest builds Kafka record batches (magic 2) for tests, through
// kmsg's own encoders, with a correct length and CRC.
package batchtest

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/compress"
)

// Options describe a batch. The zero value (plus Values or N) is a
// non-idempotent, uncompressed CreateTime batch with timestamps 0.
type Options struct {
	// Values are the record values; when nil, N records of ValueSize
	// bytes are generated.
	Values    [][]byte
	Keys      [][]byte
	N         int
	ValueSize int

	Codec int8

	// BaseTimestamp is the first record's timestamp; TimestampDeltas
	// (optional) give each record's delta from it. MaxTimestamp is
	// computed unless set.
	BaseTimestamp   int64
	TimestampDeltas []int64
	MaxTimestamp    int64

	// Idempotent sets ProducerID, ProducerEpoch and BaseSequence; when
	// false they are -1.
	Idempotent    bool
	ProducerID    int64
	ProducerEpoch int16
	BaseSequence  int32

	Transactional bool
	Control       bool
	LogAppendTime bool

	BaseOffset  int64
	LeaderEpoch int32
}

// Build encodes the batch described by o. It panics on an impossible
// option (a test bug).
func Build(o Options) []byte {
	values := o.Values
	if values == nil {
		for i := 0; i < o.N; i++ {
			v := make([]byte, o.ValueSize)
			for j := range v {
				v[j] = byte('a' + (i+j)%26)
			}
			values = append(values, v)
		}
	}
	if len(values) == 0 {
		panic("batchtest: a batch needs at least one record")
	}
	var recs []byte
	maxTS := o.BaseTimestamp
	for i, v := range values {
		var d int64
		if i < len(o.TimestampDeltas) {
			d = o.TimestampDeltas[i]
		}
		if o.BaseTimestamp+d > maxTS {
			maxTS = o.BaseTimestamp + d
		}
		r := kmsg.Record{TimestampDelta64: d, OffsetDelta: int32(i), Value: v}
		if i < len(o.Keys) {
			r.Key = o.Keys[i]
		}
		body := r.AppendTo(nil) // with Length 0: a one-byte varint prefix
		r.Length = int32(len(body) - 1)
		recs = r.AppendTo(recs)
	}
	if o.MaxTimestamp != 0 {
		maxTS = o.MaxTimestamp
	}
	if o.Codec != compress.None {
		c, err := compress.Encode(o.Codec, recs, nil)
		if err != nil {
			panic(fmt.Sprintf("batchtest: compress: %v", err))
		}
		recs = c
	}
	attrs := int16(o.Codec)
	if o.LogAppendTime {
		attrs |= 0x08
	}
	if o.Transactional {
		attrs |= 0x10
	}
	if o.Control {
		attrs |= 0x20
	}
	rb := kmsg.RecordBatch{
		FirstOffset:          o.BaseOffset,
		PartitionLeaderEpoch: o.LeaderEpoch,
		Magic:                2,
		Attributes:           attrs,
		LastOffsetDelta:      int32(len(values) - 1),
		FirstTimestamp:       o.BaseTimestamp,
		MaxTimestamp:         maxTS,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           int32(len(values)),
		Records:              recs,
	}
	if o.Idempotent {
		rb.ProducerID, rb.ProducerEpoch, rb.FirstSequence = o.ProducerID, o.ProducerEpoch, o.BaseSequence
	}
	b := rb.AppendTo(nil)
	Fix(b)
	return b
}

// Fix rewrites the batch length and CRC of the single batch b in place (for
// tests that edit a batch's header).
func Fix(b []byte) {
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
}

// Simple returns an uncompressed non-idempotent batch of n records of
// valueSize bytes with timestamps ts.
func Simple(n, valueSize int, ts int64) []byte {
	return Build(Options{N: n, ValueSize: valueSize, BaseTimestamp: ts})
}
