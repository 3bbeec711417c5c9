package compress

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/klauspost/compress/snappy"
)

var allCodecs = []int8{None, Gzip, Snappy, LZ4, Zstd}

// testInputs returns named payloads covering empty, tiny, incompressible,
// compressible and multi-chunk (for xerial and lz4 blocks) inputs.
func testInputs() map[string][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 300<<10)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	var text bytes.Buffer
	for i := 0; text.Len() < 1<<20; i++ {
		fmt.Fprintf(&text, `{"id":%d,"user":"user-%d","event":"click","ok":true}`+"\n", i, i%97)
	}
	return map[string][]byte{
		"empty":  {},
		"one":    {'x'},
		"small":  []byte("hello, kafka record batch"),
		"random": random,
		"json":   text.Bytes(),
		"zeros":  make([]byte, 2<<20),
	}
}

func TestRoundTrip(t *testing.T) {
	xerial := NewEncoder(EncoderOptions{SnappyXerial: true})
	levels := NewEncoder(EncoderOptions{GzipLevel: 9, LZ4Level: 9, ZstdLevel: 4})
	encoders := map[string]func(int8, []byte, []byte) ([]byte, error){
		"default": Encode,
		"xerial":  xerial.Encode,
		"levels":  levels.Encode,
	}
	for name, in := range testInputs() {
		for encName, enc := range encoders {
			for _, c := range allCodecs {
				t.Run(fmt.Sprintf("%s/%s/%s", Name(c), encName, name), func(t *testing.T) {
					prefix := []byte("prefix")
					out, err := enc(c, in, append([]byte(nil), prefix...))
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.HasPrefix(out, prefix) {
						t.Fatal("Encode did not append to dst")
					}
					got, err := Decode(c, out[len(prefix):])
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, in) {
						t.Fatalf("round trip mismatch: got %d bytes, want %d", len(got), len(in))
					}
					// AppendDecode keeps the prefix and an exact limit passes.
					got, err = AppendDecode(append([]byte(nil), prefix...), c, out[len(prefix):], len(in)+1)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, append(append([]byte(nil), prefix...), in...)) {
						t.Fatal("AppendDecode mismatch")
					}
					if encName == "xerial" && c == Snappy && !IsXerial(out[len(prefix):]) {
						t.Fatal("xerial encoder did not frame")
					}
				})
			}
		}
	}
}

func TestDecodeLimit(t *testing.T) {
	in := make([]byte, 1<<20) // compresses extremely well
	for _, c := range allCodecs {
		for _, xerial := range []bool{false, true} {
			if xerial && c != Snappy {
				continue
			}
			enc := NewEncoder(EncoderOptions{SnappyXerial: xerial})
			t.Run(fmt.Sprintf("%s/xerial=%v", Name(c), xerial), func(t *testing.T) {
				comp, err := enc.Encode(c, in, nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, max := range []int{1, 1000, len(in) - 1} {
					if _, err := DecodeLimit(c, comp, max); !errors.Is(err, ErrTooLarge) {
						t.Fatalf("max %d: got err %v, want ErrTooLarge", max, err)
					}
				}
				got, err := DecodeLimit(c, comp, len(in))
				if err != nil || len(got) != len(in) {
					t.Fatalf("exact limit: len %d err %v", len(got), err)
				}
			})
		}
	}
}

// TestDecodeBombBounded checks that a highly compressed payload claiming
// far more output than allowed fails without allocating the full output.
func TestDecodeBombBounded(t *testing.T) {
	big := make([]byte, 64<<20)
	for _, c := range []int8{Gzip, LZ4, Zstd, Snappy} {
		comp, err := Encode(c, big, nil)
		if err != nil {
			t.Fatal(err)
		}
		var before, after runtimeMem
		before.read()
		_, err = DecodeLimit(c, comp, 1<<20)
		after.read()
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("%s: err %v, want ErrTooLarge", Name(c), err)
		}
		if grew := after.total - before.total; grew > 32<<20 {
			t.Errorf("%s: allocated %d MiB decoding a bomb with a 1 MiB limit", Name(c), grew>>20)
		}
	}
}

func TestUnknownCodec(t *testing.T) {
	for _, c := range []int8{-1, 5, 7, 100} {
		if _, err := Decode(c, []byte("x")); !errors.Is(err, ErrUnknownCodec) {
			t.Errorf("Decode(%d): %v", c, err)
		}
		if _, err := Encode(c, []byte("x"), nil); !errors.Is(err, ErrUnknownCodec) {
			t.Errorf("Encode(%d): %v", c, err)
		}
	}
	if _, err := Parse("brotli"); !errors.Is(err, ErrUnknownCodec) {
		t.Errorf("Parse: %v", err)
	}
	for _, c := range allCodecs {
		if got, err := Parse(Name(c)); err != nil || got != c {
			t.Errorf("Parse(Name(%d)) = %d, %v", c, got, err)
		}
	}
}

func TestCorruptInput(t *testing.T) {
	in := testInputs()["json"][:100<<10]
	for _, c := range []int8{Gzip, Snappy, LZ4, Zstd} {
		comp, err := Encode(c, in, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range [][]byte{
			comp[:len(comp)/2],
			append(append([]byte(nil), comp[:len(comp)/2]...), bytes.Repeat([]byte{0xff}, 64)...),
			[]byte("definitely not compressed"),
		} {
			if _, err := Decode(c, bad); err == nil {
				t.Errorf("%s: corrupt input decoded without error", Name(c))
			} else if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTooLarge) {
				t.Errorf("%s: err %v is neither ErrCorrupt nor ErrTooLarge", Name(c), err)
			}
		}
	}
}

// xerialFrame builds a snappy-java stream by hand: magic, version,
// compatible version, then (big-endian length, raw snappy block) chunks.
func xerialFrame(version, compat uint32, chunks ...[]byte) []byte {
	b := []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}
	b = binary.BigEndian.AppendUint32(b, version)
	b = binary.BigEndian.AppendUint32(b, compat)
	for _, c := range chunks {
		enc := snappy.Encode(nil, c)
		b = binary.BigEndian.AppendUint32(b, uint32(len(enc)))
		b = append(b, enc...)
	}
	return b
}

func TestXerialHandBuilt(t *testing.T) {
	a := bytes.Repeat([]byte("abcdefgh"), 4096) // 32 KiB, one full chunk
	b := []byte("tail chunk")
	cases := []struct {
		name  string
		frame []byte
		want  []byte
	}{
		{"single", xerialFrame(1, 1, []byte("hello xerial")), []byte("hello xerial")},
		{"multi", xerialFrame(1, 1, a, b), append(append([]byte(nil), a...), b...)},
		{"empty-stream", xerialFrame(1, 1), nil},
		{"empty-chunk", xerialFrame(1, 1, nil, b), b},
		{"old-version", xerialFrame(0, 0, b), b},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(Snappy, tc.frame)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("got %q want %q", trunc(got), trunc(tc.want))
			}
		})
	}

	// Our xerial encoder emits exactly this layout.
	if got, want := AppendXerial(nil, a), xerialFrame(1, 1, a); !IsXerial(got) || len(got) < xerialHeaderLen || !bytes.Equal(got[:xerialHeaderLen], want[:xerialHeaderLen]) {
		t.Fatal("AppendXerial header differs from snappy-java's")
	}

	good := xerialFrame(1, 1, a, b)
	bad := map[string][]byte{
		"truncated-length": good[:xerialHeaderLen+2],
		"truncated-chunk":  good[:len(good)-3],
		"length-overflow":  append(xerialFrame(1, 1), 0xff, 0xff, 0xff, 0xff, 0),
		"garbage-chunk":    append(xerialFrame(1, 1), 0, 0, 0, 3, 0xff, 0xff, 0xff),
	}
	for name, f := range bad {
		if _, err := Decode(Snappy, f); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err %v, want ErrCorrupt", name, err)
		}
	}
	// The limit applies to the sum of chunks.
	if _, err := DecodeLimit(Snappy, good, len(a)+len(b)-1); !errors.Is(err, ErrTooLarge) {
		t.Errorf("multi-chunk limit: %v", err)
	}
}

func trunc(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

func TestConcurrentUse(t *testing.T) {
	in := testInputs()["json"][:256<<10]
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf, out []byte
			for i := 0; i < 20; i++ {
				c := allCodecs[(g+i)%len(allCodecs)]
				var err error
				buf, err = Encode(c, in, buf[:0])
				if err != nil {
					errs <- err
					return
				}
				out, err = AppendDecode(out[:0], c, buf, 0)
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(out, in) {
					errs <- fmt.Errorf("%s mismatch", Name(c))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestDecoderType(t *testing.T) {
	d := NewDecoder(10)
	comp, _ := Encode(Zstd, make([]byte, 11), nil)
	if _, err := d.Decode(Zstd, comp, nil); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err %v", err)
	}
	var zero Decoder
	if out, err := zero.Decode(Zstd, comp, nil); err != nil || len(out) != 11 {
		t.Fatalf("zero Decoder: %d %v", len(out), err)
	}
}

func BenchmarkEncode(b *testing.B) {
	in := testInputs()["json"][:256<<10]
	for _, c := range allCodecs {
		b.Run(Name(c), func(b *testing.B) {
			var buf []byte
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = Encode(c, in, buf[:0])
			}
			b.ReportMetric(float64(len(in))/float64(len(buf)), "ratio")
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	in := testInputs()["json"][:256<<10]
	for _, c := range allCodecs {
		b.Run(Name(c), func(b *testing.B) {
			comp, err := Encode(c, in, nil)
			if err != nil {
				b.Fatal(err)
			}
			var out []byte
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				out, err = AppendDecode(out[:0], c, comp, 0)
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
