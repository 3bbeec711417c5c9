package compress

import (
	"bytes"
	"encoding/binary"
	"errors"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// ---------------------------------------------------------------- decoding

type gzipDecoder struct {
	br bytes.Reader
	r  gzip.Reader
}

var gzipDecoders = sync.Pool{New: func() any { return new(gzipDecoder) }}

func decodeGzip(dst, src []byte, max int) ([]byte, error) {
	d := gzipDecoders.Get().(*gzipDecoder)
	defer func() {
		d.br.Reset(nil)
		gzipDecoders.Put(d)
	}()
	d.br.Reset(src)
	if err := d.r.Reset(&d.br); err != nil {
		return nil, err
	}
	// The trailer's ISIZE is the size of the last member mod 2^32; use it
	// only as an allocation hint, and only when plausible.
	hint := 4 * len(src)
	if len(src) >= 18 {
		if isize := int(binary.LittleEndian.Uint32(src[len(src)-4:])); isize <= 64*len(src) {
			hint = isize
		}
	}
	return readLimited(dst, &d.r, max, hint)
}

type lz4Decoder struct {
	br bytes.Reader
	r  *lz4.Reader
}

var lz4Decoders = sync.Pool{New: func() any { return &lz4Decoder{r: lz4.NewReader(nil)} }}

func decodeLZ4(dst, src []byte, max int) ([]byte, error) {
	d := lz4Decoders.Get().(*lz4Decoder)
	defer func() {
		d.br.Reset(nil)
		d.r.Reset(nil)
		lz4Decoders.Put(d)
	}()
	d.br.Reset(src)
	d.r.Reset(&d.br)
	return readLimited(dst, d.r, max, 4*len(src))
}

// zstdWindowFloor is the smallest decoded-size limit handed to the zstd
// decoder. The library also caps the frame window at that limit, and
// streaming zstd producers (e.g. the Java client) use multi-megabyte windows
// even for small batches, so a tight limit is enforced after decoding
// instead (memory stays bounded by max(limit, floor)).
const zstdWindowFloor = 8 << 20

type zstdDecoder struct {
	d   *zstd.Decoder
	max int
}

var zstdDecoders = sync.Pool{New: func() any {
	d, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxMemory(DefaultMaxDecodedSize),
	)
	if err != nil {
		panic(err) // static options; cannot fail
	}
	return &zstdDecoder{d: d, max: DefaultMaxDecodedSize}
}}

func decodeZstd(dst, src []byte, max int) ([]byte, error) {
	zd := zstdDecoders.Get().(*zstdDecoder)
	defer zstdDecoders.Put(zd)
	lim := max
	if lim < zstdWindowFloor {
		lim = zstdWindowFloor
	}
	if zd.max != lim {
		if err := zd.d.ResetWithOptions(nil, zstd.WithDecoderMaxMemory(uint64(lim))); err != nil {
			return nil, err
		}
		zd.max = lim
	}
	start := len(dst)
	out, err := zd.d.DecodeAll(src, dst)
	if err != nil {
		if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
			return nil, ErrTooLarge
		}
		return nil, err
	}
	if len(out)-start > max {
		return nil, ErrTooLarge
	}
	return out, nil
}

// xerialMagic starts a snappy batch framed by the Java client's
// SnappyOutputStream (snappy-java).
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// xerialHeaderLen is magic + int32 version + int32 min-compatible version.
const xerialHeaderLen = 16

// xerialBlockSize is the uncompressed chunk size snappy-java writes.
const xerialBlockSize = 32 << 10

// IsXerial reports whether src starts with the xerial snappy framing header.
func IsXerial(src []byte) bool {
	return len(src) >= xerialHeaderLen && bytes.HasPrefix(src, xerialMagic)
}

func decodeSnappy(dst, src []byte, max int) ([]byte, error) {
	if !IsXerial(src) {
		return appendSnappyBlock(dst, src, max)
	}
	// The version fields are not checked: every snappy-java version writes
	// the same chunk layout.
	start := len(dst)
	for rest := src[xerialHeaderLen:]; len(rest) > 0; {
		if len(rest) < 4 {
			return nil, errXerialTruncated
		}
		n := binary.BigEndian.Uint32(rest)
		rest = rest[4:]
		if uint64(n) > uint64(len(rest)) {
			return nil, errXerialTruncated
		}
		var err error
		dst, err = appendSnappyBlock(dst, rest[:n], max-(len(dst)-start))
		if err != nil {
			return nil, err
		}
		rest = rest[n:]
	}
	if dst == nil {
		dst = []byte{}
	}
	return dst, nil
}

var errXerialTruncated = errors.New("truncated xerial snappy chunk")

// appendSnappyBlock decodes one raw snappy block onto dst, refusing blocks
// that declare more than max decoded bytes before allocating anything.
func appendSnappyBlock(dst, block []byte, max int) ([]byte, error) {
	n, err := snappy.DecodedLen(block)
	if err != nil {
		return nil, err
	}
	if n > max {
		return nil, ErrTooLarge
	}
	// A snappy block decodes to at most ~21.3x (a 3-byte copy of 64 bytes)
	// its size; anything declaring more is corrupt, so do not allocate for it.
	if n > 22*len(block)+64 {
		return nil, snappy.ErrCorrupt
	}
	dst = grow(dst, n)
	l := len(dst)
	if _, err := snappy.DecodeStrict(dst[l:l+n], block); err != nil {
		return nil, err
	}
	return dst[:l+n], nil
}

// grow ensures cap(b)-len(b) >= n.
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	c := 2 * cap(b)
	if c < len(b)+n {
		c = len(b) + n
	}
	nb := make([]byte, len(b), c)
	copy(nb, b)
	return nb
}

// ---------------------------------------------------------------- encoding

// EncoderOptions configures an Encoder. Zero values select defaults.
type EncoderOptions struct {
	// GzipLevel is a compress/flate level (1..9, or -2 for huffman-only);
	// 0 means gzip.DefaultCompression.
	GzipLevel int
	// LZ4Level is a pierrec/lz4 CompressionLevel (0 = fast).
	LZ4Level int
	// ZstdLevel is a zstd.EncoderLevel (1 fastest .. 4 best); 0 means
	// zstd.SpeedDefault.
	ZstdLevel int
	// SnappyXerial makes snappy output use the Java client's xerial framing
	// instead of a raw block. Every Kafka client decodes both.
	SnappyXerial bool
}

// Encoder compresses with fixed options, pooling codec state. It is safe for
// concurrent use.
type Encoder struct {
	opts  EncoderOptions
	gzip  sync.Pool // *gzip.Writer
	lz4   sync.Pool // *lz4Encoder
	zstd  sync.Pool // *zstd.Encoder
	level struct{ gzip, lz4 int }
	zl    zstd.EncoderLevel
}

var defaultEncoder = NewEncoder(EncoderOptions{})

// NewEncoder returns an Encoder. Invalid levels fall back to defaults.
func NewEncoder(opts EncoderOptions) *Encoder {
	e := &Encoder{opts: opts}

	e.level.gzip = gzip.DefaultCompression
	if opts.GzipLevel != 0 {
		if _, err := gzip.NewWriterLevel(nil, opts.GzipLevel); err == nil {
			e.level.gzip = opts.GzipLevel
		}
	}
	e.gzip.New = func() any {
		w, _ := gzip.NewWriterLevel(nil, e.level.gzip)
		return w
	}

	e.level.lz4 = int(lz4.Fast)
	if opts.LZ4Level != 0 {
		if err := lz4.NewWriter(nil).Apply(lz4.CompressionLevelOption(lz4.CompressionLevel(opts.LZ4Level))); err == nil {
			e.level.lz4 = opts.LZ4Level
		}
	}
	e.lz4.New = func() any {
		le := new(lz4Encoder)
		le.w = lz4.NewWriter(&le.out)
		// 64 KiB blocks (like the Java client) keep pooled writer buffers
		// small; the default is 4 MiB per writer.
		_ = le.w.Apply(
			lz4.BlockSizeOption(lz4.Block64Kb),
			lz4.CompressionLevelOption(lz4.CompressionLevel(e.level.lz4)),
		)
		return le
	}

	e.zl = zstd.SpeedDefault
	if l := zstd.EncoderLevel(opts.ZstdLevel); opts.ZstdLevel != 0 && l >= zstd.SpeedFastest && l <= zstd.SpeedBestCompression {
		e.zl = l
	}
	e.zstd.New = func() any {
		w, err := zstd.NewWriter(nil,
			zstd.WithEncoderLevel(e.zl),
			zstd.WithEncoderConcurrency(1),
			zstd.WithZeroFrames(true),
			zstd.WithWindowSize(1<<20),
		)
		if err != nil {
			panic(err) // static options; cannot fail
		}
		return w
	}
	return e
}

type lz4Encoder struct {
	out appendWriter
	w   *lz4.Writer
}

// Encode compresses src with codec and appends the result to dst (see the
// package-level Encode).
func (e *Encoder) Encode(codec int8, src []byte, dst []byte) ([]byte, error) {
	switch codec {
	case None:
		return append(dst, src...), nil

	case Gzip:
		w := e.gzip.Get().(*gzip.Writer)
		defer e.gzip.Put(w)
		out := appendWriter{b: dst}
		w.Reset(&out)
		if _, err := w.Write(src); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		w.Reset(nil)
		return out.b, nil

	case Snappy:
		if e.opts.SnappyXerial {
			return AppendXerial(dst, src), nil
		}
		return appendSnappyEncode(dst, src), nil

	case LZ4:
		le := e.lz4.Get().(*lz4Encoder)
		defer e.lz4.Put(le)
		le.out.b = dst
		le.w.Reset(&le.out)
		if _, err := le.w.Write(src); err != nil {
			return nil, err
		}
		if err := le.w.Close(); err != nil {
			return nil, err
		}
		out := le.out.b
		le.out.b = nil
		return out, nil

	case Zstd:
		w := e.zstd.Get().(*zstd.Encoder)
		defer e.zstd.Put(w)
		return w.EncodeAll(src, dst), nil
	}
	return nil, unknown(codec)
}

func appendSnappyEncode(dst, src []byte) []byte {
	dst = grow(dst, s2.MaxEncodedLen(len(src)))
	l := len(dst)
	enc := s2.EncodeSnappy(dst[l:cap(dst)], src)
	return dst[:l+len(enc)]
}

// AppendXerial appends src encoded in the xerial snappy framing (header,
// then 32 KiB chunks each as a big-endian int32 length and a raw snappy
// block), as the Java client's snappy-java output stream does.
func AppendXerial(dst, src []byte) []byte {
	dst = append(dst, xerialMagic...)
	dst = append(dst, 0, 0, 0, 1, 0, 0, 0, 1) // version 1, min compatible 1
	if len(src) == 0 {
		// One empty chunk rather than a bare header: some decoders
		// (franz-go) only recognise the framing when data follows it.
		return append(dst, 0, 0, 0, 1, 0)
	}
	for len(src) > 0 {
		chunk := src
		if len(chunk) > xerialBlockSize {
			chunk = chunk[:xerialBlockSize]
		}
		src = src[len(chunk):]
		lenAt := len(dst)
		dst = append(dst, 0, 0, 0, 0)
		dst = appendSnappyEncode(dst, chunk)
		binary.BigEndian.PutUint32(dst[lenAt:], uint32(len(dst)-lenAt-4))
	}
	return dst
}
