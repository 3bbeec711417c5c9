// Package server is the Kafka wire edge: it accepts TCP connections, reads
// size-prefixed frames, parses request headers, checks API keys and versions,
// decodes bodies with kmsg and hands them to a Handler one at a time per
// connection, then writes the responses back in request order.
package server

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Request is one decoded request.
type Request struct {
	Header RequestHeader
	Body   kmsg.Request
	Remote net.Addr
}

// Reply produces the response to a request. It runs after the request was
// processed, in request order, while the connection already processes the
// next request; it may block (a produce waiting for its fsync), which lets
// pipelined produce requests share one group commit. A Reply returning nil
// sends nothing (acks=0).
type Reply func() kmsg.Response

// Respond wraps a ready response as a Reply.
func Respond(r kmsg.Response) Reply { return func() kmsg.Response { return r } }

// ErrCloseConnection asks the server to close the connection after the
// replies already queued (Kafka does this when an acks=0 produce fails).
var ErrCloseConnection = errors.New("close connection")

// Handler processes decoded requests.
type Handler interface {
	// Versions reports the range of versions handled for an API key.
	Versions(key int16) (min, max int16, ok bool)
	// Handle processes one request. Requests of one connection are handled
	// one at a time, in arrival order. A nil Reply means no response.
	Handle(ctx context.Context, req *Request) (Reply, error)
}

// FrameReleaser is implemented by handlers that keep no reference to a
// request's bytes after Handle returns, for some API keys; the server then
// reuses those frames (produce frames are the big, frequent ones).
type FrameReleaser interface {
	ReleasesRequest(key int16) bool
}

// Observer hears of connections and requests, for metrics. Its methods
// are called from the connection goroutines, on every request: they must
// be cheap and safe for concurrent use. internal/metrics implements it;
// this package does not depend on a metrics library.
type Observer interface {
	// ConnectionOpened and ConnectionClosed bracket every served
	// connection.
	ConnectionOpened()
	ConnectionClosed()
	// RequestDone reports a request handled: its API key and version, the
	// bytes read (size prefix included), the bytes of its response (0 when
	// none was sent: acks=0), the time from the request's frame having
	// been read to its response having been written (handed to the
	// connection's buffered writer, flushed when no further response is
	// queued), and the response itself (nil when none was sent), for its
	// error codes. It must not keep or modify resp. Requests that close
	// the connection (malformed, unsupported, or a handler error) are not
	// reported.
	RequestDone(key, version int16, requestBytes, responseBytes int, elapsed time.Duration, resp kmsg.Response)
}

// Server accepts Kafka connections.
type Server struct {
	handler         Handler
	logger          *slog.Logger
	maxRequestBytes int32

	mu       sync.Mutex
	ln       net.Listener
	conns    map[net.Conn]struct{}
	closed   bool
	wg       sync.WaitGroup
	active   atomic.Int64
	shutdown context.CancelFunc
	ctx      context.Context
	onPanic  func(v any)
	observer Observer
}

// SetObserver registers o to hear of connections and requests; call it
// before Serve or ServeConn.
func (s *Server) SetObserver(o Observer) { s.observer = o }

// OnPanic registers f to hear of recovered handler panics (the fuzz tests
// turn them into failures; the broker only logs them).
func (s *Server) OnPanic(f func(v any)) { s.onPanic = f }

// New returns a server; maxRequestBytes caps a frame's size.
func New(h Handler, maxRequestBytes int32, logger *slog.Logger) *Server {
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{handler: h, logger: logger, maxRequestBytes: maxRequestBytes, conns: map[net.Conn]struct{}{}, ctx: ctx, shutdown: cancel}
}

// ActiveConnections is the number of open client connections.
func (s *Server) ActiveConnections() int64 { return s.active.Load() }

// Serve accepts connections on ln until Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return net.ErrClosed
	}
	s.ln = ln
	s.mu.Unlock()
	for {
		c, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return err
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return nil
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		s.active.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.active.Add(-1)
			s.serveConn(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// ServeConn serves one already accepted connection until it closes (for
// listeners the server does not own, and for tests over net.Pipe).
func (s *Server) ServeConn(c net.Conn) {
	s.active.Add(1)
	defer s.active.Add(-1)
	s.serveConn(c)
}

// Close stops accepting, closes every connection and waits for them.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	if s.ln != nil {
		s.ln.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.shutdown()
	s.wg.Wait()
	return nil
}

// pending is a processed request waiting for its Reply to be written.
type pending struct {
	hdr     RequestHeader
	version int16 // of the response: the request's, except v0 for an unsupported ApiVersions
	reply   Reply
	// For the Observer: when the frame was read, and its size.
	start time.Time
	size  int
}

func (s *Server) serveConn(c net.Conn) {
	obs := s.observer
	if obs != nil {
		obs.ConnectionOpened()
		defer obs.ConnectionClosed()
	}
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	defer c.Close()
	log := s.logger.With("remote", c.RemoteAddr().String())

	// The writer runs Replies in order and writes their responses; the
	// reader goes on processing the next requests meanwhile. The channel's
	// capacity bounds how far processing runs ahead of the writes.
	queue := make(chan pending, 8)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		s.writeLoop(c, queue, cancel, log)
	}()
	defer func() {
		close(queue)
		<-writerDone
	}()

	r := bufio.NewReaderSize(c, 64<<10)
	var sizeBuf [4]byte
	for {
		if _, err := io.ReadFull(r, sizeBuf[:]); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && ctx.Err() == nil {
				log.Debug("connection read failed", "err", err)
			}
			return
		}
		size := int32(binary.BigEndian.Uint32(sizeBuf[:]))
		if size < 8 || size > s.maxRequestBytes {
			log.Warn("closing connection: request frame size out of range", "size", size, "max", s.maxRequestBytes)
			return
		}
		fp := getFrame(int(size))
		frame := *fp
		if _, err := io.ReadFull(r, frame); err != nil {
			log.Warn("closing connection: truncated request frame", "size", size, "err", err)
			return
		}
		var start time.Time
		if obs != nil {
			start = time.Now()
		}
		p, err := s.process(ctx, c, frame, log)
		if fr, ok := s.handler.(FrameReleaser); ok && err == nil && fr.ReleasesRequest(p.hdr.APIKey) {
			putFrame(fp)
		}
		if err != nil {
			if !errors.Is(err, ErrCloseConnection) {
				log.Warn("closing connection: bad request", "err", err)
			}
			return
		}
		if p.reply == nil {
			if obs != nil {
				obs.RequestDone(p.hdr.APIKey, p.hdr.APIVersion, int(size)+4, 0, time.Since(start), nil)
			}
			continue
		}
		p.start, p.size = start, int(size)+4
		select {
		case queue <- p:
		case <-ctx.Done():
			return
		}
	}
}

// process parses one frame and runs the handler on it. A handler that
// panics (a bug) costs its connection, never the broker.
func (s *Server) process(ctx context.Context, c net.Conn, frame []byte, log *slog.Logger) (p pending, err error) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("request handler panicked; closing the connection", "frame_prefix", fmt.Sprintf("%x", frame[:min(len(frame), 8)]), "panic", r, "stack", string(debug.Stack()))
			p, err = pending{}, fmt.Errorf("handler panic: %v", r)
			if s.onPanic != nil {
				s.onPanic(r)
			}
		}
	}()
	hdr, err := parseHeaderPrefix(frame)
	if err != nil {
		return pending{}, err
	}
	min, max, ok := s.handler.Versions(hdr.APIKey)
	kreq := kmsg.RequestForKey(hdr.APIKey)
	if !ok || kreq == nil {
		return pending{}, fmt.Errorf("unsupported api key %d", hdr.APIKey)
	}
	if hdr.APIVersion < min || hdr.APIVersion > max {
		if hdr.APIKey == int16(kmsg.ApiVersions) {
			// KIP-511: answer in the v0 format with our range, so the
			// client retries with a version we know.
			return pending{hdr: hdr, version: 0, reply: Respond(&kmsg.ApiVersionsResponse{
				Version:   0,
				ErrorCode: kerr.UnsupportedVersion.Code,
				ApiKeys:   []kmsg.ApiVersionsResponseApiKey{{ApiKey: hdr.APIKey, MinVersion: min, MaxVersion: max}},
			})}, nil
		}
		return pending{}, fmt.Errorf("unsupported version %d of api key %d (supported %d-%d)", hdr.APIVersion, hdr.APIKey, min, max)
	}
	kreq.SetVersion(hdr.APIVersion)
	body, err := parseClientID(&hdr, frame, kreq.IsFlexible())
	if err != nil {
		return pending{}, err
	}
	if err := kreq.ReadFrom(body); err != nil {
		return pending{}, fmt.Errorf("decode %s v%d: %w", kmsg.NameForKey(hdr.APIKey), hdr.APIVersion, err)
	}
	reply, err := s.handler.Handle(ctx, &Request{Header: hdr, Body: kreq, Remote: c.RemoteAddr()})
	if err != nil {
		return pending{}, err
	}
	return pending{hdr: hdr, version: hdr.APIVersion, reply: reply}, nil
}

func (s *Server) writeLoop(c net.Conn, queue <-chan pending, cancel context.CancelFunc, log *slog.Logger) {
	w := bufio.NewWriterSize(c, 64<<10)
	failed := false
	for p := range queue {
		if failed {
			continue // drain so the reader never blocks
		}
		resp, ok := s.runReply(p, log)
		if !ok {
			failed = true
			cancel()
			c.Close()
			continue
		}
		if resp == nil {
			if s.observer != nil {
				s.observer.RequestDone(p.hdr.APIKey, p.hdr.APIVersion, p.size, 0, time.Since(p.start), nil)
			}
			continue
		}
		resp.SetVersion(p.version)
		bp := getBuffer(sizeHint(resp))
		*bp = appendResponse((*bp)[:0], p.hdr, resp)
		n := len(*bp)
		_, err := w.Write(*bp)
		putBuffer(bp)
		if err == nil && len(queue) == 0 {
			err = w.Flush()
		}
		if err == nil && s.observer != nil {
			s.observer.RequestDone(p.hdr.APIKey, p.hdr.APIVersion, p.size, n, time.Since(p.start), resp)
		}
		if err != nil {
			failed = true
			log.Debug("connection write failed", "err", err)
			cancel()
			c.Close()
		}
	}
	if !failed {
		_ = w.Flush()
	}
}

// Request frames of APIs whose handlers release them are pooled too.
var framePool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

func getFrame(size int) *[]byte {
	fp := framePool.Get().(*[]byte)
	if cap(*fp) < size {
		*fp = make([]byte, size)
	}
	*fp = (*fp)[:size]
	return fp
}

func putFrame(fp *[]byte) {
	if cap(*fp) <= maxPooledBuffer {
		framePool.Put(fp)
	}
}

// runReply runs a Reply; a panicking one answers nothing and closes the
// connection rather than the broker.
func (s *Server) runReply(p pending, log *slog.Logger) (resp kmsg.Response, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("reply panicked; closing the connection", "api_key", p.hdr.APIKey, "panic", r, "stack", string(debug.Stack()))
			resp, ok = nil, false
			if s.onPanic != nil {
				s.onPanic(r)
			}
		}
	}()
	return p.reply(), true
}

// Response buffers are pooled across connections: fetch responses run to
// megabytes, and growing a fresh buffer for each cost more CPU than the
// fetch itself.
var bufferPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// maxPooledBuffer keeps the pool from pinning buffers of rare huge answers.
const maxPooledBuffer = 16 << 20

func getBuffer(hint int) *[]byte {
	bp := bufferPool.Get().(*[]byte)
	if cap(*bp) < hint {
		*bp = make([]byte, 0, hint)
	}
	return bp
}

func putBuffer(bp *[]byte) {
	if cap(*bp) <= maxPooledBuffer {
		bufferPool.Put(bp)
	}
}

// sizeHint estimates an encoded response's size so it is built in a buffer
// that never grows: the record bytes of a fetch dominate it.
func sizeHint(resp kmsg.Response) int {
	fr, ok := resp.(*kmsg.FetchResponse)
	if !ok {
		return 0
	}
	n := 1 << 10
	for i := range fr.Topics {
		n += 256
		for j := range fr.Topics[i].Partitions {
			n += 128 + len(fr.Topics[i].Partitions[j].RecordBatches)
		}
	}
	return n
}

// appendResponse frames a response: size, correlation id, the response
// header's tagged fields for flexible versions (never for ApiVersions, whose
// response header is always v0), then the body.
func appendResponse(dst []byte, hdr RequestHeader, resp kmsg.Response) []byte {
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(hdr.CorrelationID))
	if resp.IsFlexible() && hdr.APIKey != int16(kmsg.ApiVersions) {
		dst = append(dst, 0)
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst, uint32(len(dst)-4))
	return dst
}
