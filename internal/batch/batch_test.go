package batch_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/chronik-streaming/chronik/internal/batch"
	"github.com/chronik-streaming/chronik/internal/batch/batchtest"
	"github.com/chronik-streaming/chronik/internal/compress"
)

func TestParseHeaderFields(t *testing.T) {
	b := batchtest.Build(batchtest.Options{
		N: 3, ValueSize: 10, BaseTimestamp: 1000, TimestampDeltas: []int64{0, 5, 2},
		Idempotent: true, ProducerID: 42, ProducerEpoch: 3, BaseSequence: 7,
		Transactional: true, Codec: compress.Gzip, BaseOffset: 99, LeaderEpoch: 4,
	})
	h, err := batch.Validate(b)
	if err != nil {
		t.Fatal(err)
	}
	want := batch.Header{
		BaseOffset: 99, BatchLength: int32(len(b) - 12), PartitionLeaderEpoch: 4, Magic: 2,
		CRC: binary.BigEndian.Uint32(b[17:]), Attributes: 0x10 | 1, LastOffsetDelta: 2,
		BaseTimestamp: 1000, MaxTimestamp: 1005, ProducerID: 42, ProducerEpoch: 3,
		BaseSequence: 7, NumRecords: 3,
	}
	if h != want {
		t.Fatalf("header\n got %+v\nwant %+v", h, want)
	}
	if h.Codec() != compress.Gzip || !h.IsTransactional() || h.IsControl() || h.IsLogAppendTime() ||
		h.TimestampType() != batch.CreateTime || h.HasDeleteHorizon() {
		t.Fatalf("attribute helpers wrong for %x", h.Attributes)
	}
	if h.LastOffset() != 101 || h.NextOffset() != 102 || h.Size() != int64(len(b)) || h.LastSequence() != 9 {
		t.Fatalf("derived values wrong: %d %d %d %d", h.LastOffset(), h.NextOffset(), h.Size(), h.LastSequence())
	}
}

func TestParseHeaderErrors(t *testing.T) {
	b := batchtest.Simple(2, 5, 1)
	for n := 0; n < batch.HeaderSize; n++ {
		if _, err := batch.ParseHeader(b[:n]); !errors.Is(err, batch.ErrTruncated) {
			t.Fatalf("len %d: err %v", n, err)
		}
	}
	bad := bytes.Clone(b)
	bad[16] = 1
	if _, err := batch.ParseHeader(bad); !errors.Is(err, batch.ErrBadMagic) {
		t.Fatalf("magic: %v", err)
	}
	bad = bytes.Clone(b)
	binary.BigEndian.PutUint32(bad[8:], 48)
	if _, err := batch.ParseHeader(bad); !errors.Is(err, batch.ErrBadLength) {
		t.Fatalf("length: %v", err)
	}
	binary.BigEndian.PutUint32(bad[8:], 0x80000000)
	if _, err := batch.ParseHeader(bad); !errors.Is(err, batch.ErrBadLength) {
		t.Fatalf("negative length: %v", err)
	}
}

func TestValidate(t *testing.T) {
	b := batchtest.Simple(3, 20, 1)
	if _, err := batch.Validate(b); err != nil {
		t.Fatal(err)
	}
	if _, err := batch.Validate(b[:len(b)-1]); !errors.Is(err, batch.ErrTruncated) {
		t.Fatalf("truncated: %v", err)
	}
	if _, err := batch.Validate(append(bytes.Clone(b), b...)); !errors.Is(err, batch.ErrBadLength) {
		t.Fatalf("two batches: %v", err)
	}
	bad := bytes.Clone(b)
	bad[len(bad)-1] ^= 1
	if _, err := batch.Validate(bad); !errors.Is(err, batch.ErrBadCRC) {
		t.Fatalf("crc: %v", err)
	}
	if err := batch.VerifyCRC(bad); !errors.Is(err, batch.ErrBadCRC) {
		t.Fatalf("VerifyCRC: %v", err)
	}
	bad = bytes.Clone(b)
	binary.BigEndian.PutUint32(bad[23:], 5) // lastOffsetDelta
	batchtest.Fix(bad)
	if _, err := batch.Validate(bad); !errors.Is(err, batch.ErrBadCount) {
		t.Fatalf("count: %v", err)
	}
	// Base offset and leader epoch are outside the CRC.
	batch.SetBaseOffset(b, 1<<40)
	batch.SetPartitionLeaderEpoch(b, 77)
	h, err := batch.Validate(b)
	if err != nil || h.BaseOffset != 1<<40 || h.PartitionLeaderEpoch != 77 {
		t.Fatalf("after setters: %+v %v", h, err)
	}
}

func TestSetLogAppendTime(t *testing.T) {
	b := batchtest.Build(batchtest.Options{N: 2, ValueSize: 3, BaseTimestamp: 10, Codec: compress.Snappy})
	batch.SetLogAppendTime(b, 123456)
	h, err := batch.Validate(b)
	if err != nil {
		t.Fatal(err)
	}
	if !h.IsLogAppendTime() || h.MaxTimestamp != 123456 || h.Codec() != compress.Snappy {
		t.Fatalf("%+v", h)
	}
	recs, err := batch.Records(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		if ts := h.Timestamp(&recs[i]); ts != 123456 {
			t.Fatalf("record %d ts %d", i, ts)
		}
	}
	batch.SetMaxTimestamp(b, batch.CreateTime, 11)
	if h, err = batch.Validate(b); err != nil || h.IsLogAppendTime() || h.MaxTimestamp != 11 {
		t.Fatalf("%+v %v", h, err)
	}
	// Short input must not panic.
	batch.SetLogAppendTime(b[:10], 1)
	batch.SetBaseOffset(b[:3], 1)
	batch.SetPartitionLeaderEpoch(b[:3], 1)
	_ = batch.ComputeCRC(b[:3])
}

func TestIncrementSequence(t *testing.T) {
	const max = 1<<31 - 1
	cases := []struct{ seq, n, want int32 }{
		{0, 0, 0}, {0, 4, 4}, {max, 0, max}, {max, 1, 0}, {max - 1, 3, 1},
	}
	for _, c := range cases {
		if got := batch.IncrementSequence(c.seq, c.n); got != c.want {
			t.Errorf("IncrementSequence(%d,%d) = %d, want %d", c.seq, c.n, got, c.want)
		}
	}
}

func TestSplit(t *testing.T) {
	b1 := batchtest.Simple(1, 10, 1)
	b2 := batchtest.Simple(2, 30, 2)
	b3 := batchtest.Simple(3, 5, 3)
	all := append(append(append([]byte(nil), b1...), b2...), b3...)
	batches, tail, err := batch.Split(all)
	if err != nil || len(tail) != 0 || len(batches) != 3 ||
		!bytes.Equal(batches[0], b1) || !bytes.Equal(batches[1], b2) || !bytes.Equal(batches[2], b3) {
		t.Fatalf("split: %d batches, tail %d, err %v", len(batches), len(tail), err)
	}
	// Every truncation point yields the whole batches before it and a tail.
	for cut := 0; cut <= len(all); cut++ {
		batches, tail, err := batch.Split(all[:cut])
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		n := 0
		for _, x := range batches {
			n += len(x)
		}
		if n+len(tail) != cut {
			t.Fatalf("cut %d: %d + %d", cut, n, len(tail))
		}
		end, cnt := batch.WholeBatchesEnd(all[:cut])
		if end != n || cnt != len(batches) {
			t.Fatalf("cut %d: WholeBatchesEnd %d,%d want %d,%d", cut, end, cnt, n, len(batches))
		}
	}
	// A bad header stops the walk.
	bad := bytes.Clone(all)
	bad[len(b1)+16] = 0
	batches, tail, err = batch.Split(bad)
	if !errors.Is(err, batch.ErrBadMagic) || len(batches) != 1 || len(tail) != len(b2)+len(b3) {
		t.Fatalf("bad magic: %d batches tail %d err %v", len(batches), len(tail), err)
	}
	// A bad magic visible in a short tail is reported too.
	if _, _, err := batch.Split(bad[len(b1) : len(b1)+20]); !errors.Is(err, batch.ErrBadMagic) {
		t.Fatalf("short bad magic: %v", err)
	}
	it := batch.NewIterator(all)
	var pos []int
	for it.Next() {
		pos = append(pos, it.Pos())
	}
	if len(pos) != 3 || pos[1] != len(b1) || pos[2] != len(b1)+len(b2) {
		t.Fatalf("positions %v", pos)
	}
}

func TestRecordsAllCodecs(t *testing.T) {
	for _, codec := range []int8{compress.None, compress.Gzip, compress.Snappy, compress.LZ4, compress.Zstd} {
		vals := [][]byte{[]byte("a"), nil, bytes.Repeat([]byte("xyz"), 100)}
		b := batchtest.Build(batchtest.Options{
			Values: vals, Keys: [][]byte{[]byte("k0")}, Codec: codec,
			BaseTimestamp: 500, TimestampDeltas: []int64{0, -3, 9}, BaseOffset: 10,
		})
		h, err := batch.Validate(b)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := batch.Records(b)
		if err != nil {
			t.Fatalf("codec %d: %v", codec, err)
		}
		if len(recs) != 3 {
			t.Fatalf("codec %d: %d records", codec, len(recs))
		}
		wantTS := []int64{500, 497, 509}
		for i, r := range recs {
			if !bytes.Equal(r.Value, vals[i]) || int(r.OffsetDelta) != i || h.Timestamp(&recs[i]) != wantTS[i] {
				t.Fatalf("codec %d record %d: %+v", codec, i, r)
			}
		}
		if string(recs[0].Key) != "k0" || recs[1].Key != nil {
			t.Fatalf("keys %q %q", recs[0].Key, recs[1].Key)
		}
	}
}

func TestRecordsErrors(t *testing.T) {
	b := batchtest.Simple(2, 10, 1)
	// More records declared than present.
	bad := bytes.Clone(b)
	binary.BigEndian.PutUint32(bad[57:], 3)
	if _, err := batch.Records(bad); !errors.Is(err, batch.ErrBadRecords) {
		t.Fatalf("count: %v", err)
	}
	binary.BigEndian.PutUint32(bad[57:], 1<<30)
	if _, err := batch.Records(bad); !errors.Is(err, batch.ErrBadRecords) {
		t.Fatalf("huge count: %v", err)
	}
	binary.BigEndian.PutUint32(bad[57:], 1)
	if _, err := batch.Records(bad); !errors.Is(err, batch.ErrBadRecords) {
		t.Fatalf("trailing: %v", err)
	}
	bad = bytes.Clone(b)
	bad[22] |= 4 // zstd attribute on plain bytes
	if _, err := batch.Records(bad); !errors.Is(err, batch.ErrBadRecords) {
		t.Fatalf("codec: %v", err)
	}
	if _, err := batch.Records(b[:len(b)-1]); !errors.Is(err, batch.ErrTruncated) {
		t.Fatalf("truncated: %v", err)
	}
}
