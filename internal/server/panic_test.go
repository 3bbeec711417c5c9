package server

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// panicky answers ApiVersions and panics on Metadata, in Handle or in its
// Reply.
type panicky struct{ inReply bool }

func (panicky) Versions(key int16) (int16, int16, bool) { return 0, 4, key == 3 || key == 18 }

func (h panicky) Handle(_ context.Context, req *Request) (Reply, error) {
	if req.Header.APIKey == 3 {
		if h.inReply {
			return func() kmsg.Response { panic("bug in a reply") }, nil
		}
		panic("bug in a handler")
	}
	return Respond(req.Body.ResponseKind()), nil
}

func request(key int16, corr int32) []byte {
	b := binary.BigEndian.AppendUint32(nil, 10)
	b = binary.BigEndian.AppendUint16(b, uint16(key))
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, 0xffff)
	if key == 3 {
		b = binary.BigEndian.AppendUint32(b, 0) // Metadata v0: empty topic list
		binary.BigEndian.PutUint32(b, 14)
	}
	return b
}

// TestHandlerPanicClosesOnlyItsConnection: a panicking handler or reply is
// logged and costs its connection; the server goes on serving others.
func TestHandlerPanicClosesOnlyItsConnection(t *testing.T) {
	for _, inReply := range []bool{false, true} {
		srv := New(panicky{inReply: inReply}, 1<<20, slog.New(slog.NewTextHandler(io.Discard, nil)))
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(ln)

		bad, _ := net.Dial("tcp", ln.Addr().String())
		bad.Write(request(3, 1))
		bad.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := bad.Read(make([]byte, 1)); err == nil {
			t.Fatalf("inReply=%v: connection not closed after a panic", inReply)
		}
		bad.Close()

		good, _ := net.Dial("tcp", ln.Addr().String())
		good.Write(request(18, 2))
		good.SetReadDeadline(time.Now().Add(5 * time.Second))
		var size [4]byte
		if _, err := io.ReadFull(good, size[:]); err != nil {
			t.Fatalf("inReply=%v: server stopped serving: %v", inReply, err)
		}
		good.Close()
		srv.Close()
	}
}
