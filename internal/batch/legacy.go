package batch

// Up-conversion of legacy message sets (magic 0 and 1, the formats of Kafka
// before 0.11, carried by Produce v0-v2) into one record batch of magic 2.
//
// Layout of a legacy message in a message set (all integers big-endian):
//
//	offset  int64
//	size    int32   bytes after this field
//	crc     uint32  CRC-32 (IEEE) of magic .. end of message
//	magic   int8    0 or 1
//	attrs   int8    bits 0-2 codec; bit 3 (magic 1) LogAppendTime
//	ts      int64   magic 1 only
//	key     int32 length (-1 = null), bytes
//	value   int32 length (-1 = null), bytes
//
// A compressed message set is a single "wrapper" message whose attributes
// name a codec and whose value is the compressed message set of the inner
// messages. Inner offsets are relative (0..n-1) in magic 1 and absolute (and
// meaningless for a producer) in magic 0; only their order matters here.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/bits"

	"github.com/chronik-streaming/chronik/internal/compress"
)

// ErrCorruptLegacy is wrapped by every error ConvertLegacy returns: the
// message set is malformed or uses something the legacy formats do not
// allow. A produce handler answers it with CORRUPT_MESSAGE (2). When the
// decompressed size exceeded the limit, the error also wraps
// compress.ErrTooLarge.
var ErrCorruptLegacy = errors.New("batch: corrupt legacy message set")

// DefaultLegacyMaxDecoded bounds the decompressed size of a legacy wrapper
// message's value in ConvertLegacy.
const DefaultLegacyMaxDecoded = 64 << 20

// Legacy message format constants.
const (
	legacyLogOverhead = 12 // offset int64 + size int32
	legacyOverheadV0  = 14 // crc 4, magic 1, attrs 1, key len 4, value len 4
	legacyOverheadV1  = 22 // plus timestamp 8
	legacyAttrLAT     = 0x08
)

// legacyMessage is one parsed legacy message. key and value alias the input
// and are nil when null (an empty one is non-nil).
type legacyMessage struct {
	offset    int64
	magic     int8
	attrs     int8
	timestamp int64 // magic 1 only
	key       []byte
	value     []byte
}

func (m *legacyMessage) codec() int8 { return m.attrs & compress.CodecMask }

func legacyErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorruptLegacy}, args...)...)
}

// ConvertLegacy converts a message set of magic 0 or 1 messages (as Produce
// v0-v2 carry them, possibly with compressed wrapper messages) into exactly
// one record batch of magic 2 holding the same records in order, with offset
// deltas 0..n-1. now is the broker time in ms, used where Kafka would stamp
// LogAppendTime.
//
// Decompressed data is bounded by DefaultLegacyMaxDecoded; see
// ConvertLegacyLimit. The result is a new slice (it does not alias b), with
// baseOffset 0 and partitionLeaderEpoch 0 for the log to rewrite.
func ConvertLegacy(b []byte, now int64) ([]byte, error) {
	return ConvertLegacyLimit(b, now, DefaultLegacyMaxDecoded)
}

// ConvertLegacyLimit is ConvertLegacy with maxDecoded bounding the size of a
// compressed wrapper's decompressed value (<= 0 means
// DefaultLegacyMaxDecoded). Exceeding it is an error wrapping both
// ErrCorruptLegacy and compress.ErrTooLarge.
//
// The rules follow Kafka's LogValidator and legacy record iterators:
//   - every message's CRC, magic (0 or 1) and lengths are checked; all
//     messages of the set must share one magic, inner messages included;
//     a partial message at the end is an error, as is an empty set;
//   - a compressed wrapper (gzip, snappy raw or xerial, lz4) must be the
//     only message of the set, must have a non-null value holding at least
//     one inner message, and its inner messages must not be compressed;
//     zstd and codecs 5-7 are rejected; for magic 1, a non-zero wrapper
//     offset below the last inner offset is rejected;
//   - magic 0 LZ4 frames with the header checksum of Kafka 0.8-0.9 clients
//     (computed over the magic number too) are accepted;
//   - the batch is compressed with the wrapper's codec (snappy keeps the
//     wrapper's raw or xerial framing), or uncompressed;
//   - producer id, epoch and base sequence are -1; not transactional, not
//     control; records have no headers; null and empty keys and values are
//     kept apart;
//   - timestamps: magic 0 records have -1 (no timestamp) and so has the
//     batch; magic 1 records keep their own timestamps (CreateTime), the
//     base timestamp is the first one's and the max timestamp the largest,
//     floored at -1 as Kafka's builder does;
//   - LogAppendTime: if the wrapper (or, uncompressed, any magic 1 message)
//     has the attribute, the batch gets it and maxTimestamp = now; inner
//     records of such a wrapper carry the wrapper's timestamp, as Kafka's
//     legacy iterator gives them, uncompressed ones keep their own. (Kafka
//     itself takes the timestamp type of the converted batch from the
//     topic's message.timestamp.type; the caller applies that afterwards.)
func ConvertLegacyLimit(b []byte, now int64, maxDecoded int) ([]byte, error) {
	if maxDecoded <= 0 {
		maxDecoded = DefaultLegacyMaxDecoded
	}
	// Pass 1 over the top-level messages: CRCs, lengths, one magic, codec.
	// Messages are visited in place, never collected, so memory stays
	// proportional to the input (and the decoded wrapper), not to the
	// number of messages.
	var (
		magic int8
		codec = compress.None
		lat   bool // LogAppendTime requested
		first legacyMessage
	)
	n, err := walkLegacySet(b, "message set", true, func(i int, m *legacyMessage) error {
		if i == 0 {
			magic, first = m.magic, *m
		} else if m.magic != magic {
			return legacyErr("message %d has magic %d, the first has %d", i, m.magic, magic)
		}
		if c := m.codec(); c != compress.None {
			codec = c
		}
		if m.magic == 1 && m.attrs&legacyAttrLAT != 0 {
			lat = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, legacyErr("empty message set")
	}

	records, what := b, "message set"
	wrapped := codec != compress.None
	xerial := false
	if wrapped {
		if n != 1 {
			return nil, legacyErr("a compressed wrapper must be the only message of the set, have %d messages", n)
		}
		switch codec {
		case compress.Gzip, compress.Snappy, compress.LZ4:
		case compress.Zstd:
			return nil, legacyErr("zstd compression is not valid in magic %d messages", magic)
		default:
			return nil, legacyErr("unknown compression codec %d", codec)
		}
		if first.value == nil {
			return nil, legacyErr("compressed wrapper message with a null value")
		}
		src := first.value
		if codec == compress.LZ4 && magic == 0 {
			src = fixLZ4HeaderChecksum(src)
		}
		xerial = codec == compress.Snappy && compress.IsXerial(src)
		data, err := compress.DecodeLimit(codec, src, maxDecoded)
		if err != nil {
			return nil, fmt.Errorf("%w: decompressing %s wrapper: %w", ErrCorruptLegacy, compress.Name(codec), err)
		}
		records, what = data, "inner message set"
	}

	ts := func(m *legacyMessage) int64 {
		switch {
		case magic == 0:
			return NoTimestamp
		case lat && wrapped:
			return first.timestamp // inner records carry the wrapper's timestamp
		}
		return m.timestamp
	}

	// Pass 2 over the records (inner messages when wrapped, whose CRCs are
	// checked here): validation and the sizes and timestamps of the batch.
	var (
		baseTS     int64
		maxTS      = NoTimestamp // Kafka's builder starts from NO_TIMESTAMP
		size       int
		lastOffset int64
	)
	n, err = walkLegacySet(records, what, wrapped, func(i int, m *legacyMessage) error {
		if wrapped {
			if m.magic != magic {
				return legacyErr("inner message %d has magic %d, the wrapper has %d", i, m.magic, magic)
			}
			if m.codec() != compress.None {
				return legacyErr("inner message %d is compressed (codec %d)", i, m.codec())
			}
		}
		t := ts(m)
		if i == 0 {
			baseTS = t
		}
		maxTS = max(maxTS, t)
		size += recordSize(m, t-baseTS, i)
		lastOffset = m.offset
		return nil
	})
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, legacyErr("compressed wrapper holds no inner messages")
	}
	if n > math.MaxInt32 {
		return nil, legacyErr("%d messages", n)
	}
	if wrapped && magic == 1 && first.offset != 0 && first.offset < lastOffset {
		return nil, legacyErr("wrapper offset %d is below the last inner offset %d and not 0", first.offset, lastOffset)
	}
	if lat {
		maxTS = now
	}

	// Pass 3: encode the records.
	appendRecords := func(dst []byte) []byte {
		_, _ = walkLegacySet(records, what, false, func(i int, m *legacyMessage) error {
			dst = appendLegacyRecord(dst, m, ts(m)-baseTS, i)
			return nil
		})
		return dst
	}
	var out []byte
	if !wrapped {
		out = appendRecords(make([]byte, HeaderSize, HeaderSize+size))
	} else {
		recs := appendRecords(make([]byte, 0, size))
		out = make([]byte, HeaderSize, HeaderSize+len(recs)/2+64)
		if xerial {
			out = compress.AppendXerial(out, recs)
		} else {
			out, err = compress.Encode(codec, recs, out)
			if err != nil {
				return nil, fmt.Errorf("%w: recompressing with %s: %w", ErrCorruptLegacy, compress.Name(codec), err)
			}
		}
	}
	if int64(len(out))-LengthOffset > math.MaxInt32 {
		return nil, legacyErr("converted batch of %d bytes is too large", len(out))
	}

	attrs := uint16(codec)
	if lat {
		attrs |= AttrTimestampType
	}
	be := binary.BigEndian
	be.PutUint64(out[offBaseOffset:], 0)
	be.PutUint32(out[offBatchLength:], uint32(len(out)-LengthOffset))
	be.PutUint32(out[offLeaderEpoch:], 0)
	out[offMagic] = Magic
	be.PutUint16(out[offAttributes:], attrs)
	be.PutUint32(out[offLastOffsetDelta:], uint32(n-1))
	be.PutUint64(out[offBaseTimestamp:], uint64(baseTS))
	be.PutUint64(out[offMaxTimestamp:], uint64(maxTS))
	noPID, noSeq := NoProducerID, NoSequence
	be.PutUint64(out[offProducerID:], uint64(noPID))
	be.PutUint16(out[offProducerEpoch:], 0xffff) // epoch -1
	be.PutUint32(out[offBaseSequence:], uint32(noSeq))
	be.PutUint32(out[offNumRecords:], uint32(n))
	be.PutUint32(out[offCRC:], ComputeCRC(out))
	return out, nil
}

// recordBodySize is the size of a v2 record after its length prefix.
func recordBodySize(m *legacyMessage, tsDelta int64, offsetDelta int) int {
	n := 1 + varintLen(tsDelta) + varintLen(int64(offsetDelta))
	n += bytesFieldSize(m.key) + bytesFieldSize(m.value)
	return n + 1 // header count 0
}

func recordSize(m *legacyMessage, tsDelta int64, offsetDelta int) int {
	body := recordBodySize(m, tsDelta, offsetDelta)
	return varintLen(int64(body)) + body
}

func bytesFieldSize(p []byte) int {
	if p == nil {
		return varintLen(-1)
	}
	return varintLen(int64(len(p))) + len(p)
}

// varintLen is the length of the zig-zag varint encoding of v.
func varintLen(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	return (bits.Len64(u|1) + 6) / 7
}

// appendLegacyRecord appends the v2 encoding of m: length, attributes 0,
// timestamp delta, offset delta, key, value, no headers.
func appendLegacyRecord(dst []byte, m *legacyMessage, tsDelta int64, offsetDelta int) []byte {
	dst = binary.AppendVarint(dst, int64(recordBodySize(m, tsDelta, offsetDelta)))
	dst = append(dst, 0)
	dst = binary.AppendVarint(dst, tsDelta)
	dst = binary.AppendVarint(dst, int64(offsetDelta))
	dst = appendVarintBytes(dst, m.key)
	dst = appendVarintBytes(dst, m.value)
	return append(dst, 0)
}

func appendVarintBytes(dst, p []byte) []byte {
	if p == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(p)))
	return append(dst, p...)
}

// walkLegacySet calls fn for each message of the legacy message set b, in
// order, and returns how many there were. what names the set in errors.
// Messages passed to fn alias b and are only valid during the call. When
// checkCRC is false the CRCs are assumed already verified.
func walkLegacySet(b []byte, what string, checkCRC bool, fn func(i int, m *legacyMessage) error) (int, error) {
	n := 0
	var m legacyMessage // one for the walk: &m escapes into fn
	for pos := 0; pos < len(b); n++ {
		size, err := parseLegacyMessage(b[pos:], checkCRC, &m)
		if err == nil {
			err = fn(n, &m)
		}
		if err != nil {
			return n, fmt.Errorf("%w (%s, message %d at byte %d)", err, what, n, pos)
		}
		pos += size
	}
	return n, nil
}

// parseLegacyMessage parses the message at the start of b into *m and
// returns its size including the log overhead.
func parseLegacyMessage(b []byte, checkCRC bool, m *legacyMessage) (int, error) {
	*m = legacyMessage{}
	if len(b) < legacyLogOverhead {
		return 0, legacyErr("partial message: %d bytes, the offset and size need %d", len(b), legacyLogOverhead)
	}
	be := binary.BigEndian
	m.offset = int64(be.Uint64(b))
	size := int64(int32(be.Uint32(b[8:])))
	if size < legacyOverheadV0 {
		return 0, legacyErr("message size %d is below the minimum %d", size, legacyOverheadV0)
	}
	if size > int64(len(b)-legacyLogOverhead) {
		return 0, legacyErr("partial message: size %d, %d bytes left", size, len(b)-legacyLogOverhead)
	}
	msg := b[legacyLogOverhead : legacyLogOverhead+int(size)]
	if checkCRC {
		if stored, got := be.Uint32(msg), crc32.ChecksumIEEE(msg[4:]); stored != got {
			return 0, legacyErr("CRC mismatch: stored %08x, computed %08x", stored, got)
		}
	}
	m.magic = int8(msg[4])
	m.attrs = int8(msg[5])
	p := 6
	switch m.magic {
	case 0:
	case 1:
		if size < legacyOverheadV1 {
			return 0, legacyErr("magic 1 message size %d is below the minimum %d", size, legacyOverheadV1)
		}
		m.timestamp = int64(be.Uint64(msg[p:]))
		p += 8
	default:
		return 0, legacyErr("magic %d", m.magic)
	}
	var err error
	// The minimum sizes guarantee the key length is present.
	if m.key, p, err = legacyBytes(msg, p, 4); err != nil {
		return 0, fmt.Errorf("%w: key: %w", ErrCorruptLegacy, err)
	}
	if m.value, p, err = legacyBytes(msg, p, 0); err != nil {
		return 0, fmt.Errorf("%w: value: %w", ErrCorruptLegacy, err)
	}
	if p != len(msg) {
		return 0, legacyErr("%d bytes after the value", len(msg)-p)
	}
	return legacyLogOverhead + int(size), nil
}

// legacyBytes reads an int32-length-prefixed byte string (-1 = null) at
// msg[p:], with at least after bytes required to follow it.
func legacyBytes(msg []byte, p, after int) ([]byte, int, error) {
	if len(msg)-p < 4 {
		return nil, p, errors.New("length missing")
	}
	l := int64(int32(binary.BigEndian.Uint32(msg[p:])))
	p += 4
	if l == -1 {
		return nil, p, nil
	}
	if l < 0 || l > int64(len(msg)-p-after) {
		return nil, p, fmt.Errorf("bad length %d with %d bytes left", l, len(msg)-p)
	}
	end := p + int(l)
	return msg[p:end:end], end, nil
}

// LZ4 frame constants.
const (
	lz4FrameMagic    = 0x184D2204 // little-endian on the wire
	lz4FlagDictID    = 0x01
	lz4FlagSize      = 0x08
	lz4DescriptorMin = 6 // magic 4, FLG, BD
)

// fixLZ4HeaderChecksum returns src with the header checksum (HC) byte of its
// first LZ4 frame set to the value the LZ4 frame format specifies: the
// second byte of XXH32 (seed 0) over the frame descriptor from FLG to the
// byte before HC. Kafka 0.8-0.9 clients hashed from the magic number on;
// Kafka ignores HC for magic 0 messages, which this reproduces. src is
// returned unchanged (not copied) when it is not an LZ4 frame or already
// right; otherwise a corrected copy is returned.
func fixLZ4HeaderChecksum(src []byte) []byte {
	if len(src) < lz4DescriptorMin || binary.LittleEndian.Uint32(src) != lz4FrameMagic {
		return src
	}
	flg := src[4]
	hc := lz4DescriptorMin
	if flg&lz4FlagSize != 0 {
		hc += 8
	}
	if flg&lz4FlagDictID != 0 {
		hc += 4
	}
	if hc >= len(src) {
		return src
	}
	want := byte(xxh32(src[4:hc], 0) >> 8)
	if src[hc] == want {
		return src
	}
	c := bytes.Clone(src)
	c[hc] = want
	return c
}

// XXH32 primes.
const (
	xxPrime1 uint32 = 0x9E3779B1
	xxPrime2 uint32 = 0x85EBCA77
	xxPrime3 uint32 = 0xC2B2AE3D
	xxPrime4 uint32 = 0x27D4EB2F
	xxPrime5 uint32 = 0x165667B1
)

func xxRound(acc, lane uint32) uint32 {
	return bits.RotateLeft32(acc+lane*xxPrime2, 13) * xxPrime1
}

// xxh32 is the XXH32 hash of p with the given seed (as specified in the
// xxHash specification).
func xxh32(p []byte, seed uint32) uint32 {
	n := uint32(len(p))
	le := binary.LittleEndian
	var acc uint32
	if len(p) >= 16 {
		v1 := seed + xxPrime1 + xxPrime2
		v2 := seed + xxPrime2
		v3 := seed
		v4 := seed - xxPrime1
		for len(p) >= 16 {
			v1 = xxRound(v1, le.Uint32(p))
			v2 = xxRound(v2, le.Uint32(p[4:]))
			v3 = xxRound(v3, le.Uint32(p[8:]))
			v4 = xxRound(v4, le.Uint32(p[12:]))
			p = p[16:]
		}
		acc = bits.RotateLeft32(v1, 1) + bits.RotateLeft32(v2, 7) +
			bits.RotateLeft32(v3, 12) + bits.RotateLeft32(v4, 18)
	} else {
		acc = seed + xxPrime5
	}
	acc += n
	for ; len(p) >= 4; p = p[4:] {
		acc += le.Uint32(p) * xxPrime3
		acc = bits.RotateLeft32(acc, 17) * xxPrime4
	}
	for _, c := range p {
		acc += uint32(c) * xxPrime5
		acc = bits.RotateLeft32(acc, 11) * xxPrime1
	}
	acc ^= acc >> 15
	acc *= xxPrime2
	acc ^= acc >> 13
	acc *= xxPrime3
	acc ^= acc >> 16
	return acc
}
