package test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// chronikBinary builds cmd/chronik once per test run.
func chronikBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "chronik-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "chronik")
		args := []string{"build", "-o", binPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "../cmd/chronik")...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// procBroker is a broker running as a child process.
type procBroker struct {
	t        *testing.T
	cmd      *exec.Cmd
	dataDir  string
	addr     string
	httpAddr string
	args     []string
	logPath  string
	exited   chan error // receives the child's exit once; closed after
}

// startProcBroker starts `chronik serve` on dataDir with extra flags.
func startProcBroker(t *testing.T, dataDir string, extra ...string) *procBroker {
	t.Helper()
	pb := &procBroker{t: t, dataDir: dataDir, args: extra}
	pb.start()
	t.Cleanup(func() { pb.kill() })
	return pb
}

func (pb *procBroker) start() {
	t := pb.t
	t.Helper()
	pb.addr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	pb.httpAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	args := append([]string{"serve", "--data-dir", pb.dataDir, "--kafka-listen", pb.addr, "--http-listen", pb.httpAddr}, pb.args...)
	pb.cmd = exec.Command(chronikBinary(t), args...)
	pb.logPath = filepath.Join(pb.dataDir, fmt.Sprintf("..%s-broker.log", filepath.Base(pb.dataDir)))
	logf, err := os.OpenFile(pb.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	pb.cmd.Stdout, pb.cmd.Stderr = logf, logf
	if err := pb.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logf.Close()
	exited := make(chan error, 1)
	go func(cmd *exec.Cmd) { exited <- cmd.Wait(); close(exited) }(pb.cmd)
	pb.exited = exited
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			pb.cmd = nil
			log, _ := os.ReadFile(pb.logPath)
			t.Fatalf("broker exited before it was ready (%v):\n%s", err, log)
		default:
		}
		resp, err := http.Get("http://" + pb.httpAddr + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	log, _ := os.ReadFile(pb.logPath)
	t.Fatalf("broker did not become ready:\n%s", log)
}

// kill sends SIGKILL and waits for the process to be gone.
func (pb *procBroker) kill() {
	if pb.cmd == nil || pb.cmd.Process == nil {
		return
	}
	_ = pb.cmd.Process.Signal(syscall.SIGKILL)
	<-pb.exited
	pb.cmd = nil
}

// stop sends SIGTERM and waits for a clean exit.
func (pb *procBroker) stop() {
	if pb.cmd == nil {
		return
	}
	_ = pb.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-pb.exited:
		if err != nil {
			pb.t.Errorf("broker exited with %v", err)
		}
	case <-time.After(30 * time.Second):
		pb.t.Error("broker did not stop on SIGTERM")
		pb.kill()
	}
	pb.cmd = nil
}

func (pb *procBroker) logs() string {
	b, _ := os.ReadFile(pb.logPath)
	return string(b)
}

func waitContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func skipIfShort(t *testing.T) {
	if testing.Short() {
		t.Skip("starts broker processes")
	}
	if runtime.GOOS != "linux" {
		t.Skip("kill -9 tests run on linux")
	}
}
