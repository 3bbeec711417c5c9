// Package batch parses and edits Kafka record batches (magic 2, the
// "RecordBatch" format of Kafka 0.11+), without I/O.
//
// Layout of a batch (all integers big-endian):
//
//	offset  size  field
//	0       8     baseOffset
//	8       4     batchLength (bytes after this field)
//	12      4     partitionLeaderEpoch
//	16      1     magic (2)
//	17      4     crc (CRC-32C of bytes 21..end)
//	21      2     attributes
//	23      4     lastOffsetDelta
//	27      8     baseTimestamp
//	35      8     maxTimestamp
//	43      8     producerId
//	51      2     producerEpoch
//	53      4     baseSequence
//	57      4     records count
//	61      ...   records (compressed as a whole when attributes say so)
//
// The CRC covers attributes to the end, so the broker can rewrite the base
// offset and the partition leader epoch without re-hashing. Setting the max
// timestamp (LogAppendTime) changes covered bytes and recomputes the CRC.
//
// Every function here checks every length it relies on and never panics on
// any input.
package batch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Field offsets inside a batch.
const (
	offBaseOffset      = 0
	offBatchLength     = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21
	offLastOffsetDelta = 23
	offBaseTimestamp   = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offNumRecords      = 57
)

const (
	// HeaderSize is the size of a batch header: everything before the
	// records.
	HeaderSize = 61
	// LengthOffset is the size of the two fields not counted by
	// batchLength (baseOffset and batchLength itself).
	LengthOffset = 12
	// MinBatchLength is the smallest valid batchLength value (a batch with
	// a header and no records).
	MinBatchLength = HeaderSize - LengthOffset
	// Magic is the only supported format version.
	Magic = 2
)

// Attribute bits.
const (
	AttrCodecMask     = 0x07
	AttrTimestampType = 0x08 // 1 = LogAppendTime
	AttrTransactional = 0x10
	AttrControl       = 0x20
	AttrDeleteHorizon = 0x40
)

// Sentinel values of the idempotence fields.
const (
	NoSequence    int32 = -1
	NoProducerID  int64 = -1
	NoTimestamp   int64 = -1
	NoLeaderEpoch int32 = -1
)

// Errors returned by this package. Callers test them with errors.Is.
var (
	// ErrTruncated means the input is shorter than a header or than the
	// length the header declares.
	ErrTruncated = errors.New("batch: truncated")
	// ErrBadMagic means the magic byte is not 2.
	ErrBadMagic = errors.New("batch: unsupported magic")
	// ErrBadLength means batchLength is smaller than a header or larger
	// than the input allows.
	ErrBadLength = errors.New("batch: invalid length")
	// ErrBadCRC means the stored CRC does not match the bytes.
	ErrBadCRC = errors.New("batch: CRC mismatch")
	// ErrBadCount means lastOffsetDelta and the record count disagree, or
	// either is negative.
	ErrBadCount = errors.New("batch: inconsistent record count")
	// ErrBadRecords means the records section cannot be decoded.
	ErrBadRecords = errors.New("batch: malformed records")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// TimestampType is the timestamp type attribute of a batch.
type TimestampType int8

const (
	// CreateTime timestamps are set by the producer.
	CreateTime TimestampType = 0
	// LogAppendTime timestamps are set by the broker on append.
	LogAppendTime TimestampType = 1
)

// Header holds every field of a batch header.
type Header struct {
	BaseOffset           int64
	BatchLength          int32
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	BaseTimestamp        int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// ParseHeader parses the header at the start of b. It needs HeaderSize
// bytes and checks the magic and that batchLength is at least a header; it
// does not require the whole batch to be present (see Validate for that),
// so it can be used on a header read alone.
func ParseHeader(b []byte) (Header, error) {
	var h Header
	if len(b) < HeaderSize {
		return h, fmt.Errorf("%w: %d bytes, header needs %d", ErrTruncated, len(b), HeaderSize)
	}
	h.BaseOffset = int64(binary.BigEndian.Uint64(b[offBaseOffset:]))
	h.BatchLength = int32(binary.BigEndian.Uint32(b[offBatchLength:]))
	h.PartitionLeaderEpoch = int32(binary.BigEndian.Uint32(b[offLeaderEpoch:]))
	h.Magic = int8(b[offMagic])
	h.CRC = binary.BigEndian.Uint32(b[offCRC:])
	h.Attributes = int16(binary.BigEndian.Uint16(b[offAttributes:]))
	h.LastOffsetDelta = int32(binary.BigEndian.Uint32(b[offLastOffsetDelta:]))
	h.BaseTimestamp = int64(binary.BigEndian.Uint64(b[offBaseTimestamp:]))
	h.MaxTimestamp = int64(binary.BigEndian.Uint64(b[offMaxTimestamp:]))
	h.ProducerID = int64(binary.BigEndian.Uint64(b[offProducerID:]))
	h.ProducerEpoch = int16(binary.BigEndian.Uint16(b[offProducerEpoch:]))
	h.BaseSequence = int32(binary.BigEndian.Uint32(b[offBaseSequence:]))
	h.NumRecords = int32(binary.BigEndian.Uint32(b[offNumRecords:]))
	if h.Magic != Magic {
		return h, fmt.Errorf("%w: %d", ErrBadMagic, h.Magic)
	}
	if h.BatchLength < MinBatchLength {
		return h, fmt.Errorf("%w: batchLength %d < %d", ErrBadLength, h.BatchLength, MinBatchLength)
	}
	return h, nil
}

// Size is the total size of the batch in bytes (batchLength + 12).
func (h Header) Size() int64 { return int64(h.BatchLength) + LengthOffset }

// LastOffset is the offset of the last record: BaseOffset + LastOffsetDelta.
func (h Header) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// NextOffset is the offset following the batch.
func (h Header) NextOffset() int64 { return h.LastOffset() + 1 }

// Codec is the compression codec (attributes bits 0-2): 0 none, 1 gzip,
// 2 snappy, 3 lz4, 4 zstd.
func (h Header) Codec() int8 { return int8(h.Attributes & AttrCodecMask) }

// TimestampType reports the timestamp type attribute (bit 3).
func (h Header) TimestampType() TimestampType {
	if h.Attributes&AttrTimestampType != 0 {
		return LogAppendTime
	}
	return CreateTime
}

// IsLogAppendTime reports whether the timestamp type bit (3) is set.
func (h Header) IsLogAppendTime() bool { return h.Attributes&AttrTimestampType != 0 }

// IsTransactional reports whether the transactional bit (4) is set.
func (h Header) IsTransactional() bool { return h.Attributes&AttrTransactional != 0 }

// IsControl reports whether the control bit (5) is set.
func (h Header) IsControl() bool { return h.Attributes&AttrControl != 0 }

// HasDeleteHorizon reports whether the delete horizon bit (6) is set
// (baseTimestamp is then the delete horizon of a compacted batch).
func (h Header) HasDeleteHorizon() bool { return h.Attributes&AttrDeleteHorizon != 0 }

// HasProducerID reports whether the batch carries a producer id (>= 0).
func (h Header) HasProducerID() bool { return h.ProducerID >= 0 }

// LastSequence is the sequence number of the last record: BaseSequence +
// LastOffsetDelta, wrapping past MaxInt32 to 0 as Kafka does. It returns
// NoSequence when BaseSequence is NoSequence.
func (h Header) LastSequence() int32 {
	if h.BaseSequence == NoSequence {
		return NoSequence
	}
	return IncrementSequence(h.BaseSequence, h.LastOffsetDelta)
}

// IncrementSequence adds n (>= 0) to seq with Kafka's wrap: sequences run
// 0..MaxInt32 and then restart at 0.
func IncrementSequence(seq, n int32) int32 {
	const maxSeq = int64(1<<31 - 1)
	s := int64(seq) + int64(n)
	if s > maxSeq {
		s -= maxSeq + 1
	}
	return int32(s)
}

// CheckCount checks that the record count and lastOffsetDelta agree
// (count == lastOffsetDelta+1, count >= 1), as Kafka requires of batches a
// producer sends.
func (h Header) CheckCount() error {
	if h.NumRecords <= 0 || h.LastOffsetDelta < 0 || int64(h.NumRecords) != int64(h.LastOffsetDelta)+1 {
		return fmt.Errorf("%w: records %d, lastOffsetDelta %d", ErrBadCount, h.NumRecords, h.LastOffsetDelta)
	}
	return nil
}

// ComputeCRC returns the CRC-32C (Castagnoli) of b[21:], the bytes a batch's
// CRC covers (attributes to the end). b must be exactly one batch; it returns
// 0 if b is shorter than the CRC field's end.
func ComputeCRC(b []byte) uint32 {
	if len(b) < offAttributes {
		return 0
	}
	return crc32.Checksum(b[offAttributes:], castagnoli)
}

// VerifyCRC checks the header of the batch at the start of b, that b holds
// the whole batch, and that its stored CRC matches the covered bytes. Bytes
// after the batch are ignored.
func VerifyCRC(b []byte) error {
	h, err := ParseHeader(b)
	if err != nil {
		return err
	}
	if int64(len(b)) < h.Size() {
		return fmt.Errorf("%w: batch of %d bytes, have %d", ErrTruncated, h.Size(), len(b))
	}
	if got := ComputeCRC(b[:h.Size()]); got != h.CRC {
		return fmt.Errorf("%w: stored %08x, computed %08x", ErrBadCRC, h.CRC, got)
	}
	return nil
}

// Validate checks that b is exactly one well-formed batch: header, length
// equal to len(b), CRC, and record count consistency. It does not decode
// the records.
func Validate(b []byte) (Header, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return h, err
	}
	if int64(len(b)) != h.Size() {
		if int64(len(b)) < h.Size() {
			return h, fmt.Errorf("%w: batch of %d bytes, have %d", ErrTruncated, h.Size(), len(b))
		}
		return h, fmt.Errorf("%w: batch of %d bytes followed by %d more", ErrBadLength, h.Size(), int64(len(b))-h.Size())
	}
	if got := ComputeCRC(b); got != h.CRC {
		return h, fmt.Errorf("%w: stored %08x, computed %08x", ErrBadCRC, h.CRC, got)
	}
	if err := h.CheckCount(); err != nil {
		return h, err
	}
	return h, nil
}

// SetBaseOffset rewrites the base offset in place. The CRC does not cover
// it. It does nothing if b is too short.
func SetBaseOffset(b []byte, offset int64) {
	if len(b) >= offBaseOffset+8 {
		binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(offset))
	}
}

// SetPartitionLeaderEpoch rewrites the partition leader epoch in place. The
// CRC does not cover it. It does nothing if b is too short.
func SetPartitionLeaderEpoch(b []byte, epoch int32) {
	if len(b) >= offLeaderEpoch+4 {
		binary.BigEndian.PutUint32(b[offLeaderEpoch:], uint32(epoch))
	}
}

// SetLogAppendTime sets the max timestamp to ts and the LogAppendTime
// attribute bit, then recomputes the CRC, all in place. b must be exactly
// one batch (the CRC is computed over b[21:]). It does nothing if b is
// shorter than a header.
func SetLogAppendTime(b []byte, ts int64) {
	if len(b) < HeaderSize {
		return
	}
	attrs := binary.BigEndian.Uint16(b[offAttributes:])
	binary.BigEndian.PutUint16(b[offAttributes:], attrs|AttrTimestampType)
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(ts))
	binary.BigEndian.PutUint32(b[offCRC:], ComputeCRC(b))
}

// SetMaxTimestamp sets the max timestamp and the timestamp type bit and
// recomputes the CRC, in place (see SetLogAppendTime).
func SetMaxTimestamp(b []byte, tt TimestampType, ts int64) {
	if len(b) < HeaderSize {
		return
	}
	attrs := binary.BigEndian.Uint16(b[offAttributes:])
	if tt == LogAppendTime {
		attrs |= AttrTimestampType
	} else {
		attrs &^= AttrTimestampType
	}
	binary.BigEndian.PutUint16(b[offAttributes:], attrs)
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(ts))
	binary.BigEndian.PutUint32(b[offCRC:], ComputeCRC(b))
}
