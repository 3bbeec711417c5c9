package batch

// Down-conversion of record batches (magic 2, as the log stores them) into
// legacy message sets of magic 0 or 1, which Fetch v0-v3 carry. This follows
// Kafka's RecordsUtil.downConvert and MemoryRecordsBuilder for magic < 2:
//
//   - control batches (transaction markers) have no legacy form and are
//     skipped, as are batches without records;
//   - an uncompressed batch becomes one message per record, each at its
//     absolute offset (baseOffset + offsetDelta); records below the fetch
//     offset are dropped (some librdkafka versions rely on it);
//   - a compressed batch becomes one wrapper message of the same codec whose
//     value is the compressed set of inner messages, all records kept (the
//     client skips those below its fetch offset). The wrapper's offset is
//     the absolute offset of the last record; inner offsets are absolute in
//     magic 0 and relative to the first record (offset - firstOffset) in
//     magic 1, so that compacted gaps survive;
//   - magic 1 carries each record's timestamp and the LogAppendTime bit
//     (on the wrapper and on every message); under LogAppendTime every
//     message's timestamp is the batch's max timestamp, as
//     Record.timestamp() gives it; a compressed wrapper's timestamp is the
//     largest inner timestamp (or the log append time);
//   - record headers cannot be carried and are dropped; null and empty keys
//     and values stay apart;
//   - zstd has no legacy form (ErrZstdDownConvert).

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"sync"

	"github.com/pierrec/lz4/v4"

	"github.com/chronik-streaming/chronik/internal/compress"
)

// ErrZstdDownConvert is returned by DownConvert when it meets a
// zstd-compressed batch: messages of magic 0 and 1 cannot be zstd
// compressed. A Fetch v0-v3 handler answers it with
// UNSUPPORTED_COMPRESSION_TYPE (76) when nothing was converted before the
// zstd batch, and otherwise sends what was (see DownConvert).
var ErrZstdDownConvert = errors.New("batch: zstd-compressed batches cannot be down-converted to magic 0 or 1")

// DownConvert converts the concatenated record batches b (magic 2, as the
// log stores them and as a log read returns them) into a message set of the
// given magic (0 for Fetch v0-v1, 1 for Fetch v2-v3), as Kafka's
// down-conversion does (see the top of this file for the rules).
//
// A partial batch at the end of b is dropped. Batches whose last offset is
// below minOffset (the fetch offset) are skipped; in uncompressed batches
// the records below minOffset are dropped too, while a compressed batch is
// converted whole, as in Kafka. The result may be larger than b (legacy
// messages have more overhead than v2 records) and is empty (nil, no error)
// when nothing is left to convert. CRCs of the input batches are not
// checked; the output's CRCs are computed.
//
// A zstd batch stops the conversion: the result holds the messages
// converted from the batches before it (possibly none) and the error is
// ErrZstdDownConvert. Any other error (a malformed header, undecodable
// records, offsets that are negative or do not increase, a codec outside
// 0..4) returns a nil result; the error wraps the package's errors
// (ErrBadRecords, ErrBadMagic, ...).
func DownConvert(b []byte, magic int8, minOffset int64) ([]byte, error) {
	if magic != 0 && magic != 1 {
		return nil, fmt.Errorf("batch: cannot down-convert to magic %d", magic)
	}
	c := downConverter{magic: magic}
	it := NewIterator(b)
	for it.Next() {
		h := it.Header()
		if h.IsControl() || h.NumRecords == 0 || h.LastOffset() < minOffset {
			continue
		}
		switch codec := h.Codec(); codec {
		case compress.None, compress.Gzip, compress.Snappy, compress.LZ4:
		case compress.Zstd:
			return c.out, fmt.Errorf("%w (batch at offset %d)", ErrZstdDownConvert, h.BaseOffset)
		default:
			return nil, fmt.Errorf("%w: unknown compression codec %d (batch at offset %d)", ErrBadRecords, codec, h.BaseOffset)
		}
		if err := c.batch(it.Batch(), h, minOffset); err != nil {
			return nil, fmt.Errorf("%w (batch at offset %d)", err, h.BaseOffset)
		}
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("%w (at byte %d)", err, it.Pos())
	}
	return c.out, nil
}

// downConverter accumulates the output of DownConvert.
type downConverter struct {
	magic int8
	out   []byte
	inner []byte // scratch: the inner message set of a compressed batch
}

// batch appends the conversion of one batch (not control, not zstd).
func (c *downConverter) batch(b []byte, h Header, minOffset int64) error {
	recs, err := Records(b)
	if err != nil {
		return err
	}
	// Offsets: absolute, non-negative and increasing, as Kafka's builder
	// requires (a corrupt log could break it; the output would then be
	// ambiguous).
	if h.BaseOffset < 0 {
		return fmt.Errorf("%w: negative base offset %d", ErrBadRecords, h.BaseOffset)
	}
	prev := int64(-1)
	for i := range recs {
		d := int64(recs[i].OffsetDelta)
		if d <= prev || h.BaseOffset+d < h.BaseOffset {
			return fmt.Errorf("%w: record %d has offset delta %d after %d", ErrBadRecords, i, d, prev)
		}
		prev = d
	}

	lat := h.IsLogAppendTime()
	var attrs int8
	if lat && c.magic == 1 {
		attrs = legacyAttrLAT
	}
	ts := func(i int) int64 {
		if c.magic == 0 {
			return 0 // not written
		}
		t := h.Timestamp(&recs[i])
		if t < NoTimestamp {
			// Legacy messages only allow -1 below 0 (Kafka's builder
			// refuses other negative timestamps).
			t = NoTimestamp
		}
		return t
	}
	overhead := legacyLogOverhead + legacyOverheadV0
	if c.magic == 1 {
		overhead = legacyLogOverhead + legacyOverheadV1
	}

	codec := h.Codec()
	if codec == compress.None {
		size := 0
		for i := range recs {
			size += overhead + len(recs[i].Key) + len(recs[i].Value)
		}
		c.out = growBytes(c.out, size)
		for i := range recs {
			off := h.BaseOffset + int64(recs[i].OffsetDelta)
			if off < minOffset {
				continue
			}
			c.out = appendLegacyMessage(c.out, off, c.magic, attrs, ts(i), recs[i].Key, recs[i].Value)
		}
		return nil
	}

	// Compressed: one wrapper message holding the inner message set.
	first := h.BaseOffset + int64(recs[0].OffsetDelta)
	last := h.BaseOffset + int64(recs[len(recs)-1].OffsetDelta)
	maxTS := NoTimestamp
	size := 0
	for i := range recs {
		size += overhead + len(recs[i].Key) + len(recs[i].Value)
		maxTS = max(maxTS, ts(i))
	}
	inner := growBytes(c.inner[:0], size)
	for i := range recs {
		off := h.BaseOffset + int64(recs[i].OffsetDelta)
		if c.magic == 1 {
			off -= first
		}
		inner = appendLegacyMessage(inner, off, c.magic, attrs, ts(i), recs[i].Key, recs[i].Value)
	}
	c.inner = inner

	start := len(c.out)
	out := append(c.out, make([]byte, overhead)...) // wrapper header, filled below
	valueAt := len(out)
	switch codec {
	case compress.Snappy:
		// Kafka's Java encoder writes the xerial framing.
		out = compress.AppendXerial(out, inner)
	case compress.LZ4:
		out = appendKafkaLZ4(out, inner, c.magic == 0)
	default:
		if out, err = compress.Encode(codec, inner, out); err != nil {
			return fmt.Errorf("batch: compressing with %s: %w", compress.Name(codec), err)
		}
	}
	valueLen := len(out) - valueAt
	msgSize := len(out) - start - legacyLogOverhead
	if valueLen > math.MaxInt32 || msgSize > math.MaxInt32 {
		return fmt.Errorf("%w: converted wrapper of %d bytes is too large", ErrBadRecords, valueLen)
	}
	wrapperTS := maxTS // under LogAppendTime every inner timestamp is it already
	w := out[start:valueAt]
	be := binary.BigEndian
	be.PutUint64(w, uint64(last))
	be.PutUint32(w[8:], uint32(msgSize))
	p := legacyLogOverhead + 4
	w[p] = byte(c.magic)
	w[p+1] = byte(attrs | codec)
	p += 2
	if c.magic == 1 {
		be.PutUint64(w[p:], uint64(wrapperTS))
		p += 8
	}
	be.PutUint32(w[p:], math.MaxUint32) // null key
	be.PutUint32(w[p+4:], uint32(valueLen))
	be.PutUint32(w[legacyLogOverhead:], crc32.ChecksumIEEE(out[start+legacyLogOverhead+4:]))
	c.out = out
	return nil
}

// growBytes returns b with room for n more bytes.
func growBytes(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), len(b)+max(n, len(b)))
	copy(nb, b)
	return nb
}

// appendLegacyMessage appends one legacy message (log overhead included)
// with the given offset, magic, attributes and, for magic 1, timestamp. A
// nil key or value is written as null.
func appendLegacyMessage(dst []byte, offset int64, magic, attrs int8, ts int64, key, value []byte) []byte {
	start := len(dst)
	dst = binary.BigEndian.AppendUint64(dst, uint64(offset))
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0) // size, crc
	dst = append(dst, byte(magic), byte(attrs))
	if magic == 1 {
		dst = binary.BigEndian.AppendUint64(dst, uint64(ts))
	}
	dst = appendLegacyBytes(dst, key)
	dst = appendLegacyBytes(dst, value)
	msg := dst[start+legacyLogOverhead:]
	binary.BigEndian.PutUint32(dst[start+8:], uint32(len(msg)))
	binary.BigEndian.PutUint32(msg, crc32.ChecksumIEEE(msg[4:]))
	return dst
}

// appendLegacyBytes appends an int32-length-prefixed byte string (-1: null).
func appendLegacyBytes(dst, p []byte) []byte {
	if p == nil {
		return binary.BigEndian.AppendUint32(dst, math.MaxUint32)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(p)))
	return append(dst, p...)
}

// Kafka's LZ4 framing (KafkaLZ4BlockOutputStream): FLG with version 1 and
// independent blocks only (no block or content checksum, no content size,
// which the clients of Kafka 0.8-0.9 refuse), 64 KiB blocks, an end mark.
const (
	kafkaLZ4FLG       = 0x60 // version 01, block independence
	kafkaLZ4BD        = 0x40 // 64 KiB maximum block size
	kafkaLZ4BlockSize = 64 << 10
	lz4Uncompressed   = 0x80000000 // block size bit: stored as is
)

var lz4Compressors = sync.Pool{New: func() any { return new(lz4.Compressor) }}

// appendKafkaLZ4 appends src as one LZ4 frame in Kafka's framing. With
// brokenHC the header checksum is computed from the magic number on, as
// Kafka writes it for magic 0 messages (KAFKA-3160: the clients of Kafka
// 0.8-0.9 expect that value); otherwise over the descriptor as the LZ4
// frame format specifies.
func appendKafkaLZ4(dst, src []byte, brokenHC bool) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, lz4FrameMagic)
	dst = append(dst, kafkaLZ4FLG, kafkaLZ4BD)
	hcFrom := start + 4
	if brokenHC {
		hcFrom = start
	}
	dst = append(dst, byte(xxh32(dst[hcFrom:], 0)>>8))

	comp := lz4Compressors.Get().(*lz4.Compressor)
	defer lz4Compressors.Put(comp)
	for len(src) > 0 {
		block := src[:min(len(src), kafkaLZ4BlockSize)]
		src = src[len(block):]
		at := len(dst)
		dst = growBytes(dst, 4+lz4.CompressBlockBound(len(block)))
		room := dst[at+4 : at+4+lz4.CompressBlockBound(len(block))]
		n, err := comp.CompressBlock(block, room)
		if err != nil || n <= 0 || n >= len(block) {
			// Incompressible (or not compressed): store it as is.
			dst = binary.LittleEndian.AppendUint32(dst, uint32(len(block))|lz4Uncompressed)
			dst = append(dst, block...)
			continue
		}
		dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
		dst = dst[:len(dst)+n]
	}
	return binary.LittleEndian.AppendUint32(dst, 0) // end mark
}
