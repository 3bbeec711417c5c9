package batch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/pierrec/lz4/v4"

	"github.com/chronik-streaming/chronik/internal/compress"
)

// lmsg describes one legacy message for the test builders. Nil Key or Value
// means null.
type lmsg struct {
	Offset int64
	Magic  int8
	Attrs  int8
	TS     int64
	Key    []byte
	Value  []byte
}

// appendBytes32 appends an int32-length-prefixed byte string (-1 for nil).
func appendBytes32(dst, p []byte) []byte {
	if p == nil {
		return binary.BigEndian.AppendUint32(dst, math.MaxUint32)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(p)))
	return append(dst, p...)
}

// appendLegacy appends m in the legacy format with a correct size and CRC.
func appendLegacy(dst []byte, m lmsg) []byte {
	body := []byte{byte(m.Magic), byte(m.Attrs)}
	if m.Magic >= 1 {
		body = binary.BigEndian.AppendUint64(body, uint64(m.TS))
	}
	body = appendBytes32(body, m.Key)
	body = appendBytes32(body, m.Value)
	dst = binary.BigEndian.AppendUint64(dst, uint64(m.Offset))
	dst = binary.BigEndian.AppendUint32(dst, uint32(4+len(body)))
	dst = binary.BigEndian.AppendUint32(dst, crc32.ChecksumIEEE(body))
	return append(dst, body...)
}

func legacySet(msgs ...lmsg) []byte {
	var b []byte
	for _, m := range msgs {
		b = appendLegacy(b, m)
	}
	return b
}

// sample returns n inner messages of the given magic exercising null and
// empty keys and values, with relative offsets and non-monotonic
// timestamps.
func sample(magic int8, n int) []lmsg {
	var out []lmsg
	for i := 0; i < n; i++ {
		m := lmsg{Offset: int64(i), Magic: magic, TS: 1_700_000_000_000 + int64((i*7919)%13) - 6}
		switch i % 4 {
		case 0:
			m.Key, m.Value = nil, []byte(fmt.Sprintf("value-%d", i))
		case 1:
			m.Key, m.Value = []byte{}, []byte{}
		case 2:
			m.Key, m.Value = []byte(fmt.Sprintf("key-%d", i)), nil // tombstone
		case 3:
			m.Key, m.Value = []byte("k"), bytes.Repeat([]byte{byte(i)}, 100+i)
		}
		out = append(out, m)
	}
	return out
}

type wrapOpts struct {
	magic  int8
	codec  int8
	xerial bool
	lat    bool
	ts     int64
	offset int64
}

// wrap compresses inner into a wrapper message.
func wrap(t testing.TB, o wrapOpts, inner []byte) []byte {
	t.Helper()
	var v []byte
	var err error
	if o.codec == compress.Snappy && o.xerial {
		v = compress.AppendXerial(nil, inner)
	} else if o.codec == compress.Zstd || o.codec > compress.Zstd {
		v, err = compress.Encode(compress.Zstd, inner, nil)
	} else {
		v, err = compress.Encode(o.codec, inner, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return wrapValue(o, v)
}

func wrapValue(o wrapOpts, v []byte) []byte {
	attrs := o.codec
	if o.lat {
		attrs |= legacyAttrLAT
	}
	return appendLegacy(nil, lmsg{Offset: o.offset, Magic: o.magic, Attrs: attrs, TS: o.ts, Value: v})
}

// checkConverted validates out and compares every field with want, whose
// timestamps are the expected record timestamps.
func checkConverted(t *testing.T, out []byte, want []lmsg, codec int8, lat bool, now int64) Header {
	t.Helper()
	h, err := Validate(out)
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	var attrs int16 = int16(codec)
	if lat {
		attrs |= AttrTimestampType
	}
	wantMax := NoTimestamp
	for _, m := range want {
		wantMax = max(wantMax, m.TS)
	}
	if lat {
		wantMax = now
	}
	wantH := Header{
		BaseOffset: 0, BatchLength: int32(len(out) - LengthOffset), PartitionLeaderEpoch: 0,
		Magic: 2, CRC: ComputeCRC(out), Attributes: attrs, LastOffsetDelta: int32(len(want) - 1),
		BaseTimestamp: want[0].TS, MaxTimestamp: wantMax, ProducerID: -1, ProducerEpoch: -1,
		BaseSequence: -1, NumRecords: int32(len(want)),
	}
	if h != wantH {
		t.Fatalf("header\n got %+v\nwant %+v", h, wantH)
	}
	if h.IsTransactional() || h.IsControl() || h.HasDeleteHorizon() || h.HasProducerID() {
		t.Fatalf("bad attributes %x", h.Attributes)
	}
	recs, err := Records(out)
	if err != nil {
		t.Fatalf("Records: %v", err)
	}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d", len(recs), len(want))
	}
	for i := range recs {
		r, w := &recs[i], want[i]
		if r.OffsetDelta != int32(i) || r.Attributes != 0 || len(r.Headers) != 0 {
			t.Fatalf("record %d: offset delta %d attrs %d headers %d", i, r.OffsetDelta, r.Attributes, len(r.Headers))
		}
		ts := h.Timestamp(r)
		if lat {
			if ts != now {
				t.Fatalf("record %d: timestamp %d under LogAppendTime, want %d", i, ts, now)
			}
			if h.BaseTimestamp+r.TimestampDelta64 != w.TS {
				t.Fatalf("record %d: stored timestamp %d, want %d", i, h.BaseTimestamp+r.TimestampDelta64, w.TS)
			}
		} else if ts != w.TS {
			t.Fatalf("record %d: timestamp %d, want %d", i, ts, w.TS)
		}
		if (r.Key == nil) != (w.Key == nil) || !bytes.Equal(r.Key, w.Key) {
			t.Fatalf("record %d: key %q (nil %v), want %q (nil %v)", i, r.Key, r.Key == nil, w.Key, w.Key == nil)
		}
		if (r.Value == nil) != (w.Value == nil) || !bytes.Equal(r.Value, w.Value) {
			t.Fatalf("record %d: value %q (nil %v), want %q (nil %v)", i, r.Value, r.Value == nil, w.Value, w.Value == nil)
		}
	}
	return h
}

// expect returns msgs with the timestamps the conversion must give.
func expect(msgs []lmsg, magic int8) []lmsg {
	out := append([]lmsg(nil), msgs...)
	if magic == 0 {
		for i := range out {
			out[i].TS = NoTimestamp
		}
	}
	return out
}

const testNow = 1_800_000_000_000

func TestConvertLegacyUncompressed(t *testing.T) {
	for _, magic := range []int8{0, 1} {
		for _, n := range []int{1, 2, 7, 300} {
			t.Run(fmt.Sprintf("magic%d/n%d", magic, n), func(t *testing.T) {
				msgs := sample(magic, n)
				// Producers send arbitrary top-level offsets; they are ignored.
				for i := range msgs {
					msgs[i].Offset = int64(1000 - i*3)
				}
				out, err := ConvertLegacy(legacySet(msgs...), testNow)
				if err != nil {
					t.Fatal(err)
				}
				checkConverted(t, out, expect(msgs, magic), compress.None, false, testNow)
			})
		}
	}
}

func TestConvertLegacyCompressed(t *testing.T) {
	type codecCase struct {
		name   string
		codec  int8
		xerial bool
	}
	codecs := []codecCase{
		{"gzip", compress.Gzip, false},
		{"snappy-raw", compress.Snappy, false},
		{"snappy-xerial", compress.Snappy, true},
		{"lz4", compress.LZ4, false},
	}
	for _, magic := range []int8{0, 1} {
		for _, c := range codecs {
			for _, n := range []int{1, 5, 1000} {
				t.Run(fmt.Sprintf("magic%d/%s/n%d", magic, c.name, n), func(t *testing.T) {
					msgs := sample(magic, n)
					if magic == 0 {
						// Magic 0 inner offsets are absolute and often junk.
						for i := range msgs {
							msgs[i].Offset = int64((i * 31) % 17)
						}
					}
					in := wrap(t, wrapOpts{magic: magic, codec: c.codec, xerial: c.xerial, ts: 5, offset: int64(n - 1)},
						legacySet(msgs...))
					out, err := ConvertLegacy(in, testNow)
					if err != nil {
						t.Fatal(err)
					}
					checkConverted(t, out, expect(msgs, magic), c.codec, false, testNow)
					if c.codec == compress.Snappy && compress.IsXerial(out[HeaderSize:]) != c.xerial {
						t.Fatalf("snappy framing not kept: xerial in %v, out %v", c.xerial, !c.xerial)
					}
				})
			}
		}
	}
}

func TestConvertLegacyLogAppendTime(t *testing.T) {
	msgs := sample(1, 6)
	const wrapperTS = 1_600_000_000_000
	for _, c := range []int8{compress.Gzip, compress.Snappy, compress.LZ4} {
		in := wrap(t, wrapOpts{magic: 1, codec: c, lat: true, ts: wrapperTS, offset: 5}, legacySet(msgs...))
		out, err := ConvertLegacy(in, testNow)
		if err != nil {
			t.Fatal(err)
		}
		// Inner records carry the wrapper's timestamp, as Kafka's deep
		// iterator gives them; readers see the max timestamp (now).
		want := expect(msgs, 1)
		for i := range want {
			want[i].TS = wrapperTS
		}
		checkConverted(t, out, want, c, true, testNow)
	}

	// Uncompressed magic 1: one message asking for LogAppendTime makes the
	// batch LogAppendTime; records keep their own timestamps.
	msgs[2].Attrs = legacyAttrLAT
	out, err := ConvertLegacy(legacySet(msgs...), testNow)
	if err != nil {
		t.Fatal(err)
	}
	msgs[2].Attrs = 0
	checkConverted(t, out, expect(msgs, 1), compress.None, true, testNow)

	// Magic 0 has no timestamp type: bit 3 is ignored.
	m0 := sample(0, 3)
	m0[1].Attrs = legacyAttrLAT
	out, err = ConvertLegacy(legacySet(m0...), testNow)
	if err != nil {
		t.Fatal(err)
	}
	checkConverted(t, out, expect(m0, 0), compress.None, false, testNow)
	in := wrap(t, wrapOpts{magic: 0, codec: compress.Gzip, lat: true}, legacySet(sample(0, 3)...))
	out, err = ConvertLegacy(in, testNow)
	if err != nil {
		t.Fatal(err)
	}
	checkConverted(t, out, expect(sample(0, 3), 0), compress.Gzip, false, testNow)
}

func TestConvertLegacyTimestamps(t *testing.T) {
	// Max timestamp is the largest, base the first; deltas may be negative
	// and even wrap int64; a max below -1 is floored at -1 as Kafka does.
	cases := [][]int64{
		{100, 50, 200, 150},
		{-1, -1},
		{-5, -7},
		{math.MaxInt64, math.MinInt64, 0},
		{math.MinInt64, math.MaxInt64},
	}
	for _, tss := range cases {
		var msgs []lmsg
		for i, ts := range tss {
			msgs = append(msgs, lmsg{Magic: 1, TS: ts, Value: []byte{byte(i)}})
		}
		out, err := ConvertLegacy(legacySet(msgs...), testNow)
		if err != nil {
			t.Fatal(err)
		}
		h, err := Validate(out)
		if err != nil {
			t.Fatal(err)
		}
		wantMax := int64(-1)
		for _, ts := range tss {
			wantMax = max(wantMax, ts)
		}
		if h.BaseTimestamp != tss[0] || h.MaxTimestamp != wantMax {
			t.Fatalf("%v: base %d max %d, want %d %d", tss, h.BaseTimestamp, h.MaxTimestamp, tss[0], wantMax)
		}
		recs, err := Records(out)
		if err != nil {
			t.Fatal(err)
		}
		for i := range recs {
			if got := h.Timestamp(&recs[i]); got != tss[i] {
				t.Fatalf("%v: record %d ts %d", tss, i, got)
			}
		}
	}
}

func TestConvertLegacyWrapperOffsets(t *testing.T) {
	msgs := sample(1, 3) // inner offsets 0, 1, 2
	for _, c := range []struct {
		wrapper int64
		ok      bool
	}{{0, true}, {2, true}, {1000, true}, {1, false}, {-1, false}} {
		in := wrap(t, wrapOpts{magic: 1, codec: compress.Gzip, offset: c.wrapper}, legacySet(msgs...))
		_, err := ConvertLegacy(in, testNow)
		if (err == nil) != c.ok {
			t.Fatalf("wrapper offset %d: err %v", c.wrapper, err)
		}
	}
	// Inner offsets that are not 0..n-1 are accepted (Kafka rewrites them).
	for i := range msgs {
		msgs[i].Offset = 0
	}
	in := wrap(t, wrapOpts{magic: 1, codec: compress.Gzip, offset: 7}, legacySet(msgs...))
	out, err := ConvertLegacy(in, testNow)
	if err != nil {
		t.Fatal(err)
	}
	checkConverted(t, out, msgs, compress.Gzip, false, testNow)
}

// brokenLZ4 returns an LZ4 frame of data whose header checksum is computed
// the way Kafka 0.8-0.9 clients did (from the magic number on).
func brokenLZ4(t testing.TB, data []byte) (frame []byte, hcAt int) {
	t.Helper()
	frame, err := compress.Encode(compress.LZ4, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	hcAt = 6
	if frame[4]&lz4FlagSize != 0 {
		hcAt += 8
	}
	good := byte(xxh32(frame[4:hcAt], 0) >> 8)
	if frame[hcAt] != good {
		t.Fatalf("encoder's HC %02x, computed %02x", frame[hcAt], good)
	}
	bad := byte(xxh32(frame[:hcAt], 0) >> 8)
	if bad == good {
		t.Fatalf("test data gives the same HC both ways")
	}
	frame[hcAt] = bad
	return frame, hcAt
}

func TestConvertLegacyLZ4BrokenHeaderChecksum(t *testing.T) {
	for _, magic := range []int8{0, 1} {
		msgs := sample(magic, 4)
		frame, _ := brokenLZ4(t, legacySet(msgs...))
		orig := bytes.Clone(frame)
		in := wrapValue(wrapOpts{magic: magic, codec: compress.LZ4}, frame)
		inCopy := bytes.Clone(in)
		out, err := ConvertLegacy(in, testNow)
		if magic == 1 {
			// Only magic 0 gets the compatibility treatment, as in Kafka.
			if !errors.Is(err, ErrCorruptLegacy) {
				t.Fatalf("magic 1 with a bad LZ4 header checksum: %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(in, inCopy) || !bytes.Equal(frame, orig) {
			t.Fatal("input modified")
		}
		h := checkConverted(t, out, expect(msgs, 0), compress.LZ4, false, testNow)
		// The stored batch carries a standard frame.
		if _, err := compress.Decode(h.Codec(), out[HeaderSize:]); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFixLZ4HeaderChecksum(t *testing.T) {
	data := []byte(strings.Repeat("kafka legacy lz4 ", 50))
	// With the content size and content checksum flags, through the
	// library directly.
	var buf bytes.Buffer
	w := lz4.NewWriter(&buf)
	if err := w.Apply(lz4.SizeOption(uint64(len(data))), lz4.ChecksumOption(true)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	frame := buf.Bytes()
	if frame[4]&lz4FlagSize == 0 {
		t.Fatal("no content size flag")
	}
	// The content checksum checks xxh32 on a long input.
	if got, want := xxh32(data, 0), binary.LittleEndian.Uint32(frame[len(frame)-4:]); got != want {
		t.Fatalf("xxh32 %08x, frame content checksum %08x", got, want)
	}
	if got := fixLZ4HeaderChecksum(frame); &got[0] != &frame[0] {
		t.Fatal("a correct frame was copied")
	}
	broken := bytes.Clone(frame)
	broken[14] ^= 0x5a
	fixed := fixLZ4HeaderChecksum(broken)
	if !bytes.Equal(fixed, frame) || broken[14] == frame[14] {
		t.Fatal("fix did not restore the frame or modified its input")
	}
	// Non-frames and short inputs pass through.
	for _, b := range [][]byte{nil, {1, 2, 3}, frame[:6], frame[:14], []byte("not an lz4 frame at all")} {
		if got := fixLZ4HeaderChecksum(b); !bytes.Equal(got, b) {
			t.Fatalf("%x changed", b)
		}
	}
	// Published XXH32 test vectors.
	for _, c := range []struct {
		in   string
		seed uint32
		want uint32
	}{{"", 0, 0x02CC5D05}, {"a", 0, 0x550D7456}, {"abc", 0, 0x32D153FF},
		{"Nobody inspects the spammish repetition", 0, 0xE2293B2F}} {
		if got := xxh32([]byte(c.in), c.seed); got != c.want {
			t.Errorf("xxh32(%q) = %08x, want %08x", c.in, got, c.want)
		}
	}
}

func TestConvertLegacyLimit(t *testing.T) {
	msgs := []lmsg{{Magic: 1, Value: bytes.Repeat([]byte("x"), 1<<20)}}
	in := wrap(t, wrapOpts{magic: 1, codec: compress.Gzip}, legacySet(msgs...))
	if _, err := ConvertLegacyLimit(in, testNow, 1<<19); !errors.Is(err, ErrCorruptLegacy) || !errors.Is(err, compress.ErrTooLarge) {
		t.Fatalf("over the limit: %v", err)
	}
	out, err := ConvertLegacyLimit(in, testNow, 2<<20)
	if err != nil {
		t.Fatal(err)
	}
	checkConverted(t, out, msgs, compress.Gzip, false, testNow)
	if _, err := ConvertLegacyLimit(in, testNow, 0); err != nil {
		t.Fatal(err)
	}
}

// flipLast returns b with a bit of its last byte flipped.
func flipLast(b []byte) []byte {
	c := bytes.Clone(b)
	c[len(c)-1] ^= 0x40
	return c
}

// rawMessage builds a message at offset 0 from its body (magic onwards),
// with a correct size and CRC.
func rawMessage(body []byte) []byte {
	b := binary.BigEndian.AppendUint64(nil, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(4+len(body)))
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(body))
	return append(b, body...)
}

func TestConvertLegacyErrors(t *testing.T) {
	good0 := legacySet(sample(0, 3)...)
	good1 := legacySet(sample(1, 3)...)
	gz := func(magic int8, inner []byte) []byte {
		return wrap(t, wrapOpts{magic: magic, codec: compress.Gzip, offset: 2}, inner)
	}
	body := func(magic int8, tail ...byte) []byte {
		b := []byte{byte(magic), 0}
		if magic == 1 {
			b = append(b, 0, 0, 0, 0, 0, 0, 0, 1)
		}
		return append(b, tail...)
	}
	cases := map[string][]byte{
		"empty":              nil,
		"crc":                flipLast(good1),
		"crc magic 0":        flipLast(good0),
		"inner crc":          gz(1, flipLast(good1)),
		"mixed magics":       append(bytes.Clone(good0), good1...),
		"mixed inner magics": gz(1, append(bytes.Clone(good1), good0...)),
		"inner magic 0 in 1": gz(1, good0),
		"magic 2":            rawMessage(body(2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0)),
		"magic -1":           rawMessage(body(-1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)),
		"zstd wrapper":       wrap(t, wrapOpts{magic: 1, codec: compress.Zstd}, good1),
		"zstd wrapper 0":     wrap(t, wrapOpts{magic: 0, codec: compress.Zstd}, good0),
		"codec 5":            wrapValue(wrapOpts{magic: 1, codec: 5}, []byte("x")),
		"codec 7":            wrapValue(wrapOpts{magic: 0, codec: 7}, []byte("x")),
		"null wrapper value": appendLegacy(nil, lmsg{Magic: 1, Attrs: compress.Gzip}),
		"no inner messages":  gz(1, nil),
		"inner compressed":   gz(1, gz(1, good1)),
		"two wrappers":       append(gz(1, good1), gz(1, good1)...),
		"wrapper and plain":  append(bytes.Clone(good1), gz(1, good1)...),
		"garbage gzip":       wrapValue(wrapOpts{magic: 1, codec: compress.Gzip}, []byte("not gzip")),
		"garbage snappy":     wrapValue(wrapOpts{magic: 1, codec: compress.Snappy}, []byte{0xff, 0xff, 0xff, 0xff, 0x0f}),
		"garbage lz4":        wrapValue(wrapOpts{magic: 0, codec: compress.LZ4}, []byte{4, 0x22, 0x4d, 0x18, 0x64, 0x40, 0xa7, 1, 2, 3}),
		"inner partial":      gz(1, good1[:len(good1)-1]),
		"inner trailing":     gz(1, append(bytes.Clone(good1), 0, 0, 0)),
		"trailing bytes":     append(bytes.Clone(good1), 0, 0, 0, 0),
		"size below min":     append(binary.BigEndian.AppendUint64(nil, 0), 0, 0, 0, 13, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
		"negative size":      append(binary.BigEndian.AppendUint64(nil, 0), 0xff, 0xff, 0xff, 0xf0),
		"huge size":          append(binary.BigEndian.AppendUint64(nil, 0), 0x7f, 0xff, 0xff, 0xff, 1, 2, 3),
		"key length -2":      rawMessage(body(1, 0xff, 0xff, 0xff, 0xfe, 0xff, 0xff, 0xff, 0xff)),
		"key too long":       rawMessage(body(1, 0, 0, 0, 5, 'a', 'b', 0xff, 0xff, 0xff, 0xff)),
		"key eats value len": rawMessage(body(1, 0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff)),
		"value too long":     rawMessage(body(0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 3, 'a', 'b')),
		"value too short":    rawMessage(body(0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 'a', 'b')),
		"value length -2":    rawMessage(body(0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe)),
		"bytes after null":   rawMessage(body(0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0)),
		// A magic 1 message of the v0 minimum size: no room for the timestamp.
		"magic 1 too small": rawMessage([]byte{1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			out, err := ConvertLegacy(in, testNow)
			if !errors.Is(err, ErrCorruptLegacy) || out != nil {
				t.Fatalf("got %d bytes, err %v", len(out), err)
			}
			t.Log(err)
		})
	}
	// Every prefix of a valid set that does not end on a message boundary
	// holds a partial message and is rejected.
	for _, in := range [][]byte{good0, good1, gz(1, good1)} {
		boundaries := map[int]bool{}
		for pos := 0; pos < len(in); {
			pos += legacyLogOverhead + int(binary.BigEndian.Uint32(in[pos+8:]))
			boundaries[pos] = true
		}
		for n := 0; n <= len(in); n++ {
			_, err := ConvertLegacy(in[:n], testNow)
			if boundaries[n] != (err == nil) {
				t.Fatalf("prefix %d of %d: %v", n, len(in), err)
			}
			if err != nil && !errors.Is(err, ErrCorruptLegacy) {
				t.Fatalf("prefix %d of %d: %v", n, len(in), err)
			}
		}
	}
}

func TestConvertLegacyDoesNotAlias(t *testing.T) {
	msgs := sample(1, 4)
	in := legacySet(msgs...)
	out, err := ConvertLegacy(in, testNow)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		in[i] = 0xaa
	}
	checkConverted(t, out, expect(msgs, 1), compress.None, false, testNow)
}

func TestVarintLen(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 63, -64, 64, -65, 8191, 8192, math.MaxInt32, math.MinInt32, math.MaxInt64, math.MinInt64} {
		if got, want := varintLen(v), len(binary.AppendVarint(nil, v)); got != want {
			t.Errorf("varintLen(%d) = %d, want %d", v, got, want)
		}
	}
}

// fixLegacyCRCs rewrites the CRC of every whole top-level message of b, so
// that the fuzzer gets past the CRC check.
func fixLegacyCRCs(b []byte) {
	for pos := 0; len(b)-pos >= legacyLogOverhead+4; {
		size := int64(int32(binary.BigEndian.Uint32(b[pos+8:])))
		if size < 4 || size > int64(len(b)-pos-legacyLogOverhead) {
			return
		}
		msg := b[pos+legacyLogOverhead : pos+legacyLogOverhead+int(size)]
		binary.BigEndian.PutUint32(msg, crc32.ChecksumIEEE(msg[4:]))
		pos += legacyLogOverhead + int(size)
	}
}

func FuzzConvertLegacy(f *testing.F) {
	for _, magic := range []int8{0, 1} {
		f.Add(legacySet(sample(magic, 4)...), false)
		for _, c := range []int8{compress.Gzip, compress.Snappy, compress.LZ4} {
			f.Add(wrap(f, wrapOpts{magic: magic, codec: c, ts: 9, offset: 2}, legacySet(sample(magic, 3)...)), false)
		}
	}
	f.Add(wrap(f, wrapOpts{magic: 1, codec: compress.Snappy, xerial: true, lat: true}, legacySet(sample(1, 2)...)), false)
	lz, _ := brokenLZ4(f, legacySet(sample(0, 2)...))
	f.Add(wrapValue(wrapOpts{magic: 0, codec: compress.LZ4}, lz), false)
	f.Add([]byte{}, false)
	f.Add(make([]byte, 26), true)
	f.Fuzz(func(t *testing.T, b []byte, fixCRC bool) {
		if fixCRC {
			b = bytes.Clone(b)
			fixLegacyCRCs(b)
		}
		in := bytes.Clone(b)
		out, err := ConvertLegacyLimit(b, testNow, 1<<20)
		if !bytes.Equal(in, b) {
			t.Fatal("input modified")
		}
		if err != nil {
			if !errors.Is(err, ErrCorruptLegacy) || out != nil {
				t.Fatalf("error %v does not wrap ErrCorruptLegacy, or output with error", err)
			}
			return
		}
		h, err := Validate(out)
		if err != nil {
			t.Fatalf("invalid output: %v", err)
		}
		if h.BaseOffset != 0 || h.ProducerID != -1 || h.ProducerEpoch != -1 || h.BaseSequence != -1 ||
			h.IsTransactional() || h.IsControl() || h.Codec() > compress.LZ4 {
			t.Fatalf("bad header %+v", h)
		}
		recs, err := Records(out)
		if err != nil || len(recs) != int(h.NumRecords) {
			t.Fatalf("records: %d, %v", len(recs), err)
		}
		for i := range recs {
			if recs[i].OffsetDelta != int32(i) {
				t.Fatalf("record %d has offset delta %d", i, recs[i].OffsetDelta)
			}
		}
	})
}

// TestConvertLegacyRealClients converts message sets captured from real
// clients' Produce requests (kept as seeds of FuzzConvertLegacy): kcat
// (librdkafka 2.0.2), kafka-python 2.0.2 and sarama 1.61, each with message
// format 0 and 1 and every codec it supports there. The kcat magic 0 LZ4
// frames carry the broken header checksum of the old Kafka framing.
func TestConvertLegacyRealClients(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzConvertLegacy")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), 300)
	type want struct {
		keys, values [][]byte
		ts           []int64 // magic 1; nil: client clock
	}
	sent := []int64{1700000000001, 1700000000005, 1700000000003, 1700000000002}
	clients := map[string]want{
		// kcat -K: reading "k1:v1", ":v2", "k3:", "k4:x...".
		"kcat":   {keys: [][]byte{[]byte("k1"), {}, []byte("k3"), []byte("k4")}, values: [][]byte{[]byte("v1"), []byte("v2"), {}, big}},
		"kcat-Z": {keys: [][]byte{[]byte("k1"), nil, []byte("k3"), []byte("k4")}, values: [][]byte{[]byte("v1"), []byte("v2"), nil, big}},
		"kpy":    {keys: [][]byte{nil, {}, []byte("k3"), []byte("k4")}, values: [][]byte{[]byte("v1"), {}, nil, big}, ts: sent},
		"sarama": {keys: [][]byte{nil, {}, []byte("k3"), []byte("k4")}, values: [][]byte{[]byte("v1"), {}, nil, make([]byte, 300)}, ts: sent},
	}
	codecs := map[string]int8{"none": compress.None, "gzip": compress.Gzip, "snappy": compress.Snappy, "lz4": compress.LZ4}
	seen := 0
	for _, e := range ents {
		// Names: client-m<magic>-<codec>[-Z]-produce-v<version>.
		parts := strings.Split(e.Name(), "-")
		w, ok := clients[parts[0]]
		if !ok || len(parts) < 5 {
			continue
		}
		if parts[3] == "Z" {
			w = clients[parts[0]+"-Z"]
		}
		magic := int8(parts[1][1] - '0')
		codec := codecs[parts[2]]
		t.Run(e.Name(), func(t *testing.T) {
			in := readSeed(t, filepath.Join(dir, e.Name()))
			top, err := parseLegacySet(in, "seed")
			if err != nil || len(top) == 0 || top[0].magic != magic || top[0].codec() != codec {
				t.Fatalf("seed is not a magic %d %s set: %v", magic, parts[2], err)
			}
			if parts[0] == "kcat" && magic == 0 && codec == compress.LZ4 {
				if _, err := compress.Decode(codec, top[0].value); err == nil {
					t.Fatal("expected librdkafka's broken LZ4 header checksum")
				}
			}
			out, err := ConvertLegacy(in, testNow)
			if err != nil {
				t.Fatal(err)
			}
			msgs := make([]lmsg, len(w.keys))
			for i := range msgs {
				msgs[i] = lmsg{Key: w.keys[i], Value: w.values[i], TS: NoTimestamp}
				if magic == 1 {
					msgs[i].TS = sent[i]
				}
			}
			if magic == 1 && w.ts == nil {
				// librdkafka stamps its own clock: take the converted
				// timestamps after checking they are plausible.
				recs, err := Records(out)
				if err != nil || len(recs) != len(msgs) {
					t.Fatalf("records: %d, %v", len(recs), err)
				}
				h, _ := ParseHeader(out)
				for i := range msgs {
					msgs[i].TS = h.Timestamp(&recs[i])
					if msgs[i].TS < 1_600_000_000_000 {
						t.Fatalf("record %d: implausible timestamp %d", i, msgs[i].TS)
					}
				}
			}
			checkConverted(t, out, msgs, codec, false, testNow)
			if codec == compress.Snappy {
				t.Logf("snappy framing xerial: %v", compress.IsXerial(top[0].value))
			}
		})
		seen++
	}
	if seen < 20 {
		t.Fatalf("only %d client seeds found", seen)
	}
}

// readSeed reads the []byte value of a one-[]byte-one-bool fuzz corpus file.
func readSeed(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	if len(lines) < 3 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") || !strings.HasSuffix(lines[1], ")") {
		t.Fatalf("%s: not a fuzz corpus file", path)
	}
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return []byte(s)
}

// parseLegacySet collects the messages of a legacy message set.
func parseLegacySet(b []byte, what string) ([]legacyMessage, error) {
	var msgs []legacyMessage
	_, err := walkLegacySet(b, what, true, func(_ int, m *legacyMessage) error {
		msgs = append(msgs, *m)
		return nil
	})
	return msgs, err
}

// TestConvertLegacyManySmallMessages checks that memory stays proportional
// to the bytes involved, not to a per-message structure, and that many
// messages convert in linear time.
func TestConvertLegacyManySmallMessages(t *testing.T) {
	const n = 200_000
	one := appendLegacy(nil, lmsg{Magic: 0, Value: []byte{}}) // 26 bytes, minimal
	set := bytes.Repeat(one, n)
	wrapped := wrap(t, wrapOpts{magic: 0, codec: compress.Gzip}, set)
	for _, c := range []struct {
		name  string
		in    []byte
		bytes int // bytes the conversion is entitled to handle
	}{{"plain", set, len(set)}, {"gzip", wrapped, len(set)}} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		out, err := ConvertLegacy(c.in, testNow)
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		h, err := Validate(out)
		if err != nil || h.NumRecords != n {
			t.Fatalf("%s: %+v %v", c.name, h, err)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(4*c.bytes) {
			t.Fatalf("%s: allocated %d bytes converting %d bytes of messages", c.name, alloc, c.bytes)
		} else {
			t.Logf("%s: allocated %d bytes for %d bytes of messages", c.name, alloc, c.bytes)
		}
	}
}
