package batch

import (
	"encoding/binary"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/compress"
)

// minRecordSize is the smallest encoding of a record: length, attributes,
// timestamp delta, offset delta, key length, value length and header count,
// one byte each.
const minRecordSize = 7

// Records decompresses (through compress.Decode) and decodes the records of
// the batch at the start of b. b must hold the whole batch; bytes after it
// are ignored. The CRC is not checked (see VerifyCRC). The records' keys,
// values and header values alias b (uncompressed) or the decompressed
// buffer.
//
// A record's absolute offset is BaseOffset + OffsetDelta; its timestamp is
// BaseTimestamp + TimestampDelta64 under CreateTime and MaxTimestamp under
// LogAppendTime (see Timestamp).
func Records(b []byte) ([]kmsg.Record, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return nil, err
	}
	if int64(len(b)) < h.Size() {
		return nil, fmt.Errorf("%w: batch of %d bytes, have %d", ErrTruncated, h.Size(), len(b))
	}
	if h.NumRecords < 0 {
		return nil, fmt.Errorf("%w: negative record count %d", ErrBadCount, h.NumRecords)
	}
	data := b[HeaderSize:h.Size()]
	if codec := h.Codec(); codec != compress.None {
		data, err = compress.Decode(codec, data)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadRecords, err)
		}
	}
	if int64(h.NumRecords) > int64(len(data)/minRecordSize) {
		return nil, fmt.Errorf("%w: %d records cannot fit in %d bytes", ErrBadRecords, h.NumRecords, len(data))
	}
	recs := make([]kmsg.Record, h.NumRecords)
	for i := range recs {
		length, n := binary.Varint(data)
		if n <= 0 || length < 0 || length > int64(len(data)-n) {
			return nil, fmt.Errorf("%w: record %d: bad length", ErrBadRecords, i)
		}
		end := n + int(length)
		if err := recs[i].ReadFrom(data[:end:end]); err != nil {
			return nil, fmt.Errorf("%w: record %d: %w", ErrBadRecords, i, err)
		}
		data = data[end:]
	}
	if len(data) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the last record", ErrBadRecords, len(data))
	}
	return recs, nil
}

// Timestamp returns the timestamp of record r of the batch with header h:
// the max timestamp under LogAppendTime, else BaseTimestamp + delta.
func (h Header) Timestamp(r *kmsg.Record) int64 {
	if h.IsLogAppendTime() {
		return h.MaxTimestamp
	}
	d := r.TimestampDelta64
	if d == 0 {
		d = int64(r.TimestampDelta)
	}
	return h.BaseTimestamp + d
}

// FindRecord decodes only the record at offset of the batch at the start
// of b (decompressing the batch when it must), skipping the others by
// their length prefixes; ok is false when the batch has no such record.
// It is for reading single records back (search hits) without decoding
// every record of a large batch.
func FindRecord(b []byte, offset int64) (rec kmsg.Record, h Header, ok bool, err error) {
	h, err = ParseHeader(b)
	if err != nil {
		return rec, h, false, err
	}
	if int64(len(b)) < h.Size() {
		return rec, h, false, fmt.Errorf("%w: batch of %d bytes, have %d", ErrTruncated, h.Size(), len(b))
	}
	if offset < h.BaseOffset || offset > h.LastOffset() {
		return rec, h, false, nil
	}
	data := b[HeaderSize:h.Size()]
	if codec := h.Codec(); codec != compress.None {
		if data, err = compress.Decode(codec, data); err != nil {
			return rec, h, false, fmt.Errorf("%w: %w", ErrBadRecords, err)
		}
	}
	for i := int32(0); i < h.NumRecords && len(data) > 0; i++ {
		length, n := binary.Varint(data)
		if n <= 0 || length < 0 || length > int64(len(data)-n) {
			return rec, h, false, fmt.Errorf("%w: record %d: bad length", ErrBadRecords, i)
		}
		end := n + int(length)
		body := data[n:end]
		// attributes (1 byte), timestampDelta, offsetDelta (varints)
		if len(body) > 1 {
			if _, m := binary.Varint(body[1:]); m > 0 {
				if delta, k := binary.Varint(body[1+m:]); k > 0 && h.BaseOffset+delta == offset {
					if err := rec.ReadFrom(data[:end:end]); err != nil {
						return rec, h, false, fmt.Errorf("%w: record %d: %w", ErrBadRecords, i, err)
					}
					return rec, h, true, nil
				}
			}
		}
		data = data[end:]
	}
	return rec, h, false, nil
}
