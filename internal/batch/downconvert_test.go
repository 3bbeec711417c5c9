package batch

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/compress"
)

// drec is one record of a test batch: its offset delta, timestamp delta,
// key, value (nil = null) and headers.
type drec struct {
	delta   int32
	tsDelta int64
	key     []byte
	value   []byte
	headers []kmsg.Header
}

type dbatch struct {
	base    int64
	baseTS  int64
	maxTS   int64 // 0: computed
	codec   int8
	lat     bool
	control bool
	recs    []drec
}

// build encodes b as a v2 batch with a correct length and CRC.
func (b dbatch) build(t testing.TB) []byte {
	t.Helper()
	var raw []byte
	maxTS := NoTimestamp
	for _, r := range b.recs {
		rec := kmsg.Record{TimestampDelta64: r.tsDelta, OffsetDelta: r.delta, Key: r.key, Value: r.value, Headers: r.headers}
		body := rec.AppendTo(nil) // one-byte length prefix 0
		rec.Length = int32(len(body) - 1)
		raw = rec.AppendTo(raw)
		maxTS = max(maxTS, b.baseTS+r.tsDelta)
	}
	if b.maxTS != 0 {
		maxTS = b.maxTS
	}
	if b.codec != compress.None {
		var err error
		if raw, err = compress.Encode(b.codec, raw, nil); err != nil {
			t.Fatal(err)
		}
	}
	attrs := int16(b.codec)
	if b.lat {
		attrs |= AttrTimestampType
	}
	if b.control {
		attrs |= AttrControl | AttrTransactional
	}
	last := int32(0)
	if n := len(b.recs); n > 0 {
		last = b.recs[n-1].delta
	}
	rb := kmsg.RecordBatch{
		FirstOffset: b.base, Magic: 2, Attributes: attrs, LastOffsetDelta: last,
		FirstTimestamp: b.baseTS, MaxTimestamp: maxTS, ProducerID: -1, ProducerEpoch: -1,
		FirstSequence: -1, NumRecords: int32(len(b.recs)), Records: raw,
	}
	out := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(out[offBatchLength:], uint32(len(out)-LengthOffset))
	binary.BigEndian.PutUint32(out[offCRC:], ComputeCRC(out))
	if err := VerifyCRC(out); err != nil {
		t.Fatalf("test batch invalid: %v", err)
	}
	return out
}

// got is one message read back from a down-converted set.
type got struct {
	offset int64
	ts     int64 // magic 1 only
	attrs  int8  // the message's own attributes (inner ones for a wrapper)
	key    []byte
	value  []byte
}

// sampleRecs returns n records with null/empty keys and values, headers,
// offset gaps (as compaction leaves them) and unordered timestamps.
func sampleRecs(n int, gaps bool) []drec {
	var out []drec
	d := int32(0)
	for i := 0; i < n; i++ {
		r := drec{delta: d, tsDelta: int64((i * 7919) % 13)}
		switch i % 5 {
		case 0:
			r.key, r.value = nil, []byte(fmt.Sprintf("value-%d", i))
		case 1:
			r.key, r.value = []byte{}, []byte{}
		case 2:
			r.key, r.value = []byte(fmt.Sprintf("key-%d", i)), nil
		case 3:
			r.key, r.value = []byte("k"), bytes.Repeat([]byte{byte(i)}, 100+i)
			r.headers = []kmsg.Header{{Key: "h", Value: []byte("dropped")}}
		case 4:
			r.key, r.value = nil, nil
		}
		out = append(out, r)
		d++
		if gaps && i%3 == 1 {
			d += 2
		}
	}
	return out
}

// expected lists the messages DownConvert must produce from batches: all
// records of non-control batches whose last offset reaches minOffset, minus
// the records below minOffset of uncompressed batches.
func expected(batches []dbatch, magic int8, minOffset int64) []got {
	var out []got
	for _, b := range batches {
		if b.control || len(b.recs) == 0 || b.base+int64(b.recs[len(b.recs)-1].delta) < minOffset {
			continue
		}
		maxTS := NoTimestamp
		for _, r := range b.recs {
			maxTS = max(maxTS, b.baseTS+r.tsDelta)
		}
		if b.maxTS != 0 {
			maxTS = b.maxTS
		}
		for _, r := range b.recs {
			off := b.base + int64(r.delta)
			if b.codec == compress.None && off < minOffset {
				continue
			}
			g := got{offset: off, key: r.key, value: r.value}
			if magic == 1 {
				g.ts = b.baseTS + r.tsDelta
				if b.lat {
					g.ts = maxTS
					g.attrs = legacyAttrLAT
				}
			}
			out = append(out, g)
		}
	}
	return out
}

// readBack parses a down-converted set: every message's CRC and magic, the
// wrappers' fields (offset = last inner offset, null key, timestamp = max
// inner timestamp, attributes), inner messages with offsets made absolute.
// Each top-level message is also converted back through ConvertLegacy, and
// the records it gives must match.
func readBack(t *testing.T, out []byte, magic int8) []got {
	t.Helper()
	top, err := parseLegacySet(out, "down-converted set")
	if err != nil {
		t.Fatalf("output does not parse: %v", err)
	}
	var res []got
	pos := 0
	for i, m := range top {
		size := legacyLogOverhead + int(binary.BigEndian.Uint32(out[pos+8:]))
		one := out[pos : pos+size]
		pos += size
		if m.magic != magic {
			t.Fatalf("message %d has magic %d", i, m.magic)
		}
		var unit []got
		if m.codec() == compress.None {
			unit = []got{{offset: m.offset, ts: m.timestamp, attrs: m.attrs, key: m.key, value: m.value}}
		} else {
			if m.key != nil || m.value == nil {
				t.Fatalf("wrapper %d: key %q value nil %v", i, m.key, m.value == nil)
			}
			src := m.value
			if m.codec() == compress.LZ4 {
				checkKafkaLZ4Frame(t, src, magic == 0)
				src = fixLZ4HeaderChecksum(src)
			}
			data, err := compress.Decode(m.codec(), src)
			if err != nil {
				t.Fatalf("wrapper %d: %v", i, err)
			}
			inner, err := parseLegacySet(data, "inner set")
			if err != nil || len(inner) == 0 {
				t.Fatalf("wrapper %d: inner set: %d messages, %v", i, len(inner), err)
			}
			lastInner := inner[len(inner)-1].offset
			maxTS := NoTimestamp
			for j, im := range inner {
				if im.magic != magic || im.codec() != compress.None || im.attrs&^legacyAttrLAT != 0 {
					t.Fatalf("wrapper %d inner %d: magic %d attrs %x", i, j, im.magic, im.attrs)
				}
				if im.attrs != m.attrs&legacyAttrLAT {
					t.Fatalf("wrapper %d inner %d: attrs %x, wrapper %x", i, j, im.attrs, m.attrs)
				}
				off := im.offset
				if magic == 1 {
					if j == 0 && off != 0 {
						t.Fatalf("wrapper %d: first relative offset %d", i, off)
					}
					off = m.offset - lastInner + im.offset
				}
				maxTS = max(maxTS, im.timestamp)
				unit = append(unit, got{offset: off, ts: im.timestamp, attrs: im.attrs, key: im.key, value: im.value})
			}
			if unit[len(unit)-1].offset != m.offset {
				t.Fatalf("wrapper %d: offset %d, last inner %d", i, m.offset, unit[len(unit)-1].offset)
			}
			if magic == 1 && m.timestamp != maxTS {
				t.Fatalf("wrapper %d: timestamp %d, max inner %d", i, m.timestamp, maxTS)
			}
			if magic == 0 && m.attrs&legacyAttrLAT != 0 {
				t.Fatalf("wrapper %d: LogAppendTime bit in magic 0", i)
			}
		}
		// Up again through the colleague's converter.
		v2, err := ConvertLegacy(one, testNow)
		if err != nil {
			t.Fatalf("message %d: ConvertLegacy: %v", i, err)
		}
		h, _ := ParseHeader(v2)
		recs, err := Records(v2)
		if err != nil || len(recs) != len(unit) {
			t.Fatalf("message %d: ConvertLegacy gave %d records (want %d): %v", i, len(recs), len(unit), err)
		}
		for j := range recs {
			r, u := &recs[j], unit[j]
			if (r.Key == nil) != (u.key == nil) || !bytes.Equal(r.Key, u.key) ||
				(r.Value == nil) != (u.value == nil) || !bytes.Equal(r.Value, u.value) {
				t.Fatalf("message %d record %d differs after ConvertLegacy", i, j)
			}
			wantTS := u.ts
			if magic == 0 {
				wantTS = NoTimestamp
			}
			if ts := h.BaseTimestamp + r.TimestampDelta64; ts != wantTS {
				t.Fatalf("message %d record %d: timestamp %d after ConvertLegacy, want %d", i, j, ts, wantTS)
			}
		}
		if h.IsLogAppendTime() != (m.attrs&legacyAttrLAT != 0) {
			t.Fatalf("message %d: LogAppendTime lost", i)
		}
		res = append(res, unit...)
	}
	return res
}

// checkKafkaLZ4Frame checks Kafka's framing: FLG 0x60, BD 0x40, the header
// checksum broken (magic 0) or right (magic 1).
func checkKafkaLZ4Frame(t *testing.T, f []byte, broken bool) {
	t.Helper()
	if len(f) < 7 || binary.LittleEndian.Uint32(f) != lz4FrameMagic || f[4] != 0x60 || f[5] != 0x40 {
		t.Fatalf("not Kafka's LZ4 framing: % x", f[:min(len(f), 7)])
	}
	want := byte(xxh32(f[4:6], 0) >> 8)
	if broken {
		want = byte(xxh32(f[:6], 0) >> 8)
	}
	if f[6] != want {
		t.Fatalf("header checksum %02x, want %02x (broken %v)", f[6], want, broken)
	}
	if !broken {
		if _, err := compress.Decode(compress.LZ4, f); err != nil {
			t.Fatalf("standard decoder refuses the frame: %v", err)
		}
	}
}

func compareGot(t *testing.T, gotMsgs, want []got, magic int8) {
	t.Helper()
	if len(gotMsgs) != len(want) {
		t.Fatalf("%d messages, want %d", len(gotMsgs), len(want))
	}
	for i := range want {
		g, w := gotMsgs[i], want[i]
		if g.offset != w.offset {
			t.Fatalf("message %d: offset %d, want %d", i, g.offset, w.offset)
		}
		if magic == 1 && (g.ts != w.ts || g.attrs != w.attrs) {
			t.Fatalf("message %d: timestamp %d attrs %x, want %d %x", i, g.ts, g.attrs, w.ts, w.attrs)
		}
		if magic == 0 && g.attrs != 0 {
			t.Fatalf("message %d: attrs %x in magic 0", i, g.attrs)
		}
		if (g.key == nil) != (w.key == nil) || !bytes.Equal(g.key, w.key) {
			t.Fatalf("message %d: key %q (nil %v), want %q (nil %v)", i, g.key, g.key == nil, w.key, w.key == nil)
		}
		if (g.value == nil) != (w.value == nil) || !bytes.Equal(g.value, w.value) {
			t.Fatalf("message %d: value %q (nil %v), want %q (nil %v)", i, g.value, g.value == nil, w.value, w.value == nil)
		}
	}
}

func concat(t testing.TB, batches []dbatch) []byte {
	var b []byte
	for _, x := range batches {
		b = append(b, x.build(t)...)
	}
	return b
}

const ts0 = 1_700_000_000_000

// logOf returns a log of several batches with codec: offset gaps, a control
// batch, a LogAppendTime batch when lat.
func logOf(codec int8, lat bool) []dbatch {
	return []dbatch{
		{base: 0, baseTS: ts0, codec: codec, recs: sampleRecs(5, false)},
		{base: 5, baseTS: ts0 + 100, codec: codec, lat: lat, maxTS: ts0 + 999, recs: sampleRecs(9, true)},
		{base: 20, baseTS: ts0 + 200, control: true, recs: []drec{{key: []byte{0, 0, 0, 1}, value: []byte{0, 0, 0, 0, 0, 0}}}},
		{base: 21, baseTS: ts0 + 300, codec: codec, recs: sampleRecs(1, false)},
		{base: 1 << 40, baseTS: ts0 + 400, codec: codec, recs: sampleRecs(4, true)},
	}
}

func TestDownConvertRoundTrip(t *testing.T) {
	for _, magic := range []int8{0, 1} {
		for _, codec := range []int8{compress.None, compress.Gzip, compress.Snappy, compress.LZ4} {
			for _, lat := range []bool{false, true} {
				for _, minOffset := range []int64{0, 3, 9, 21, 1 << 40, 1<<40 + 1} {
					name := fmt.Sprintf("m%d/%s/lat=%v/min=%d", magic, compress.Name(codec), lat, minOffset)
					t.Run(name, func(t *testing.T) {
						batches := logOf(codec, lat)
						in := concat(t, batches)
						next := dbatch{base: 1<<40 + 50, baseTS: ts0, codec: codec, recs: sampleRecs(3, false)}.build(t)
						in = append(in, next[:len(next)-1]...) // a partial batch at the end
						orig := bytes.Clone(in)
						out, err := DownConvert(in, magic, minOffset)
						if err != nil {
							t.Fatal(err)
						}
						if !bytes.Equal(in, orig) {
							t.Fatal("input modified")
						}
						compareGot(t, readBack(t, out, magic), expected(batches, magic, minOffset), magic)
					})
				}
			}
		}
	}
}

// TestDownConvertMixed converts a log whose batches use different codecs.
func TestDownConvertMixed(t *testing.T) {
	var batches []dbatch
	off := int64(100)
	for i, c := range []int8{compress.LZ4, compress.None, compress.Gzip, compress.None, compress.Snappy, compress.LZ4} {
		recs := sampleRecs(3+i, i%2 == 0)
		batches = append(batches, dbatch{base: off, baseTS: ts0 + int64(i), codec: c, lat: i == 3, recs: recs})
		off += int64(recs[len(recs)-1].delta) + 1
	}
	in := concat(t, batches)
	for _, magic := range []int8{0, 1} {
		out, err := DownConvert(in, magic, 102)
		if err != nil {
			t.Fatal(err)
		}
		compareGot(t, readBack(t, out, magic), expected(batches, magic, 102), magic)
	}
}

// TestDownConvertLayout compares the output byte for byte with messages
// built independently (by the legacy tests' builder).
func TestDownConvertLayout(t *testing.T) {
	b := dbatch{base: 42, baseTS: ts0, recs: []drec{
		{delta: 0, tsDelta: 5, key: nil, value: []byte("v")},
		{delta: 2, tsDelta: 1, key: []byte{}, value: nil},
	}}
	in := b.build(t)
	for _, magic := range []int8{0, 1} {
		out, err := DownConvert(in, magic, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := legacySet(
			lmsg{Offset: 42, Magic: magic, TS: ts0 + 5, Key: nil, Value: []byte("v")},
			lmsg{Offset: 44, Magic: magic, TS: ts0 + 1, Key: []byte{}, Value: nil},
		)
		if !bytes.Equal(out, want) {
			t.Fatalf("magic %d:\n got % x\nwant % x", magic, out, want)
		}
	}
	// LogAppendTime, magic 1: every message has the batch's max timestamp
	// and the attribute.
	b.lat, b.maxTS = true, ts0+777
	out, err := DownConvert(b.build(t), 1, 43)
	if err != nil {
		t.Fatal(err)
	}
	want := legacySet(lmsg{Offset: 44, Magic: 1, Attrs: legacyAttrLAT, TS: ts0 + 777, Key: []byte{}, Value: nil})
	if !bytes.Equal(out, want) {
		t.Fatalf("LogAppendTime:\n got % x\nwant % x", out, want)
	}

	// A compressed magic 1 wrapper: relative inner offsets from the first
	// record, wrapper at the last offset with the max timestamp.
	b = dbatch{base: 42, baseTS: ts0, codec: compress.Gzip, recs: []drec{
		{delta: 1, tsDelta: 5, value: []byte("a")},
		{delta: 4, tsDelta: 9, value: []byte("b")},
		{delta: 6, tsDelta: 2, value: []byte("c")},
	}}
	out, err = DownConvert(b.build(t), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	top, err := parseLegacySet(out, "out")
	if err != nil || len(top) != 1 {
		t.Fatalf("%d messages, %v", len(top), err)
	}
	w := top[0]
	if w.offset != 48 || w.timestamp != ts0+9 || w.attrs != compress.Gzip || w.key != nil {
		t.Fatalf("wrapper %+v", w)
	}
	data, err := compress.Decode(compress.Gzip, w.value)
	if err != nil {
		t.Fatal(err)
	}
	wantInner := legacySet(
		lmsg{Offset: 0, Magic: 1, TS: ts0 + 5, Value: []byte("a")},
		lmsg{Offset: 3, Magic: 1, TS: ts0 + 9, Value: []byte("b")},
		lmsg{Offset: 5, Magic: 1, TS: ts0 + 2, Value: []byte("c")},
	)
	if !bytes.Equal(data, wantInner) {
		t.Fatalf("inner set\n got % x\nwant % x", data, wantInner)
	}
	// Magic 0: absolute inner offsets.
	out, err = DownConvert(b.build(t), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	top, _ = parseLegacySet(out, "out")
	data, err = compress.Decode(compress.Gzip, top[0].value)
	if err != nil {
		t.Fatal(err)
	}
	wantInner = legacySet(
		lmsg{Offset: 43, Magic: 0, Value: []byte("a")},
		lmsg{Offset: 46, Magic: 0, Value: []byte("b")},
		lmsg{Offset: 48, Magic: 0, Value: []byte("c")},
	)
	if top[0].offset != 48 || !bytes.Equal(data, wantInner) {
		t.Fatalf("magic 0 wrapper at %d, inner\n got % x\nwant % x", top[0].offset, data, wantInner)
	}
}

// TestDownConvertLZ4Blocks checks Kafka's LZ4 framing over several 64 KiB
// blocks, compressible and not.
func TestDownConvertLZ4Blocks(t *testing.T) {
	rnd := rand.New(rand.NewSource(1))
	noise := make([]byte, 150_000)
	rnd.Read(noise)
	for _, v := range [][]byte{noise, bytes.Repeat([]byte("abcdefgh"), 40_000), {}} {
		b := dbatch{base: 7, baseTS: ts0, codec: compress.LZ4, recs: []drec{{value: v}, {delta: 1, value: v[:len(v)/2]}}}
		for _, magic := range []int8{0, 1} {
			out, err := DownConvert(b.build(t), magic, 0)
			if err != nil {
				t.Fatal(err)
			}
			compareGot(t, readBack(t, out, magic), expected([]dbatch{b}, magic, 0), magic)
		}
	}
	// The frame itself, against an independent decoder.
	for _, n := range []int{0, 1, 65535, 65536, 65537, 200_000} {
		src := bytes.Repeat([]byte("kafka lz4 "), n/10+1)[:n]
		f := appendKafkaLZ4([]byte("prefix"), src, false)
		if string(f[:6]) != "prefix" {
			t.Fatal("prefix lost")
		}
		d, err := compress.Decode(compress.LZ4, f[6:])
		if err != nil || !bytes.Equal(d, src) {
			t.Fatalf("%d bytes: %v", n, err)
		}
		broken := appendKafkaLZ4(nil, src, true)
		if _, err := compress.Decode(compress.LZ4, broken); err == nil && n > 0 {
			t.Logf("%d bytes: the standard decoder accepts the broken checksum", n)
		}
		if d, err := compress.Decode(compress.LZ4, fixLZ4HeaderChecksum(broken)); err != nil || !bytes.Equal(d, src) {
			t.Fatalf("%d bytes, broken HC: %v", n, err)
		}
	}
}

func TestDownConvertZstd(t *testing.T) {
	gz := dbatch{base: 0, baseTS: ts0, codec: compress.Gzip, recs: sampleRecs(3, false)}
	zs := dbatch{base: 3, baseTS: ts0, codec: compress.Zstd, recs: sampleRecs(3, false)}
	tail := dbatch{base: 6, baseTS: ts0, recs: sampleRecs(2, false)}
	for _, magic := range []int8{0, 1} {
		// zstd first: nothing converted.
		out, err := DownConvert(concat(t, []dbatch{zs, tail}), magic, 0)
		if !errors.Is(err, ErrZstdDownConvert) || len(out) != 0 {
			t.Fatalf("zstd first: %d bytes, %v", len(out), err)
		}
		// zstd after a gzip batch: the gzip batch's messages come back.
		out, err = DownConvert(concat(t, []dbatch{gz, zs, tail}), magic, 0)
		if !errors.Is(err, ErrZstdDownConvert) {
			t.Fatalf("zstd second: %v", err)
		}
		compareGot(t, readBack(t, out, magic), expected([]dbatch{gz}, magic, 0), magic)
		// A zstd batch below the fetch offset is skipped.
		out, err = DownConvert(concat(t, []dbatch{zs, tail}), magic, 6)
		if err != nil {
			t.Fatal(err)
		}
		compareGot(t, readBack(t, out, magic), expected([]dbatch{tail}, magic, 0), magic)
	}
}

func TestDownConvertNothing(t *testing.T) {
	ctl := dbatch{base: 3, baseTS: ts0, control: true, recs: []drec{{key: []byte{0, 0, 0, 0}, value: []byte{0, 0, 0, 0, 0, 0}}}}
	empty := dbatch{base: 4, baseTS: ts0, recs: nil}
	one := dbatch{base: 0, baseTS: ts0, codec: compress.Snappy, recs: sampleRecs(3, false)}
	whole := concat(t, []dbatch{one})
	cases := map[string]struct {
		in  []byte
		min int64
	}{
		"nil":             {nil, 0},
		"control only":    {concat(t, []dbatch{ctl}), 0},
		"empty batch":     {concat(t, []dbatch{empty}), 0},
		"partial only":    {whole[:len(whole)-1], 0},
		"header fragment": {whole[:20], 0},
		"below min":       {whole, 3},
		"beyond":          {whole, 1 << 50},
	}
	for name, c := range cases {
		for _, magic := range []int8{0, 1} {
			out, err := DownConvert(c.in, magic, c.min)
			if err != nil || len(out) != 0 {
				t.Fatalf("%s, magic %d: %d bytes, %v", name, magic, len(out), err)
			}
		}
	}
}

func TestDownConvertErrors(t *testing.T) {
	good := dbatch{base: 0, baseTS: ts0, recs: sampleRecs(3, false)}.build(t)
	if _, err := DownConvert(good, 2, 0); err == nil {
		t.Fatal("magic 2 accepted")
	}
	if _, err := DownConvert(good, -1, 0); err == nil {
		t.Fatal("magic -1 accepted")
	}

	badMagic := bytes.Clone(good)
	badMagic[offMagic] = 1
	garbage := bytes.Clone(good)
	for i := HeaderSize; i < len(garbage); i++ {
		garbage[i] = 0xff
	}
	codec5 := bytes.Clone(good)
	binary.BigEndian.PutUint16(codec5[offAttributes:], 5)
	negBase := bytes.Clone(good)
	SetBaseOffset(negBase, -10)
	dup := dbatch{base: 0, baseTS: ts0, recs: []drec{{delta: 0, value: []byte("a")}, {delta: 0, value: []byte("b")}}}.build(t)
	cases := map[string]struct {
		in   []byte
		want error
	}{
		"bad magic after a good batch": {append(bytes.Clone(good), badMagic...), ErrBadMagic},
		"garbage records":              {garbage, ErrBadRecords},
		"codec 5":                      {codec5, ErrBadRecords},
		"negative base offset":         {negBase, ErrBadRecords},
		"repeated offset":              {dup, ErrBadRecords},
	}
	for name, c := range cases {
		for _, magic := range []int8{0, 1} {
			out, err := DownConvert(c.in, magic, math.MinInt64)
			if !errors.Is(err, c.want) || out != nil {
				t.Fatalf("%s, magic %d: %d bytes, %v (want %v)", name, magic, len(out), err, c.want)
			}
		}
	}
}

// TestDownConvertTimestamps: negative timestamps other than -1 become -1;
// -1 (a batch up-converted from magic 0) stays.
func TestDownConvertTimestamps(t *testing.T) {
	b := dbatch{base: 0, baseTS: -1, maxTS: -1, recs: []drec{{value: []byte("a")}}}
	c := dbatch{base: 1, baseTS: -50, recs: []drec{{delta: 0, tsDelta: 0, value: []byte("b")}, {delta: 1, tsDelta: 100, value: []byte("c")}}}
	for _, codec := range []int8{compress.None, compress.Gzip} {
		c.codec = codec
		out, err := DownConvert(concat(t, []dbatch{b, c}), 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		msgs := readBack(t, out, 1)
		if len(msgs) != 3 || msgs[0].ts != -1 || msgs[1].ts != -1 || msgs[2].ts != 50 {
			t.Fatalf("%s: %+v", compress.Name(codec), msgs)
		}
	}
}

// TestDownConvertManyRecords converts batches of many records, from the
// middle, with every codec.
func TestDownConvertManyRecords(t *testing.T) {
	for _, codec := range []int8{compress.None, compress.Gzip, compress.Snappy, compress.LZ4} {
		b := dbatch{base: 1000, baseTS: ts0, codec: codec, recs: sampleRecs(3000, true)}
		for _, magic := range []int8{0, 1} {
			out, err := DownConvert(b.build(t), magic, 1500)
			if err != nil {
				t.Fatal(err)
			}
			compareGot(t, readBack(t, out, magic), expected([]dbatch{b}, magic, 1500), magic)
		}
	}
}

// kafkaPythonDecode is run by Debian's kafka-python 2.0.2: it decodes each
// file named on the command line as a fetched message set with the client's
// own record reader (kafka.record.MemoryRecords, LegacyRecordBatch: CRCs,
// codecs including the magic 0 LZ4 framing, relative offsets), and prints
// one JSON list per file of [offset, timestamp, timestamp type, key hex,
// value hex] (null for null), or null when the file needs the xxhash module
// (kafka-python's magic 0 LZ4 path) and it is missing.
const kafkaPythonDecode = `
import json, sys
import kafka.codec
from kafka.record import MemoryRecords
for path in sys.argv[1:]:
    if path.endswith("-m0-lz4") and kafka.codec.xxhash is None:
        print("null")
        continue
    with open(path, "rb") as f:
        mr = MemoryRecords(f.read())
    out = []
    while True:
        b = mr.next_batch()
        if b is None:
            break
        if not b.validate_crc():
            raise SystemExit("bad CRC in " + path)
        for r in b:
            out.append([r.offset, r.timestamp, r.timestamp_type,
                        None if r.key is None else bytes(r.key).hex(),
                        None if r.value is None else bytes(r.value).hex()])
    print(json.dumps(out))
`

// TestDownConvertKafkaPython has a real client's decoder read the
// down-converted sets. It is skipped without kafka-python (failed under
// CHRONIK_REQUIRE_CLIENTS, as CI installs it).
func TestDownConvertKafkaPython(t *testing.T) {
	py := ""
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(p, "-c", "import kafka.record, lz4.frame, snappy").Run() == nil {
			py = p
			break
		}
	}
	if py == "" {
		msg := "no python3 with kafka-python, lz4 and snappy (apt-get install python3-kafka python3-lz4 python3-snappy)"
		if os.Getenv("CHRONIK_REQUIRE_CLIENTS") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	type tcase struct {
		magic int8
		want  []got
		file  string
	}
	var cases []tcase
	dir := t.TempDir()
	for _, magic := range []int8{0, 1} {
		for _, codec := range []int8{compress.None, compress.Gzip, compress.Snappy, compress.LZ4} {
			for _, lat := range []bool{false, true} {
				batches := logOf(codec, lat)
				out, err := DownConvert(concat(t, batches), magic, 3)
				if err != nil {
					t.Fatal(err)
				}
				c := tcase{magic: magic, want: expected(batches, magic, 3),
					file: filepath.Join(dir, fmt.Sprintf("lat=%v-m%d-%s", lat, magic, compress.Name(codec)))}
				if err := os.WriteFile(c.file, out, 0o644); err != nil {
					t.Fatal(err)
				}
				cases = append(cases, c)
			}
		}
	}
	args := []string{"-c", kafkaPythonDecode}
	for _, c := range cases {
		args = append(args, c.file)
	}
	raw, err := exec.Command(py, args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("kafka-python: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(raw), []byte("\n"))
	if len(lines) != len(cases) {
		t.Fatalf("%d outputs for %d cases", len(lines), len(cases))
	}
	unhex := func(p *string) []byte {
		if p == nil {
			return nil
		}
		b, err := hex.DecodeString(*p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for i, c := range cases {
		var recs [][5]json.RawMessage
		if err := json.Unmarshal(lines[i], &recs); err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if recs == nil {
			t.Logf("%s: not checked, kafka-python needs python3-xxhash for magic 0 LZ4", filepath.Base(c.file))
			continue
		}
		var msgs []got
		for _, r := range recs {
			var (
				g      got
				ts, tt *int64
				k, v   *string
			)
			for j, dst := range []any{&g.offset, &ts, &tt, &k, &v} {
				if err := json.Unmarshal(r[j], dst); err != nil {
					t.Fatal(err)
				}
			}
			if (c.magic == 0) != (ts == nil) || (c.magic == 0) != (tt == nil) {
				t.Fatalf("%s: offset %d: timestamp %v type %v for magic %d", c.file, g.offset, ts, tt, c.magic)
			}
			if c.magic == 1 {
				g.ts = *ts
				if *tt == 1 {
					g.attrs = legacyAttrLAT
				}
			}
			g.key, g.value = unhex(k), unhex(v)
			msgs = append(msgs, g)
		}
		t.Run(filepath.Base(c.file), func(t *testing.T) { compareGot(t, msgs, c.want, c.magic) })
	}
}

func FuzzDownConvert(f *testing.F) {
	for _, codec := range []int8{compress.None, compress.Gzip, compress.Snappy, compress.LZ4, compress.Zstd} {
		f.Add(concat(f, logOf(codec, codec == compress.Snappy)), int8(1), int64(3))
		f.Add(concat(f, logOf(codec, false))[:200], int8(0), int64(0))
	}
	f.Add([]byte{}, int8(0), int64(0))
	f.Add(make([]byte, HeaderSize), int8(1), int64(-1))
	f.Fuzz(func(t *testing.T, b []byte, magic int8, minOffset int64) {
		in := bytes.Clone(b)
		out, err := DownConvert(b, magic, minOffset)
		if !bytes.Equal(in, b) {
			t.Fatal("input modified")
		}
		if magic != 0 && magic != 1 {
			if err == nil || out != nil {
				t.Fatalf("magic %d accepted", magic)
			}
			return
		}
		if err != nil && !errors.Is(err, ErrZstdDownConvert) {
			if out != nil {
				t.Fatalf("output with error %v", err)
			}
			return
		}
		if len(out) == 0 {
			return
		}
		// Every top-level message is valid and converts back; uncompressed
		// messages are at or past minOffset. (Offsets increase within a
		// batch; across batches only the log guarantees it.)
		top, perr := parseLegacySet(out, "output")
		if perr != nil {
			t.Fatalf("output does not parse: %v", perr)
		}
		pos := 0
		for i, m := range top {
			size := legacyLogOverhead + int(binary.BigEndian.Uint32(out[pos+8:]))
			if _, err := ConvertLegacy(out[pos:pos+size], testNow); err != nil {
				t.Fatalf("message %d: ConvertLegacy: %v", i, err)
			}
			pos += size
			if m.magic != magic || m.offset < 0 || (m.codec() == compress.None && m.offset < minOffset) {
				t.Fatalf("message %d: magic %d offset %d (min %d)", i, m.magic, m.offset, minOffset)
			}
			if crc32.ChecksumIEEE(out[pos-size+legacyLogOverhead+4:pos]) != binary.BigEndian.Uint32(out[pos-size+legacyLogOverhead:]) {
				t.Fatalf("message %d: bad CRC", i)
			}
		}
	})
}
