// Package tiertest starts a real MinIO server for tests of tiered storage.
//
// MinIO is AGPL-licensed: it is only ever run here as a separate test
// server process (the binary that .ci/run builds with go install), never
// linked into Chronik.
package tiertest

import (
	"bytes"
	"context"
	"fmt"
	"go/build"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The credentials of every server started here (MinIO's root user). They
// are test-only values, set for the S3 clients through AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY.
const (
	AccessKey = "chronik-test"
	SecretKey = "chronik-test-secret"
	Region    = "us-east-1"
	// Bucket is the bucket each server starts with.
	Bucket = "chronik-test"
)

// Binary returns the minio binary to run: $CHRONIK_TEST_MINIO, else minio
// on PATH, else $(go env GOPATH)/bin/minio; "" when there is none.
func Binary() string {
	if p := os.Getenv("CHRONIK_TEST_MINIO"); p != "" {
		return p
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		gopath = build.Default.GOPATH
	}
	for _, dir := range filepath.SplitList(gopath) {
		p := filepath.Join(dir, "bin", "minio")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

// Server is a running MinIO server.
type Server struct {
	Endpoint string // "http://127.0.0.1:PORT"
	Bucket   string
	Dir      string // its data directory

	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	once sync.Once
}

// StartMinIO starts a MinIO server on a free 127.0.0.1 port with a fresh
// data directory, creates the bucket Bucket, and returns its endpoint URL
// and the bucket. It sets AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_REGION for the test (t.Setenv: not in parallel tests), so that S3
// clients of the same process — the tier package's, a broker's — find the
// credentials; pass the endpoint as the S3 Endpoint. The server stops when
// the test ends. Without a minio binary (see Binary) the test is skipped, or
// fails when CHRONIK_REQUIRE_CLIENTS is set.
func StartMinIO(t testing.TB) (endpoint, bucket string) {
	t.Helper()
	s := Start(t)
	return s.Endpoint, s.Bucket
}

// Start is StartMinIO returning the Server, which the test may Stop early.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary()
	if bin == "" {
		if os.Getenv("CHRONIK_REQUIRE_CLIENTS") != "" {
			t.Fatal("no minio binary (set CHRONIK_TEST_MINIO, or go install github.com/minio/minio) and CHRONIK_REQUIRE_CLIENTS is set")
		}
		t.Skip("no minio binary: set CHRONIK_TEST_MINIO or put minio on PATH")
	}
	t.Setenv("AWS_ACCESS_KEY_ID", AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", SecretKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", Region)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	var lastErr error
	for try := 0; try < 3; try++ { // a port picked may be taken meanwhile
		s, err := start(t, bin)
		if err == nil {
			t.Cleanup(s.Stop)
			if err := s.createBucket(); err != nil {
				t.Fatalf("minio: create bucket: %v\n%s", err, s.out.String())
			}
			return s
		}
		lastErr = err
	}
	t.Fatalf("minio did not start: %v", lastErr)
	return nil
}

func start(t testing.TB, bin string) (*Server, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	s := &Server{Endpoint: "http://" + addr, Bucket: Bucket, Dir: dir, out: &syncBuffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(bin, "server", filepath.Join(dir, "data"), "--quiet",
		"--address", addr, "--console-address", fmt.Sprintf("127.0.0.1:%d", ports[1]))
	s.cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+AccessKey,
		"MINIO_ROOT_PASSWORD="+SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_CONFIG_DIR="+filepath.Join(dir, "config"),
		"HOME="+dir, // it writes ~/.minio
	)
	s.cmd.Stdout = s.out
	s.cmd.Stderr = s.out
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		s.cmd.Wait()
		close(s.done)
	}()
	deadline := time.Now().Add(60 * time.Second)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-s.done:
			return nil, fmt.Errorf("minio exited: %v\n%s", s.cmd.ProcessState, s.out.String())
		default:
		}
		resp, err := client.Get(s.Endpoint + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("minio not ready at %s after 60s: %v\n%s", addr, err, s.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop kills the server and waits for it to exit; it may be called more
// than once.
func (s *Server) Stop() {
	s.once.Do(func() {
		s.cmd.Process.Kill() // a frozen process dies too
		<-s.done
	})
}

// Client returns an S3 client of the server, for tests that reach into the
// bucket directly (to corrupt or list objects).
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
	})
}

func (s *Server) createBucket() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(s.Bucket)})
	return err
}

// freePorts returns n distinct ports free on 127.0.0.1 a moment ago.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.b.Len() > 1<<20 {
		return len(p), nil // enough to diagnose
	}
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
