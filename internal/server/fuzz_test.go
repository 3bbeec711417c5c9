package server_test

import (
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/config"
	"github.com/chronik-streaming/chronik/internal/group"
	"github.com/chronik-streaming/chronik/internal/kafka"
	"github.com/chronik-streaming/chronik/internal/meta"
	"github.com/chronik-streaming/chronik/internal/offsets"
	"github.com/chronik-streaming/chronik/internal/server"
	"github.com/chronik-streaming/chronik/internal/topics"
	"github.com/chronik-streaming/chronik/internal/txn"
)

// sentinel is a well-formed ApiVersions request sent after each fuzzed
// frame: its answer proves the connection survived in order, or the
// connection's close proves the broker refused the frame cleanly.
const sentinelCorrelation = 0x5e17

func frame(key, version int16, correlation int32, body []byte, flexible bool) []byte {
	var b []byte
	b = binary.BigEndian.AppendUint16(b, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(correlation))
	b = binary.BigEndian.AppendUint16(b, 0xffff) // null client id
	if flexible {
		b = append(b, 0)
	}
	return append(b, body...)
}

func encode(req kmsg.Request, version int16) []byte {
	req.SetVersion(version)
	return frame(req.Key(), version, 1, req.AppendTo(nil), req.IsFlexible())
}

// FuzzRequest feeds arbitrary frames through the whole request path: frame
// checks, header parsing, key/version checks, kmsg decoding and the real
// handlers over real partition logs. Nothing may panic or hang.
func FuzzRequest(f *testing.F) {
	dir := f.TempDir()
	cfg := config.Default()
	cfg.Server.DataDir = dir
	cfg.Storage.Fsync = "never"
	store, err := meta.Open(dir)
	if err != nil {
		f.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	tm, err := topics.Open(dir, cfg, store, logger)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { tm.Close(); store.Close() })
	if _, err := tm.Create(topics.CreateSpec{Name: "fuzz", Partitions: 2, ReplicationFactor: 1}); err != nil {
		f.Fatal(err)
	}
	offs, err := offsets.Open(dir, logger)
	if err != nil {
		f.Fatal(err)
	}
	groups := group.NewCoordinator(group.Config{}, logger)
	f.Cleanup(func() { groups.Close(); offs.Close() })
	h := kafka.New(kafka.Broker{NodeID: 1, Host: "localhost", Port: 9092, ClusterID: store.ClusterID()}, cfg,
		kafka.Deps{Topics: tm, ProducerIDs: txn.NewProducerIDs(store), Groups: groups, Offsets: offs}, logger)
	srv := server.New(h, 1<<20, logger)
	// The server survives handler panics; the fuzzer must still see them.
	var panicked atomic.Value
	srv.OnPanic(func(v any) { panicked.Store(fmt.Sprint(v)) })

	// Seeds: a valid request of every API at its lowest and highest version.
	for key := int16(0); key < 100; key++ {
		min, max, ok := h.Versions(key)
		if !ok {
			continue
		}
		for _, v := range []int16{min, max} {
			req := kmsg.RequestForKey(key)
			if mr, ok := req.(*kmsg.MetadataRequest); ok {
				mr.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("fuzz")}}
			}
			if fr, ok := req.(*kmsg.FetchRequest); ok {
				fr.MaxWaitMillis = 10
				fr.Topics = []kmsg.FetchRequestTopic{{Topic: "fuzz", Partitions: []kmsg.FetchRequestTopicPartition{{Partition: 0, PartitionMaxBytes: 1000}}}}
			}
			f.Add(encode(req, v))
		}
	}
	f.Add([]byte{0, 1, 0, 4, 0, 0, 0, 1, 0, 3, 'a', 'b'})
	f.Add([]byte("garbage garbage garbage"))

	sentinel := encode(kmsg.NewPtrApiVersionsRequest(), 0)
	binary.BigEndian.PutUint32(sentinel[4:], sentinelCorrelation)

	f.Fuzz(func(t *testing.T, body []byte) {
		// A fuzzed fetch could legally long-poll for weeks; keep it short.
		if len(body) >= 4 && binary.BigEndian.Uint16(body) == 1 {
			t.Skip()
		}
		defer func() {
			if v := panicked.Load(); v != nil {
				t.Fatalf("handler panicked: %v", v)
			}
		}()
		client, conn := net.Pipe()
		done := make(chan struct{})
		go func() { srv.ServeConn(conn); close(done) }()
		defer func() { client.Close(); <-done }()
		_ = client.SetDeadline(time.Now().Add(5 * time.Second))
		go func() {
			msg := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
			msg = append(msg, body...)
			msg = binary.BigEndian.AppendUint32(msg, uint32(len(sentinel)))
			msg = append(msg, sentinel...)
			_, _ = client.Write(msg)
		}()
		for {
			var size [4]byte
			if _, err := io.ReadFull(client, size[:]); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatal("broker neither answered nor closed the connection")
				}
				return // closed cleanly
			}
			resp := make([]byte, binary.BigEndian.Uint32(size[:]))
			if _, err := io.ReadFull(client, resp); err != nil {
				return
			}
			if len(resp) >= 4 && int32(binary.BigEndian.Uint32(resp)) == sentinelCorrelation {
				return
			}
		}
	})
}
