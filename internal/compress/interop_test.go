package compress

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var franzCodecs = map[int8]kgo.CompressionCodec{
	Gzip:   kgo.GzipCompression(),
	Snappy: kgo.SnappyCompression(),
	LZ4:    kgo.Lz4Compression(),
	Zstd:   kgo.ZstdCompression(),
}

// TestFranzGoInterop decodes franz-go's compressor output with our decoder
// and our encoder output with franz-go's decompressor.
func TestFranzGoInterop(t *testing.T) {
	dec := kgo.DefaultDecompressor()
	for name, in := range testInputs() {
		for c, fc := range franzCodecs {
			t.Run(Name(c)+"/"+name, func(t *testing.T) {
				comp, err := kgo.DefaultCompressor(fc)
				if err != nil {
					t.Fatal(err)
				}
				theirs, used := comp.Compress(new(bytes.Buffer), in)
				if int8(used) != c {
					// franz-go falls back to none when compression does
					// not shrink the input.
					if used != kgo.CodecNone {
						t.Fatalf("franz-go used codec %d", used)
					}
				} else {
					got, err := Decode(c, theirs)
					if err != nil {
						t.Fatalf("decoding franz-go output: %v", err)
					}
					if !bytes.Equal(got, in) {
						t.Fatal("franz-go -> chronik mismatch")
					}
				}

				for _, xerial := range []bool{false, true} {
					ours, err := NewEncoder(EncoderOptions{SnappyXerial: xerial}).Encode(c, in, nil)
					if err != nil {
						t.Fatal(err)
					}
					got, err := dec.Decompress(ours, kgo.CompressionCodecType(c))
					if err != nil {
						t.Fatalf("franz-go decoding ours (xerial=%v): %v", xerial, err)
					}
					if !bytes.Equal(got, in) {
						t.Fatal("chronik -> franz-go mismatch")
					}
				}
			})
		}
	}
}

// TestFranzGoProducedBatches produces with kgo to kfake using each codec,
// captures the record batches exactly as sent on the wire, and decodes their
// compressed payloads. (franz-go writes xerial snappy only when it merges
// backed-up batches; that layout is covered by TestXerialHandBuilt and by
// TestFranzGoInterop decoding our xerial output with franz-go.)
func TestFranzGoProducedBatches(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	var (
		mu      sync.Mutex
		batches []kmsg.RecordBatch
	)
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		pr := req.(*kmsg.ProduceRequest)
		mu.Lock()
		defer mu.Unlock()
		for _, tp := range pr.Topics {
			for _, p := range tp.Partitions {
				raw := p.Records
				for len(raw) > 0 {
					var b kmsg.RecordBatch
					if err := b.ReadFrom(raw); err != nil {
						t.Errorf("parsing batch: %v", err)
						return nil, nil, false
					}
					n := int(b.Length) + 12
					raw = raw[n:]
					batches = append(batches, b)
				}
			}
		}
		return nil, nil, false
	})

	for codec, fc := range franzCodecs {
		for _, big := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/big=%v", Name(codec), big), func(t *testing.T) {
				cl, err := kgo.NewClient(
					kgo.SeedBrokers(c.ListenAddrs()...),
					kgo.ProducerBatchCompression(fc),
					kgo.ProducerLinger(50*time.Millisecond),
					kgo.ProducerBatchMaxBytes(4<<20),
					kgo.MaxBufferedRecords(1<<20),
				)
				if err != nil {
					t.Fatal(err)
				}
				defer cl.Close()
				mu.Lock()
				batches = nil
				mu.Unlock()

				n, size := 50, 100
				if big {
					n, size = 200, 2048
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				var wg sync.WaitGroup
				for i := 0; i < n; i++ {
					v := bytes.Repeat([]byte(fmt.Sprintf("value-%05d|", i)), size/12)
					wg.Add(1)
					cl.Produce(ctx, &kgo.Record{Topic: "t", Value: v}, func(_ *kgo.Record, err error) {
						defer wg.Done()
						if err != nil {
							t.Error(err)
						}
					})
				}
				wg.Wait()

				mu.Lock()
				defer mu.Unlock()
				if len(batches) == 0 {
					t.Fatal("no batches captured")
				}
				var sawXerial bool
				for _, b := range batches {
					got := int8(b.Attributes & CodecMask)
					if got != codec {
						t.Fatalf("batch codec %d, want %d", got, codec)
					}
					sawXerial = sawXerial || IsXerial(b.Records)
					raw, err := Decode(got, b.Records)
					if err != nil {
						t.Fatalf("decode %s batch of %d records: %v", Name(got), b.NumRecords, err)
					}
					recs, err := parseRecords(raw, int(b.NumRecords))
					if err != nil {
						t.Fatal(err)
					}
					for _, r := range recs {
						if !bytes.HasPrefix(r.Value, []byte("value-")) {
							t.Fatalf("bad record value %q", trunc(r.Value))
						}
					}
				}
				t.Logf("%d batches, xerial framing seen: %v", len(batches), sawXerial)
			})
		}
	}
}

func parseRecords(raw []byte, n int) ([]kmsg.Record, error) {
	recs := make([]kmsg.Record, 0, n)
	for i := 0; i < n; i++ {
		l, used := varint(raw)
		if used <= 0 || int(l) > len(raw)-used {
			return nil, fmt.Errorf("record %d: bad length", i)
		}
		var r kmsg.Record
		if err := r.ReadFrom(raw[:used+int(l)]); err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		recs = append(recs, r)
		raw = raw[used+int(l):]
	}
	if len(raw) != 0 {
		return nil, fmt.Errorf("%d trailing bytes", len(raw))
	}
	return recs, nil
}

func varint(b []byte) (int64, int) {
	var ux uint64
	for i := 0; i < len(b) && i < 10; i++ {
		ux |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return int64(ux>>1) ^ -int64(ux&1), i + 1
		}
	}
	return 0, 0
}
