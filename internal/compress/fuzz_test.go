package compress

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// fuzzMax keeps fuzzing fast and checks the limit is enforced.
const fuzzMax = 1 << 20

// seedInputs are the payloads the committed corpus is built from.
func seedInputs() [][]byte {
	return [][]byte{
		nil,
		[]byte("a"),
		[]byte("hello hello hello hello kafka"),
		bytes.Repeat([]byte{0}, 4096),
		bytes.Repeat([]byte("0123456789abcdef"), 3000), // > one xerial chunk
	}
}

func addSeeds(f *testing.F) {
	xerial := NewEncoder(EncoderOptions{SnappyXerial: true})
	for _, in := range seedInputs() {
		for _, c := range allCodecs {
			out, _ := Encode(c, in, nil)
			f.Add(c, out)
			if c == Snappy {
				out, _ = xerial.Encode(c, in, nil)
				f.Add(c, out)
			}
		}
	}
	f.Add(int8(9), []byte("unknown codec"))
	f.Add(Snappy, xerialFrame(1, 1, []byte("hand built"), []byte("chunks")))
}

// FuzzDecode feeds arbitrary bytes to every codec: decoding must never panic,
// never exceed the limit, and anything that decodes must be reproducible
// through a round trip.
func FuzzDecode(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, codec int8, data []byte) {
		out, err := DecodeLimit(codec, data, fuzzMax)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrUnknownCodec) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if len(out) > fuzzMax {
			t.Fatalf("decoded %d bytes past limit %d", len(out), fuzzMax)
		}
		// Re-encoding what we decoded must round-trip.
		enc, err := Encode(codec, out, nil)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeLimit(codec, enc, fuzzMax)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !bytes.Equal(back, out) {
			t.Fatal("round trip of decoded data mismatched")
		}
	})
}

// FuzzRoundTrip checks Encode/Decode are inverse for arbitrary input.
func FuzzRoundTrip(f *testing.F) {
	for _, in := range seedInputs() {
		for _, c := range allCodecs {
			f.Add(c, false, in)
		}
		f.Add(Snappy, true, in)
	}
	xerial := NewEncoder(EncoderOptions{SnappyXerial: true})
	f.Fuzz(func(t *testing.T, codec int8, useXerial bool, in []byte) {
		if !Valid(codec) {
			return
		}
		enc := Encode
		if useXerial {
			enc = xerial.Encode
		}
		out, err := enc(codec, in, nil)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Decode(codec, out)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(back, in) {
			t.Fatal("mismatch")
		}
	})
}

// TestWriteFuzzCorpus regenerates testdata/fuzz/FuzzDecode from addSeeds.
// Run with CHRONIK_WRITE_CORPUS=1 after changing the seeds or encoders.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("CHRONIK_WRITE_CORPUS") == "" {
		t.Skip("set CHRONIK_WRITE_CORPUS=1 to regenerate the committed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	names := []string{"none", "gzip", "snappy", "lz4", "zstd"}
	write := func(name string, codec int8, data []byte) {
		body := "go test fuzz v1\nint8(" + strconv.Itoa(int(codec)) + ")\n[]byte(" + strconv.Quote(string(data)) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	xerial := NewEncoder(EncoderOptions{SnappyXerial: true})
	for i, in := range seedInputs() {
		for _, c := range allCodecs {
			out, _ := Encode(c, in, nil)
			write(names[c]+"-"+strconv.Itoa(i), c, out)
		}
		out, _ := xerial.Encode(Snappy, in, nil)
		write("snappy-xerial-"+strconv.Itoa(i), Snappy, out)
		// Damaged variants steer the fuzzer toward error paths.
		for _, c := range []int8{Gzip, Snappy, LZ4, Zstd} {
			out, _ := Encode(c, in, nil)
			if len(out) > 4 {
				write(names[c]+"-trunc-"+strconv.Itoa(i), c, out[:len(out)-3])
			}
		}
	}
	write("snappy-xerial-handbuilt", Snappy, xerialFrame(1, 1, []byte("hand built"), []byte("chunks")))
	write("unknown-codec", 9, []byte("x"))
	// Bombs: 2 MiB of zeros, past fuzzMax.
	bomb := make([]byte, 2<<20)
	for _, c := range []int8{Gzip, LZ4, Zstd} {
		out, _ := Encode(c, bomb, nil)
		write(names[c]+"-bomb", c, out)
	}
	// A snappy block header claiming 1 GiB in front of a one-byte literal.
	claim := binary.AppendUvarint(nil, 1<<30)
	write("snappy-bomb", Snappy, append(claim, 0x00, 'a'))
	write("snappy-xerial-bomb", Snappy, append(binary.BigEndian.AppendUint32(xerialFrame(1, 1), uint32(len(claim)+2)), append(claim, 0x00, 'a')...))
}
