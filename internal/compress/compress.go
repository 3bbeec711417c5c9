// Package compress implements the compression codecs used by Kafka record
// batches (attributes bits 0-2): none, gzip, snappy, lz4 and zstd.
//
// Decoding is always bounded: every decode call takes (or defaults to) a
// maximum decoded size and fails with ErrTooLarge instead of allocating more,
// so a small hostile batch (a "zip bomb") cannot exhaust broker memory.
//
// The stateful codecs (gzip, lz4, zstd) keep their reader/writer state in
// sync.Pools, so steady-state encoding and decoding does not allocate codec
// state. All functions and methods are safe for concurrent use.
//
// Wire formats:
//   - gzip: RFC 1952 (multiple members are concatenated on decode).
//   - snappy: decode accepts both a raw snappy block (what franz-go and
//     librdkafka send by default) and the xerial framing written by the Java
//     client (magic "\x82SNAPPY\x00", two big-endian int32 versions, then
//     big-endian int32 length-prefixed snappy blocks). Encode writes a raw
//     block unless EncoderOptions.SnappyXerial is set.
//   - lz4: the LZ4 frame format (concatenated frames are accepted).
//   - zstd: RFC 8878 frames (concatenated frames are accepted).
package compress

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// Codec identifiers as stored in the low three bits of a record batch's
// attributes.
const (
	None   int8 = 0
	Gzip   int8 = 1
	Snappy int8 = 2
	LZ4    int8 = 3
	Zstd   int8 = 4
)

// CodecMask extracts the codec from record batch attributes:
// codec := int8(attrs & CodecMask).
const CodecMask = 0x07

// DefaultMaxDecodedSize is the limit Decode applies to decoded output.
const DefaultMaxDecodedSize = 256 << 20

var (
	// ErrUnknownCodec is returned for a codec id outside 0..4.
	ErrUnknownCodec = errors.New("compress: unknown compression codec")
	// ErrTooLarge is returned when decoded output would exceed the limit.
	ErrTooLarge = errors.New("compress: decompressed size exceeds limit")
	// ErrCorrupt wraps errors caused by malformed compressed input.
	ErrCorrupt = errors.New("compress: corrupt input")
)

// Name returns the Kafka name of a codec ("none", "gzip", "snappy", "lz4",
// "zstd"), or "unknown(N)".
func Name(codec int8) string {
	switch codec {
	case None:
		return "none"
	case Gzip:
		return "gzip"
	case Snappy:
		return "snappy"
	case LZ4:
		return "lz4"
	case Zstd:
		return "zstd"
	}
	return fmt.Sprintf("unknown(%d)", codec)
}

// Parse maps a Kafka codec name (case-insensitive; "" means none) to its id.
func Parse(name string) (int8, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "", "none", "uncompressed":
		return None, nil
	case "gzip":
		return Gzip, nil
	case "snappy":
		return Snappy, nil
	case "lz4":
		return LZ4, nil
	case "zstd":
		return Zstd, nil
	}
	return 0, fmt.Errorf("%w: %q", ErrUnknownCodec, name)
}

// Valid reports whether codec is one of the five Kafka codecs.
func Valid(codec int8) bool { return codec >= None && codec <= Zstd }

func unknown(codec int8) error { return fmt.Errorf("%w: %d", ErrUnknownCodec, codec) }

func corrupt(codec int8, err error) error {
	if errors.Is(err, ErrTooLarge) || errors.Is(err, ErrCorrupt) {
		return err
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%w: %s: %w", ErrCorrupt, Name(codec), err)
}

// Decode decompresses src with codec, bounded by DefaultMaxDecodedSize.
//
// For None, src itself is returned (not a copy).
func Decode(codec int8, src []byte) ([]byte, error) {
	return DecodeLimit(codec, src, DefaultMaxDecodedSize)
}

// DecodeLimit decompresses src with codec and fails with ErrTooLarge if the
// output would be larger than max bytes (max <= 0 means
// DefaultMaxDecodedSize). For None, src itself is returned (not a copy).
func DecodeLimit(codec int8, src []byte, max int) ([]byte, error) {
	if codec == None {
		if max <= 0 {
			max = DefaultMaxDecodedSize
		}
		if len(src) > max {
			return nil, ErrTooLarge
		}
		return src, nil
	}
	return AppendDecode(nil, codec, src, max)
}

// AppendDecode decompresses src with codec and appends the result to dst,
// returning the extended slice. max bounds the number of decoded bytes
// appended (max <= 0 means DefaultMaxDecodedSize). Pass a reused buffer's
// dst[:0] to avoid allocating. On error the returned slice is nil.
func AppendDecode(dst []byte, codec int8, src []byte, max int) ([]byte, error) {
	if max <= 0 {
		max = DefaultMaxDecodedSize
	}
	var (
		out []byte
		err error
	)
	switch codec {
	case None:
		if len(src) > max {
			return nil, ErrTooLarge
		}
		return append(dst, src...), nil
	case Gzip:
		out, err = decodeGzip(dst, src, max)
	case Snappy:
		out, err = decodeSnappy(dst, src, max)
	case LZ4:
		out, err = decodeLZ4(dst, src, max)
	case Zstd:
		out, err = decodeZstd(dst, src, max)
	default:
		return nil, unknown(codec)
	}
	if err != nil {
		return nil, corrupt(codec, err)
	}
	return out, nil
}

// Encode compresses src with codec using the default levels and appends the
// result to dst, returning the extended slice (pass dst[:0] to reuse a
// buffer, or nil). For None, src is appended uncompressed. Snappy output is
// a raw snappy block.
func Encode(codec int8, src []byte, dst []byte) ([]byte, error) {
	return defaultEncoder.Encode(codec, src, dst)
}

// Decoder is a decoder with a fixed output limit. The zero value uses
// DefaultMaxDecodedSize. Codec state is shared through package-level pools,
// so Decoders are cheap and safe for concurrent use.
type Decoder struct {
	// Max bounds decoded output; <= 0 means DefaultMaxDecodedSize.
	Max int
}

// NewDecoder returns a Decoder bounded by max bytes of output.
func NewDecoder(max int) *Decoder { return &Decoder{Max: max} }

// Decode appends the decompressed form of src to dst (see AppendDecode).
func (d *Decoder) Decode(codec int8, src, dst []byte) ([]byte, error) {
	return AppendDecode(dst, codec, src, d.Max)
}

// readLimited reads r to EOF, appending to dst, and fails with ErrTooLarge
// once more than max bytes were read. hint is the expected output size.
func readLimited(dst []byte, r io.Reader, max, hint int) ([]byte, error) {
	start := len(dst)
	if hint > max {
		hint = max
	}
	if hint < 512 {
		hint = 512
	}
	if cap(dst)-len(dst) < hint {
		nd := make([]byte, len(dst), len(dst)+hint)
		copy(nd, dst)
		dst = nd
	}
	for {
		if len(dst) == cap(dst) {
			// Grow, but never past max+1 decoded bytes: one extra byte is
			// enough to detect overflow.
			room := cap(dst) - start
			grow := room
			if limit := max + 1 - room; grow > limit {
				grow = limit
			}
			if grow <= 0 {
				return nil, ErrTooLarge
			}
			nd := make([]byte, len(dst), cap(dst)+grow)
			copy(nd, dst)
			dst = nd
		}
		buf := dst[len(dst):cap(dst)]
		if over := len(dst) - start + len(buf) - (max + 1); over > 0 {
			buf = buf[:len(buf)-over]
		}
		n, err := r.Read(buf)
		dst = dst[:len(dst)+n]
		if len(dst)-start > max {
			return nil, ErrTooLarge
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// appendWriter is an io.Writer appending to a byte slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}
