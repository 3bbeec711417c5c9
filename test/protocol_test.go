package test

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/batch/batchtest"
)

// rawRequest frames a request with header v1 (or v2 for flexible versions).
func rawRequest(req kmsg.Request, correlation int32) []byte {
	var b []byte
	b = binary.BigEndian.AppendUint16(b, uint16(req.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(req.GetVersion()))
	b = binary.BigEndian.AppendUint32(b, uint32(correlation))
	b = binary.BigEndian.AppendUint16(b, 4)
	b = append(b, "test"...)
	if req.IsFlexible() {
		b = append(b, 0)
	}
	b = req.AppendTo(b)
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
}

func readFrame(t *testing.T, c net.Conn) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		t.Fatalf("read response size: %v", err)
	}
	b := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("read response: %v", err)
	}
	return b
}

// expectClosed asserts the broker closes the connection.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatalf("connection still open (read %d bytes)", n)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("connection not closed")
	}
}

func TestApiVersionsUnsupportedVersionGetsV0Answer(t *testing.T) {
	tb := startBroker(t, "", nil)
	c, err := net.Dial("tcp", tb.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName, req.ClientSoftwareVersion = "chronik-test", "1.0"
	frame := rawRequest(req, 7)
	binary.BigEndian.PutUint16(frame[6:], 99) // a version from the future
	c.Write(frame)
	b := readFrame(t, c)
	if got := int32(binary.BigEndian.Uint32(b)); got != 7 {
		t.Fatalf("correlation id %d", got)
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0
	if err := resp.ReadFrom(b[4:]); err != nil {
		t.Fatalf("decode v0 answer: %v", err)
	}
	if resp.ErrorCode != kerr.UnsupportedVersion.Code || len(resp.ApiKeys) != 1 || resp.ApiKeys[0].ApiKey != 18 || resp.ApiKeys[0].MaxVersion < 3 {
		t.Fatalf("answer %+v", resp)
	}
	// The connection stays usable: the retry with v3 works, with a v0
	// response header (no tagged-field byte) despite the flexible version.
	c.Write(rawRequest(req, 8))
	b = readFrame(t, c)
	resp = kmsg.NewPtrApiVersionsResponse()
	resp.Version = 3
	if err := resp.ReadFrom(b[4:]); err != nil || resp.ErrorCode != 0 || len(resp.ApiKeys) < 10 {
		t.Fatalf("v3 answer: %v %+v", err, resp)
	}
	for _, k := range resp.ApiKeys {
		if k.ApiKey >= 76 && k.ApiKey <= 79 {
			t.Fatalf("advertises share-group api %d", k.ApiKey)
		}
	}
}

// TestBadFramesKeepBrokerUp sends hostile frames on several connections;
// each is closed, and the broker keeps serving real clients.
func TestBadFramesKeepBrokerUp(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb.admin(), "alive", 1, nil)
	meta := kmsg.NewPtrMetadataRequest()
	meta.Version = 1
	good := rawRequest(meta, 1)
	unknownKey := append([]byte(nil), good...)
	binary.BigEndian.PutUint16(unknownKey[4:], 9999)
	tooNew := append([]byte(nil), good...)
	binary.BigEndian.PutUint16(tooNew[6:], 999)
	cases := map[string][]byte{
		"max int size":      {0x7f, 0xff, 0xff, 0xff},
		"negative size":     {0xff, 0xff, 0xff, 0xfe},
		"zero size":         {0, 0, 0, 0},
		"truncated frame":   {0, 0, 0, 100, 0, 3, 0, 1},
		"garbage":           append([]byte{0, 0, 0, 20}, bytes.Repeat([]byte{0xde}, 20)...),
		"unknown api key":   unknownKey,
		"too new version":   tooNew,
		"truncated body":    append([]byte{0, 0, 0, 12}, good[4:16]...),
		"client id overrun": {0, 0, 0, 10, 0, 3, 0, 1, 0, 0, 0, 1, 0x7f, 0xff},
	}
	for name, frame := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := net.Dial("tcp", tb.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Write(frame)
			if name == "truncated frame" {
				c.(*net.TCPConn).CloseWrite()
			}
			expectClosed(t, c)
		})
	}
	if err := tb.client().ProduceSync(testContext(t), &kgo.Record{Topic: "alive", Value: []byte("still here")}).FirstErr(); err != nil {
		t.Fatalf("broker stopped serving: %v", err)
	}
}

// produceRaw sends one produce request for one batch and returns the
// partition's answer.
func produceRaw(t *testing.T, cl *kgo.Client, topic string, acks int16, batch []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks = acks
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	if td, err := kadm.NewClient(cl).ListTopics(testContext(t), topic); err == nil {
		rt.TopicID = td[topic].ID // produce v13 addresses topics by id
	}
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testContext(t), cl)
	if err != nil {
		t.Fatalf("produce: %v", err)
	}
	return resp.Topics[0].Partitions[0]
}

// TestIdempotentProduce checks Kafka's sequence rules on the wire: a retried
// batch is answered with its original offset and not stored twice; gaps and
// stale epochs are refused; state survives a restart.
func TestIdempotentProduce(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb.admin(), "idem", 1, nil)
	cl := tb.client()
	pidResp, err := kmsg.NewPtrInitProducerIDRequest().RequestWith(testContext(t), cl)
	if err != nil || pidResp.ErrorCode != 0 {
		t.Fatalf("init producer id: %v %+v", err, pidResp)
	}
	pid, epoch := pidResp.ProducerID, pidResp.ProducerEpoch
	mk := func(seq int32, n int, epoch int16) []byte {
		return batchtest.Build(batchtest.Options{N: n, ValueSize: 10, Idempotent: true, ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq, BaseTimestamp: time.Now().UnixMilli()})
	}
	if r := produceRaw(t, cl, "idem", -1, mk(0, 3, epoch)); r.ErrorCode != 0 || r.BaseOffset != 0 {
		t.Fatalf("first batch: %+v", r)
	}
	if r := produceRaw(t, cl, "idem", -1, mk(3, 2, epoch)); r.ErrorCode != 0 || r.BaseOffset != 3 {
		t.Fatalf("second batch: %+v", r)
	}
	if r := produceRaw(t, cl, "idem", -1, mk(0, 3, epoch)); r.ErrorCode != 0 || r.BaseOffset != 0 {
		t.Fatalf("retry of the first batch: %+v, want its original offset 0", r)
	}
	if r := produceRaw(t, cl, "idem", -1, mk(9, 1, epoch)); r.ErrorCode != kerr.OutOfOrderSequenceNumber.Code {
		t.Fatalf("gap: %+v", r)
	}
	if r := produceRaw(t, cl, "idem", -1, mk(5, 1, epoch+1)); r.ErrorCode != kerr.OutOfOrderSequenceNumber.Code {
		t.Fatalf("new epoch not at sequence 0: %+v", r)
	}
	if r := produceRaw(t, cl, "idem", -1, mk(0, 1, epoch+1)); r.ErrorCode != 0 || r.BaseOffset != 5 {
		t.Fatalf("new epoch at sequence 0: %+v", r)
	}
	if r := produceRaw(t, cl, "idem", -1, mk(5, 1, epoch)); r.ErrorCode != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("stale epoch: %+v", r)
	}
	cl.Close()

	tb = tb.restart()
	cl = tb.client()
	if r := produceRaw(t, cl, "idem", -1, mk(0, 1, epoch+1)); r.ErrorCode != 0 || r.BaseOffset != 5 {
		t.Fatalf("retry after restart: %+v, want original offset 5", r)
	}
	if r := produceRaw(t, cl, "idem", -1, mk(1, 1, epoch+1)); r.ErrorCode != 0 || r.BaseOffset != 6 {
		t.Fatalf("next after restart: %+v", r)
	}
	end, _ := tb.admin().ListEndOffsets(testContext(t), "idem")
	if o, _ := end.Lookup("idem", 0); o.Offset != 7 {
		t.Fatalf("end offset %d, want 7: a duplicate was stored", o.Offset)
	}
}

func TestProduceRefusesBadBatches(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb.admin(), "strict", 1, nil)
	cl := tb.client()
	good := batchtest.Build(batchtest.Options{N: 2, ValueSize: 8})

	corrupt := append([]byte(nil), good...)
	corrupt[len(corrupt)-1] ^= 0xff
	if r := produceRaw(t, cl, "strict", 1, corrupt); r.ErrorCode != kerr.CorruptMessage.Code {
		t.Fatalf("bad crc: %+v", r)
	}
	two := append(append([]byte(nil), good...), good...)
	if r := produceRaw(t, cl, "strict", 1, two); r.ErrorCode != kerr.InvalidRecord.Code {
		t.Fatalf("two batches: %+v", r)
	}
	control := batchtest.Build(batchtest.Options{N: 1, ValueSize: 8, Control: true})
	if r := produceRaw(t, cl, "strict", 1, control); r.ErrorCode != kerr.InvalidRecord.Code {
		t.Fatalf("control batch: %+v", r)
	}
	// acks=5 over a bare connection (kgo would not send it as is).
	c, err := net.Dial("tcp", tb.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 7, 5, 1000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "strict"
	rt.Partitions = []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: good}}
	req.Topics = append(req.Topics, rt)
	c.Write(rawRequest(req, 3))
	resp := kmsg.NewPtrProduceResponse()
	resp.Version = 7
	if err := resp.ReadFrom(readFrame(t, c)[4:]); err != nil || resp.Topics[0].Partitions[0].ErrorCode != kerr.InvalidRequiredAcks.Code {
		t.Fatalf("acks=5: %v %+v", err, resp)
	}
	if r := produceRaw(t, cl, "nope", 1, good); r.ErrorCode != kerr.UnknownTopicOrPartition.Code && r.ErrorCode != kerr.UnknownTopicID.Code {
		t.Fatalf("unknown topic: %+v", r)
	}
	if r := produceRaw(t, cl, "strict", 1, good); r.ErrorCode != 0 || r.BaseOffset != 0 {
		t.Fatalf("good batch after bad ones: %+v", r)
	}
}

// roundTrip sends req at exactly its version over a bare connection (kgo
// would pick its own version) and decodes the answer.
func roundTrip(t *testing.T, addr string, req kmsg.Request) kmsg.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(rawRequest(req, 42)); err != nil {
		t.Fatal(err)
	}
	b := readFrame(t, c)
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	body := b[4:]
	if resp.IsFlexible() && req.Key() != int16(kmsg.ApiVersions) {
		body = body[1:] // response header tagged fields (empty)
	}
	if err := resp.ReadFrom(body); err != nil {
		t.Fatalf("decode %T v%d: %v", resp, req.GetVersion(), err)
	}
	return resp
}

// TestAcksZero: a good acks=0 produce gets no answer (the next request's
// answer comes first); a failing one closes the connection, as in Kafka.
func TestAcksZero(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb.admin(), "fire", 1, nil)
	c, err := net.Dial("tcp", tb.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	produce := func(topic string, corr int32) {
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.Acks, req.TimeoutMillis = 7, 0, 1000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = topic
		rt.Partitions = []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: batchtest.Build(batchtest.Options{N: 1, ValueSize: 4})}}
		req.Topics = append(req.Topics, rt)
		c.Write(rawRequest(req, corr))
	}
	produce("fire", 1)
	meta := kmsg.NewPtrMetadataRequest()
	meta.Version = 1
	c.Write(rawRequest(meta, 2))
	if corr := int32(binary.BigEndian.Uint32(readFrame(t, c))); corr != 2 {
		t.Fatalf("first answer has correlation id %d, want 2 (acks=0 gets none)", corr)
	}
	produce("no-such-topic", 3)
	expectClosed(t, c)
	// Nobody waits for an acks=0 append's fsync; it becomes visible when
	// the background flush runs.
	deadline := time.Now().Add(5 * time.Second)
	for endOffsets(t, tb.client(), "fire")[0] != 1 {
		if time.Now().After(deadline) {
			t.Fatal("acks=0 record never became visible")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
