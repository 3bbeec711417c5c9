package server

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// quiet answers ApiVersions and answers nothing to Metadata, as an acks=0
// produce would.
type quiet struct{}

func (quiet) Versions(key int16) (int16, int16, bool) { return 0, 4, key == 3 || key == 18 }

func (quiet) Handle(_ context.Context, req *Request) (Reply, error) {
	if req.Header.APIKey == 3 {
		return nil, nil
	}
	return Respond(req.Body.ResponseKind()), nil
}

type observed struct {
	key, version int16
	reqN, respN  int
	elapsed      time.Duration
	hadResponse  bool
}

type recorder struct {
	mu             sync.Mutex
	opened, closed int
	requests       []observed
}

func (r *recorder) ConnectionOpened() { r.mu.Lock(); r.opened++; r.mu.Unlock() }
func (r *recorder) ConnectionClosed() { r.mu.Lock(); r.closed++; r.mu.Unlock() }
func (r *recorder) RequestDone(key, version int16, reqN, respN int, elapsed time.Duration, resp kmsg.Response) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = append(r.requests, observed{key, version, reqN, respN, elapsed, resp != nil})
}

// TestObserverSeesConnectionsAndRequests: every served request is reported
// once with its sizes, answered or not, and connections are bracketed.
func TestObserverSeesConnectionsAndRequests(t *testing.T) {
	srv := New(quiet{}, 1<<20, slog.New(slog.NewTextHandler(io.Discard, nil)))
	rec := &recorder{}
	srv.SetObserver(rec)
	client, conn := net.Pipe()
	done := make(chan struct{})
	go func() { srv.ServeConn(conn); close(done) }()
	_ = client.SetDeadline(time.Now().Add(5 * time.Second))

	apiVersions, metadata := request(18, 1), request(3, 2)
	go func() {
		_, _ = client.Write(metadata)
		_, _ = client.Write(apiVersions)
	}()
	var size [4]byte
	if _, err := io.ReadFull(client, size[:]); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(client, body); err != nil {
		t.Fatal(err)
	}
	client.Close()
	<-done

	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.opened != 1 || rec.closed != 1 {
		t.Errorf("connections opened %d, closed %d; want 1 and 1", rec.opened, rec.closed)
	}
	want := []observed{
		{key: 3, version: 0, reqN: len(metadata), respN: 0, hadResponse: false},
		{key: 18, version: 0, reqN: len(apiVersions), respN: 4 + len(body), hadResponse: true},
	}
	if len(rec.requests) != len(want) {
		t.Fatalf("observed %+v, want %+v", rec.requests, want)
	}
	for i, got := range rec.requests {
		got.elapsed = 0
		if got != want[i] {
			t.Errorf("request %d: observed %+v, want %+v", i, got, want[i])
		}
	}
}
