package tier

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"gocloud.dev/blob"

	"github.com/chronik-streaming/chronik/internal/tier/tiertest"
)

// configure fills in the backend part of Options for one test.
type configure func(t *testing.T, o Options) Options

// TestFile runs the suite against fileblob in a temporary directory.
func TestFile(t *testing.T) {
	runSuite(t, func(t *testing.T, o Options) Options {
		o.Backend = "file"
		o.Bucket = filepath.Join(t.TempDir(), "bucket")
		return o
	})
}

// TestMinIO runs the suite against a real MinIO server, then checks that
// contexts bound every operation when the server hangs or is gone.
func TestMinIO(t *testing.T) {
	srv := tiertest.Start(t)
	n := 0
	cfg := func(t *testing.T, o Options) Options {
		n++
		o.Backend = "s3"
		o.Bucket = srv.Bucket
		o.Endpoint = srv.Endpoint
		o.Prefix = fmt.Sprintf("run%d/chronik/", n) // every test its own corner of the bucket
		return o
	}
	runSuite(t, cfg)

	t.Run("String", func(t *testing.T) {
		s := openStore(t, cfg, Options{})
		want := fmt.Sprintf("s3://%s/run%d/chronik (endpoint %s)", srv.Bucket, n, srv.Endpoint)
		if s.String() != want {
			t.Fatalf("String() = %q, want %q", s.String(), want)
		}
	})

	t.Run("HungServer", func(t *testing.T) {
		s := openStore(t, cfg, Options{})
		id := topicID(7)
		seg := uploadSeg(t, s, id, 0, 0, 64<<10)
		writeManifest(t, s, id, 0, seg)
		if err := srv.Freeze(); err != nil {
			t.Fatal(err)
		}
		defer srv.Thaw()
		dir := t.TempDir()
		files := writeSegmentFiles(t, dir, 100, 64<<10)
		checkBounded(t, "Fetch", func(ctx context.Context) error {
			h, err := s.Fetch(ctx, id, 0, seg)
			if err == nil {
				h.Release()
			}
			return err
		})
		checkBounded(t, "UploadSegment", func(ctx context.Context) error {
			_, err := s.UploadSegment(ctx, id, 0, RemoteSegment{BaseOffset: 100, NextOffset: 110}, files)
			return err
		})
		checkBounded(t, "ReadManifest", func(ctx context.Context) error {
			_, err := s.ReadManifest(ctx, id, 0)
			return err
		})
		checkBounded(t, "ListPartitions", func(ctx context.Context) error {
			_, err := s.ListPartitions(ctx)
			return err
		})
		if err := srv.Thaw(); err != nil {
			t.Fatal(err)
		}
		// The store works again once the server answers.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		h, err := s.Fetch(ctx, id, 0, seg)
		if err != nil {
			t.Fatalf("Fetch after thaw: %v", err)
		}
		h.Release()
	})

	t.Run("StoppedServer", func(t *testing.T) {
		s := openStore(t, cfg, Options{})
		id := topicID(8)
		seg := uploadSeg(t, s, id, 0, 0, 64<<10)
		srv.Stop()
		files := writeSegmentFiles(t, t.TempDir(), 100, 64<<10)
		checkBounded(t, "Fetch", func(ctx context.Context) error {
			h, err := s.Fetch(ctx, id, 0, seg)
			if err == nil {
				h.Release()
			}
			return err
		})
		checkBounded(t, "UploadSegment", func(ctx context.Context) error {
			_, err := s.UploadSegment(ctx, id, 0, RemoteSegment{BaseOffset: 100, NextOffset: 110}, files)
			return err
		})
		checkBounded(t, "WriteManifest", func(ctx context.Context) error {
			return s.WriteManifest(ctx, &Manifest{TopicID: TopicIDHex(id), Partition: 0, Segments: []RemoteSegment{seg}})
		})
		checkBounded(t, "GetMeta", func(ctx context.Context) error {
			_, err := s.GetMeta(ctx, "cluster.json")
			return err
		})
		checkBounded(t, "Open", func(ctx context.Context) error {
			s2, err := Open(ctx, cfg(t, Options{CacheDir: t.TempDir()}), nil)
			if err == nil {
				s2.Close()
			}
			return err
		})
	})
}

// TestOpenHungEndpoint: Open against an endpoint that accepts connections
// and never answers returns within its context's deadline.
func TestOpenHungEndpoint(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	t.Setenv("AWS_ACCESS_KEY_ID", "x")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "y")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	checkBounded(t, "Open", func(ctx context.Context) error {
		s, err := Open(ctx, Options{Backend: "s3", Bucket: "b", Endpoint: "http://" + l.Addr().String(), CacheDir: t.TempDir()}, nil)
		if err == nil {
			s.Close()
		}
		return err
	})
}

func TestOpenOptions(t *testing.T) {
	if _, err := Open(context.Background(), Options{Backend: "local"}, nil); !errors.Is(err, ErrDisabled) {
		t.Fatalf("local: %v, want ErrDisabled", err)
	}
	if _, err := Open(context.Background(), Options{}, nil); !errors.Is(err, ErrDisabled) {
		t.Fatalf("empty backend: %v, want ErrDisabled", err)
	}
	for _, o := range []Options{
		{Backend: "tape", Bucket: "b", CacheDir: t.TempDir()},
		{Backend: "file", CacheDir: t.TempDir()},
		{Backend: "file", Bucket: t.TempDir()},
		{Backend: "s3", Bucket: "b", CacheDir: t.TempDir(), Endpoint: "127.0.0.1:9000"},
		{Backend: "file", Bucket: t.TempDir(), CacheDir: t.TempDir(), Prefix: "a/../b"},
	} {
		if s, err := Open(context.Background(), o, nil); err == nil {
			s.Close()
			t.Errorf("Open(%+v) succeeded", o)
		}
	}
	if got := redactURL("https://user:secret@host:9000/path?X-Amz-Signature=abc"); strings.Contains(got, "secret") || strings.Contains(got, "abc") {
		t.Errorf("redactURL kept credentials: %s", got)
	}
	dir := t.TempDir()
	s, err := Open(context.Background(), Options{Backend: "file", Bucket: filepath.Join(dir, "b"), Prefix: "/x/y", CacheDir: filepath.Join(dir, "c")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if want := "file://" + filepath.Join(dir, "b") + "/x/y"; s.String() != want {
		t.Errorf("String() = %q, want %q", s.String(), want)
	}
	if o := s.Options(); o.Prefix != "x/y/" || o.CacheBytes != DefaultCacheBytes || o.OrphanGrace != DefaultOrphanGrace {
		t.Errorf("options in force: %+v", o)
	}
}

func runSuite(t *testing.T, cfg configure) {
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, cfg) })
	t.Run("ManifestChecks", func(t *testing.T) { testManifestChecks(t, cfg) })
	t.Run("ChecksumInBucket", func(t *testing.T) { testChecksumInBucket(t, cfg) })
	t.Run("ChangedInCache", func(t *testing.T) { testChangedInCache(t, cfg) })
	t.Run("Eviction", func(t *testing.T) { testEviction(t, cfg) })
	t.Run("ConcurrentFetch", func(t *testing.T) { testConcurrentFetch(t, cfg) })
	t.Run("Prefetch", func(t *testing.T) { testPrefetch(t, cfg) })
	t.Run("DeleteUnreferenced", func(t *testing.T) { testDeleteUnreferenced(t, cfg) })
	t.Run("DeleteSegment", func(t *testing.T) { testDeleteSegment(t, cfg) })
	t.Run("ListAndDeletePartitions", func(t *testing.T) { testListPartitions(t, cfg) })
	t.Run("Meta", func(t *testing.T) { testMeta(t, cfg) })
	t.Run("UploadErrors", func(t *testing.T) { testUploadErrors(t, cfg) })
	t.Run("ReopenCleansCache", func(t *testing.T) { testReopen(t, cfg) })
	t.Run("Closed", func(t *testing.T) { testClosed(t, cfg) })
}

// --- helpers ---

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tlogWriter struct{ t *testing.T }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func openStore(t *testing.T, cfg configure, o Options) *Store {
	t.Helper()
	if o.CacheDir == "" {
		o.CacheDir = t.TempDir()
	}
	s, err := Open(ctxT(t), cfg(t, o), testLogger(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func topicID(n byte) [16]byte {
	var id [16]byte
	for i := range id {
		id[i] = n ^ byte(i*17)
	}
	return id
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// writeSegmentFiles writes a log of logSize random bytes and small index
// files, returning them by kind.
func writeSegmentFiles(t *testing.T, dir string, base int64, logSize int) map[string]string {
	t.Helper()
	files := map[string]int{KindLog: logSize, KindIndex: 800, KindTimeIndex: 1200, KindTxnIndex: 0}
	out := map[string]string{}
	for kind, n := range files {
		p := filepath.Join(dir, fmt.Sprintf("%020d.%s", base, kind))
		if err := os.WriteFile(p, randomBytes(t, n), 0o644); err != nil {
			t.Fatal(err)
		}
		out[kind] = p
	}
	return out
}

func uploadSegWithFiles(t *testing.T, s *Store, id [16]byte, partition int32, base int64, logSize int) (RemoteSegment, map[string]string) {
	t.Helper()
	files := writeSegmentFiles(t, t.TempDir(), base, logSize)
	seg, err := s.UploadSegment(ctxT(t), id, partition, RemoteSegment{BaseOffset: base, NextOffset: base + 10, MaxTimestamp: 1700000000000 + base, LeaderEpoch: 3}, files)
	if err != nil {
		t.Fatalf("UploadSegment: %v", err)
	}
	return seg, files
}

func uploadSeg(t *testing.T, s *Store, id [16]byte, partition int32, base int64, logSize int) RemoteSegment {
	t.Helper()
	seg, _ := uploadSegWithFiles(t, s, id, partition, base, logSize)
	return seg
}

func writeManifest(t *testing.T, s *Store, id [16]byte, partition int32, segs ...RemoteSegment) *Manifest {
	t.Helper()
	m := &Manifest{TopicID: TopicIDHex(id), Topic: "events", Partition: partition, LogStartOffset: 0, Segments: segs}
	if err := s.WriteManifest(ctxT(t), m); err != nil {
		t.Fatalf("WriteManifest: %v", err)
	}
	return m
}

func fetch(t *testing.T, s *Store, id [16]byte, partition int32, seg RemoteSegment) *CachedSegment {
	t.Helper()
	h, err := s.Fetch(ctxT(t), id, partition, seg)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	return h
}

// checkSame checks that the cached files hold exactly the uploaded bytes.
func checkSame(t *testing.T, h *CachedSegment, files map[string]string) {
	t.Helper()
	if len(h.Paths) != len(files) {
		t.Fatalf("cached kinds %v, uploaded %v", h.Paths, files)
	}
	for kind, p := range files {
		want, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(h.Paths[kind])
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: cached bytes differ from the uploaded ones (%d vs %d bytes)", kind, len(got), len(want))
		}
	}
}

// cacheFiles lists the regular files under the cache directory.
func cacheFiles(t *testing.T, s *Store) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(s.opts.CacheDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// bucketKeys lists every object under the store's prefix.
func bucketKeys(t *testing.T, s *Store, under string) []string {
	t.Helper()
	it := s.bucket.List(&blob.ListOptions{Prefix: s.opts.Prefix + under})
	var out []string
	for {
		obj, err := it.Next(ctxT(t))
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, obj.Key)
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// checkBounded runs op with a 2s deadline and expects an error within 20s.
func checkBounded(t *testing.T, name string, op func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- op(ctx) }()
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("%s succeeded against an unusable store", name)
		}
		t.Logf("%s failed after %v: %v", name, time.Since(start).Round(time.Millisecond), err)
	case <-time.After(20 * time.Second):
		t.Fatalf("%s still running 20s after its 2s deadline", name)
	}
}

// --- the suite ---

func testRoundTrip(t *testing.T, cfg configure) {
	s := openStore(t, cfg, Options{})
	id := topicID(1)
	ctx := ctxT(t)
	if m, err := s.ReadManifest(ctx, id, 4); err != nil || m != nil {
		t.Fatalf("ReadManifest of a new partition = %v, %v; want nil, nil", m, err)
	}
	seg, files := uploadSegWithFiles(t, s, id, 4, 1000, 300<<10+17)
	keyRE := regexp.MustCompile("^" + regexp.QuoteMeta(s.opts.Prefix+"topics/"+TopicIDHex(id)+"/4/segments/00000000000000001000-") + `[0-9a-f]{24}\.([a-z-]+)$`)
	var unique string
	for kind, f := range seg.Files {
		m := keyRE.FindStringSubmatch(f.Key)
		if m == nil || m[1] != kind {
			t.Fatalf("key of %s: %q", kind, f.Key)
		}
		st, _ := os.Stat(files[kind])
		if f.Size != st.Size() || len(f.SHA256) != 64 {
			t.Fatalf("%s: %+v, file of %d bytes", kind, f, st.Size())
		}
		u := strings.TrimSuffix(f.Key, kind)
		if unique != "" && u != unique {
			t.Fatalf("files of one segment under different names: %s, %s", unique, u)
		}
		unique = u
	}
	if seg.SizeBytes != 300<<10+17 || seg.BaseOffset != 1000 || seg.NextOffset != 1010 || seg.LeaderEpoch != 3 || seg.UploadedAt.IsZero() {
		t.Fatalf("segment description: %+v", seg)
	}
	// A second upload of the same segment never reuses a key.
	again, err := s.UploadSegment(ctx, id, 4, RemoteSegment{BaseOffset: 1000, NextOffset: 1010}, files)
	if err != nil {
		t.Fatal(err)
	}
	if again.Files[KindLog].Key == seg.Files[KindLog].Key {
		t.Fatal("a retried upload reused the key")
	}
	if again.Files[KindLog].SHA256 != seg.Files[KindLog].SHA256 {
		t.Fatal("same bytes, different SHA-256")
	}

	seg.Aborted = []AbortedTxn{{ProducerID: 9, FirstOffset: 1001, LastOffset: 1005}}
	m := writeManifest(t, s, id, 4, seg)
	if m.Version != 1 {
		t.Fatalf("version after the first write = %d", m.Version)
	}
	got, err := s.ReadManifest(ctx, id, 4)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON, _ := json.Marshal(m)
	gotJSON, _ := json.Marshal(got)
	if !bytes.Equal(wantJSON, gotJSON) {
		t.Fatalf("manifest read back differs:\n got %s\nwant %s", gotJSON, wantJSON)
	}
	if !got.Segments[0].UploadedAt.Equal(seg.UploadedAt) || !reflect.DeepEqual(got.Segments[0].Files, seg.Files) {
		t.Fatalf("segment read back: %+v", got.Segments[0])
	}
	if err := s.WriteManifest(ctx, got); err != nil || got.Version != 2 {
		t.Fatalf("second write: %v, version %d", err, got.Version)
	}

	h := fetch(t, s, id, 4, got.Segments[0])
	checkSame(t, h, files)
	for kind, p := range h.Paths {
		if !strings.HasPrefix(p, s.opts.CacheDir+string(filepath.Separator)) || !strings.HasSuffix(p, "."+kind) {
			t.Fatalf("cached path of %s: %s", kind, p)
		}
	}
	h.Release()
	h.Release() // twice is fine
	h2 := fetch(t, s, id, 4, got.Segments[0])
	checkSame(t, h2, files)
	h2.Release()
	if st := s.CacheStats(); st.Downloads != 1 || st.Hits != 1 || st.Segments != 1 || st.InUse != 0 {
		t.Fatalf("cache stats after a download and a hit: %+v", st)
	}
}

func testManifestChecks(t *testing.T, cfg configure) {
	s := openStore(t, cfg, Options{})
	id := topicID(2)
	a := uploadSeg(t, s, id, 0, 0, 1000)  // [0, 10)
	b := uploadSeg(t, s, id, 0, 5, 1000)  // [5, 15): overlaps a
	c := uploadSeg(t, s, id, 0, 20, 1000) // [20, 30): after a gap
	other := uploadSeg(t, s, id, 1, 40, 1000)
	ctx := ctxT(t)
	bad := map[string]*Manifest{
		"overlap":            {TopicID: TopicIDHex(id), Segments: []RemoteSegment{a, b}},
		"unsorted":           {TopicID: TopicIDHex(id), Segments: []RemoteSegment{c, a}},
		"other partition":    {TopicID: TopicIDHex(id), Segments: []RemoteSegment{a, other}},
		"bad topic id":       {TopicID: "xyz", Segments: []RemoteSegment{a}},
		"negative partition": {TopicID: TopicIDHex(id), Partition: -1},
		"no log":             {TopicID: TopicIDHex(id), Segments: []RemoteSegment{{BaseOffset: 50, NextOffset: 60}}},
	}
	for name, m := range bad {
		if err := s.WriteManifest(ctx, m); err == nil {
			t.Errorf("%s: WriteManifest accepted it", name)
		} else if m.Version != 0 {
			t.Errorf("%s: failed write bumped the version", name)
		}
	}
	m := writeManifest(t, s, id, 0, a, c) // a gap is fine
	if len(m.Segments) != 2 {
		t.Fatal(m)
	}
	// A segment of another partition is refused by Fetch as well.
	if _, err := s.Fetch(ctx, id, 0, other); err == nil {
		t.Fatal("Fetch of another partition's segment succeeded")
	}
	// A manifest object holding another partition's manifest is refused.
	data, _ := json.Marshal(Manifest{TopicID: TopicIDHex(id), Partition: 1})
	if err := s.bucket.WriteAll(ctx, s.manifestKey(id, 2), data, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadManifest(ctx, id, 2); err == nil {
		t.Fatal("ReadManifest accepted a misplaced manifest")
	}
	if err := s.bucket.WriteAll(ctx, s.manifestKey(id, 3), []byte("{not json"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadManifest(ctx, id, 3); err == nil || !strings.Contains(err.Error(), s.manifestKey(id, 3)) {
		t.Fatalf("ReadManifest of bad JSON: %v", err)
	}
}

func testChecksumInBucket(t *testing.T, cfg configure) {
	s := openStore(t, cfg, Options{})
	id := topicID(3)
	ctx := ctxT(t)
	seg, files := uploadSegWithFiles(t, s, id, 0, 0, 200<<10)
	good, err := os.ReadFile(files[KindLog])
	if err != nil {
		t.Fatal(err)
	}
	key := seg.Files[KindLog].Key
	for name, bad := range map[string][]byte{
		"flipped byte": func() []byte { b := bytes.Clone(good); b[len(b)/2] ^= 0x40; return b }(),
		"truncated":    good[:len(good)-1],
		"extended":     append(bytes.Clone(good), 0),
	} {
		if err := s.bucket.WriteAll(ctx, key, bad, nil); err != nil {
			t.Fatal(err)
		}
		h, err := s.Fetch(ctx, id, 0, seg)
		if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), key) {
			if h != nil {
				h.Release()
			}
			t.Fatalf("%s: Fetch = %v, want ErrChecksum naming %s", name, err, key)
		}
		if fs := cacheFiles(t, s); len(fs) != 0 {
			t.Fatalf("%s: files left in the cache after a checksum failure: %v", name, fs)
		}
		if st := s.CacheStats(); st.Segments != 0 || st.Bytes != 0 {
			t.Fatalf("%s: cache keeps a failed download: %+v", name, st)
		}
	}
	// A bad index file fails the whole segment too.
	if err := s.bucket.WriteAll(ctx, key, good, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.bucket.WriteAll(ctx, seg.Files[KindIndex].Key, []byte("nope"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Fetch(ctx, id, 0, seg); !errors.Is(err, ErrChecksum) {
		t.Fatalf("bad index: %v", err)
	}
	if fs := cacheFiles(t, s); len(fs) != 0 {
		t.Fatalf("files left in the cache: %v", fs)
	}
	// Once the object is right again, the same segment fetches fine.
	idx, _ := os.ReadFile(files[KindIndex])
	if err := s.bucket.WriteAll(ctx, seg.Files[KindIndex].Key, idx, nil); err != nil {
		t.Fatal(err)
	}
	h := fetch(t, s, id, 0, seg)
	checkSame(t, h, files)
	h.Release()
	// A missing object is ErrNotFound.
	if err := s.bucket.Delete(ctx, seg.Files[KindTimeIndex].Key); err != nil {
		t.Fatal(err)
	}
	s.dropCached(func(string) bool { return true })
	if _, err := s.Fetch(ctx, id, 0, seg); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing object: %v, want ErrNotFound", err)
	}
}

func testChangedInCache(t *testing.T, cfg configure) {
	s := openStore(t, cfg, Options{})
	id := topicID(4)
	seg, files := uploadSegWithFiles(t, s, id, 0, 0, 100<<10)
	h := fetch(t, s, id, 0, seg)
	h.Release()
	corrupt := func(p string) {
		t.Helper()
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt([]byte("garbage"), 10); err != nil {
			t.Fatal(err)
		}
		f.Close()
		// Make sure the modification time moves even on coarse clocks.
		if err := os.Chtimes(p, time.Time{}, time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	corrupt(h.Paths[KindLog])
	// Released and changed: downloaded again, the good bytes served.
	h = fetch(t, s, id, 0, seg)
	checkSame(t, h, files)
	if st := s.CacheStats(); st.Downloads != 2 {
		t.Fatalf("downloads = %d, want 2", st.Downloads)
	}
	// Changed while another handle holds it: not served.
	corrupt(h.Paths[KindIndex])
	if h2, err := s.Fetch(ctxT(t), id, 0, seg); !errors.Is(err, ErrChecksum) {
		if h2 != nil {
			h2.Release()
		}
		t.Fatalf("Fetch of a changed file in use: %v, want ErrChecksum", err)
	}
	h.Release()
	h = fetch(t, s, id, 0, seg)
	checkSame(t, h, files)
	h.Release()
	// A deleted cached file is fetched again.
	if err := os.Remove(h.Paths[KindTimeIndex]); err != nil {
		t.Fatal(err)
	}
	h = fetch(t, s, id, 0, seg)
	checkSame(t, h, files)
	h.Release()
}

func testEviction(t *testing.T, cfg configure) {
	const logSize = 100 << 10
	segBytes := int64(logSize + 800 + 1200)
	s := openStore(t, cfg, Options{CacheBytes: 2*segBytes + segBytes/2}) // room for two
	id := topicID(5)
	var segs [4]RemoteSegment
	var files [4]map[string]string
	for i := range segs {
		segs[i], files[i] = uploadSegWithFiles(t, s, id, 0, int64(i*10), logSize)
	}
	a := fetch(t, s, id, 0, segs[0]) // held throughout
	b := fetch(t, s, id, 0, segs[1])
	b.Release()
	c := fetch(t, s, id, 0, segs[2]) // evicts b, the only released one
	if exists(b.Paths[KindLog]) {
		t.Fatal("b not evicted")
	}
	c.Release()
	d := fetch(t, s, id, 0, segs[3]) // evicts c
	d.Release()
	if exists(c.Paths[KindLog]) {
		t.Fatal("c not evicted")
	}
	if !exists(d.Paths[KindLog]) {
		t.Fatal("d evicted though there was room for it")
	}
	for _, p := range a.Paths {
		if !exists(p) {
			t.Fatalf("in-use file %s evicted", p)
		}
	}
	checkSame(t, a, files[0])
	if st := s.CacheStats(); st.Bytes > s.opts.CacheBytes || st.Segments != 2 || st.InUse != 1 {
		t.Fatalf("stats: %+v (bound %d)", st, s.opts.CacheBytes)
	}
	a.Release() // a is now the most recently used released segment, d the least
	b = fetch(t, s, id, 0, segs[1])
	if exists(d.Paths[KindLog]) || !exists(a.Paths[KindLog]) {
		t.Fatal("eviction is not least-recently-used")
	}
	checkSame(t, b, files[1])
	b.Release()
	// Segments in use may exceed the bound: none is evicted.
	var hs []*CachedSegment
	for i := range segs {
		hs = append(hs, fetch(t, s, id, 0, segs[i]))
	}
	for i, h := range hs {
		checkSame(t, h, files[i])
	}
	if st := s.CacheStats(); st.InUse != 4 || st.Segments != 4 {
		t.Fatalf("all in use: %+v", st)
	}
	for _, h := range hs {
		h.Release()
	}
	if st := s.CacheStats(); st.Bytes > s.opts.CacheBytes || st.Segments != 2 {
		t.Fatalf("after releasing them: %+v", st)
	}
	if n := len(cacheFiles(t, s)); n != 2*4 {
		t.Fatalf("%d files in the cache, want those of 2 segments", n)
	}
}

func testConcurrentFetch(t *testing.T, cfg configure) {
	s := openStore(t, cfg, Options{})
	id := topicID(6)
	seg, files := uploadSegWithFiles(t, s, id, 0, 0, 8<<20)
	// A fetcher that gives up at once does not disturb the others.
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	const n = 8
	var wg sync.WaitGroup
	handles := make([]*CachedSegment, n)
	errs := make([]error, n+1)
	start := make(chan struct{})
	for i := 0; i <= n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if i == n {
				_, errs[i] = s.Fetch(cancelled, id, 0, seg)
				return
			}
			handles[i], errs[i] = s.Fetch(ctxT(t), id, 0, seg)
		}()
	}
	close(start)
	wg.Wait()
	if !errors.Is(errs[n], context.Canceled) {
		t.Errorf("fetch with a cancelled context: %v", errs[n])
	}
	for i := 0; i < n; i++ {
		if errs[i] != nil {
			t.Fatalf("fetch %d: %v", i, errs[i])
		}
		if !reflect.DeepEqual(handles[i].Paths, handles[0].Paths) {
			t.Fatalf("fetch %d got other paths", i)
		}
	}
	checkSame(t, handles[0], files)
	if st := s.CacheStats(); st.Downloads != 1 || st.InUse != 1 {
		t.Fatalf("stats: %+v, want one download shared", st)
	}
	for _, h := range handles {
		h.Release()
	}
	if st := s.CacheStats(); st.InUse != 0 || st.Segments != 1 {
		t.Fatalf("after release: %+v", st)
	}
}

func testPrefetch(t *testing.T, cfg configure) {
	s := openStore(t, cfg, Options{})
	id := topicID(7)
	seg, files := uploadSegWithFiles(t, s, id, 0, 0, 1<<20)
	s.Prefetch(id, 0, seg)
	s.Prefetch(id, 0, seg) // already on its way: nothing more
	deadline := time.Now().Add(30 * time.Second)
	for {
		s.mu.Lock()
		e := s.cache.entries[seg.Files[KindLog].Key]
		done := e != nil && !e.loading && e.refs == 0
		s.mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("prefetch did not finish")
		}
		time.Sleep(10 * time.Millisecond)
	}
	h := fetch(t, s, id, 0, seg)
	checkSame(t, h, files)
	h.Release()
	if st := s.CacheStats(); st.Downloads != 1 || st.Hits != 1 {
		t.Fatalf("stats: %+v, want the fetch served by the prefetch", st)
	}
	// A failing prefetch only logs.
	bad := seg
	bad.Files = map[string]RemoteFile{KindLog: {Key: strings.Replace(seg.Files[KindLog].Key, "-", "-0", 1), Size: 1, SHA256: strings.Repeat("0", 64)}}
	s.Prefetch(id, 0, bad)
}

func testDeleteUnreferenced(t *testing.T, cfg configure) {
	s := openStore(t, cfg, Options{OrphanGrace: -1})
	id := topicID(8)
	ctx := ctxT(t)
	kept := uploadSeg(t, s, id, 0, 0, 1000)
	dropped := uploadSeg(t, s, id, 0, 10, 1000) // uploaded, then the manifest write "crashed"
	m := writeManifest(t, s, id, 0, kept)
	orphan := uploadSeg(t, s, id, 0, 20, 1000)
	newer := uploadSeg(t, s, id, 0, 30, 1000)
	// Another partition's objects are not touched.
	otherSeg := uploadSeg(t, s, id, 1, 0, 1000)
	// The manifest in the bucket moves on; the caller's copy is older.
	old := *m
	writeManifest(t, s, id, 0, kept, newer)
	n, err := s.DeleteUnreferenced(ctx, &old)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(dropped.Files) + len(orphan.Files); n != want {
		t.Fatalf("deleted %d objects, want %d", n, want)
	}
	remaining := map[string]bool{}
	for _, k := range bucketKeys(t, s, "topics/") {
		remaining[k] = true
	}
	for name, seg := range map[string]RemoteSegment{"kept": kept, "newer": newer, "other partition": otherSeg} {
		for _, f := range seg.Files {
			if !remaining[f.Key] {
				t.Fatalf("%s object %s deleted", name, f.Key)
			}
		}
	}
	for _, seg := range []RemoteSegment{dropped, orphan} {
		for _, f := range seg.Files {
			if remaining[f.Key] {
				t.Fatalf("orphan %s kept", f.Key)
			}
		}
	}
	h := fetch(t, s, id, 0, kept)
	h.Release()
	if n, err := s.DeleteUnreferenced(ctx, &old); err != nil || n != 0 {
		t.Fatalf("second pass: %d, %v", n, err)
	}

	// With the default grace, a fresh orphan is kept: it may be an upload
	// whose manifest write is still to come.
	s2 := openStore(t, func(t *testing.T, o Options) Options {
		o2 := s.Options()
		o2.CacheDir, o2.OrphanGrace, o2.CacheBytes = o.CacheDir, 0, 0
		return o2
	}, Options{})
	fresh := uploadSeg(t, s2, id, 0, 40, 1000)
	if n, err := s2.DeleteUnreferenced(ctx, &old); err != nil || n != 0 {
		t.Fatalf("fresh orphan: deleted %d, %v", n, err)
	}
	if err := s.DeleteSegment(ctx, fresh); err != nil {
		t.Fatal(err)
	}
}

func testDeleteSegment(t *testing.T, cfg configure) {
	s := openStore(t, cfg, Options{})
	id := topicID(9)
	ctx := ctxT(t)
	a := uploadSeg(t, s, id, 0, 0, 5000)
	b := uploadSeg(t, s, id, 0, 10, 5000)
	ha := fetch(t, s, id, 0, a)
	hb := fetch(t, s, id, 0, b)
	hb.Release()
	if err := s.DeleteSegment(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSegment(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSegment(ctx, a); err != nil {
		t.Fatalf("deleting again: %v", err)
	}
	if keys := bucketKeys(t, s, "topics/"); len(keys) != 0 {
		t.Fatalf("objects left: %v", keys)
	}
	if exists(hb.Paths[KindLog]) {
		t.Fatal("cached copy of a deleted segment kept")
	}
	if !exists(ha.Paths[KindLog]) {
		t.Fatal("cached copy removed while in use")
	}
	ha.Release()
	if exists(ha.Paths[KindLog]) {
		t.Fatal("cached copy of a deleted segment kept after release")
	}
	if _, err := s.Fetch(ctx, id, 0, a); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Fetch of a deleted segment: %v, want ErrNotFound", err)
	}
	if st := s.CacheStats(); st.Segments != 0 || st.Bytes != 0 {
		t.Fatalf("stats: %+v", st)
	}
}

func testListPartitions(t *testing.T, cfg configure) {
	s := openStore(t, cfg, Options{})
	ctx := ctxT(t)
	if refs, err := s.ListPartitions(ctx); err != nil || len(refs) != 0 {
		t.Fatalf("empty bucket: %v, %v", refs, err)
	}
	t1, t2 := topicID(0x10), topicID(0x20)
	var want []PartitionRef
	for _, r := range []PartitionRef{{t1, 0}, {t1, 2}, {t1, 10}, {t2, 1}} {
		seg := uploadSeg(t, s, r.TopicID, r.Partition, 0, 2000)
		writeManifest(t, s, r.TopicID, r.Partition, seg)
		want = append(want, r)
	}
	uploadSeg(t, s, t2, 5, 0, 2000) // objects but no manifest: not listed
	if err := s.PutMeta(ctx, "cluster.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if bytes.Compare(t1[:], t2[:]) >= 0 {
		t.Fatal("test topic ids out of order") // want is sorted only if t1 < t2
	}
	got, err := s.ListPartitions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ListPartitions = %v, want %v", got, want)
	}
	h := fetch(t, s, t1, 2, mustManifest(t, s, t1, 2).Segments[0])
	h.Release()
	if err := s.DeletePartition(ctx, t1, 2); err != nil {
		t.Fatal(err)
	}
	if err := s.DeletePartition(ctx, t2, 5); err != nil {
		t.Fatal(err)
	}
	if err := s.DeletePartition(ctx, t2, 6); err != nil {
		t.Fatalf("deleting a partition with nothing: %v", err)
	}
	if keys := bucketKeys(t, s, "topics/"+TopicIDHex(t1)+"/2/"); len(keys) != 0 {
		t.Fatalf("objects left: %v", keys)
	}
	if keys := bucketKeys(t, s, "topics/"+TopicIDHex(t2)+"/5/"); len(keys) != 0 {
		t.Fatalf("objects left: %v", keys)
	}
	if exists(h.Paths[KindLog]) {
		t.Fatal("cached copy of a deleted partition kept")
	}
	got, err = s.ListPartitions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want = []PartitionRef{{t1, 0}, {t1, 10}, {t2, 1}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after delete: %v, want %v", got, want)
	}
	if m := mustManifest(t, s, t1, 10); len(m.Segments) != 1 {
		t.Fatal("other partitions touched")
	}
}

func mustManifest(t *testing.T, s *Store, id [16]byte, p int32) *Manifest {
	t.Helper()
	m, err := s.ReadManifest(ctxT(t), id, p)
	if err != nil || m == nil {
		t.Fatalf("ReadManifest: %v, %v", m, err)
	}
	return m
}

func testMeta(t *testing.T, cfg configure) {
	s := openStore(t, cfg, Options{})
	ctx := ctxT(t)
	if _, err := s.GetMeta(ctx, "cluster.json"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetMeta of nothing: %v, want ErrNotFound", err)
	}
	for _, data := range [][]byte{[]byte(`{"topics":[]}`), randomBytes(t, 70000), {}} {
		if err := s.PutMeta(ctx, "cluster.json", data); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetMeta(ctx, "cluster.json")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("GetMeta returned %d bytes, put %d", len(got), len(data))
		}
	}
	if err := s.PutMeta(ctx, "brokers/1.json", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetMeta(ctx, "brokers/1.json"); err != nil || string(got) != "x" {
		t.Fatalf("nested name: %q, %v", got, err)
	}
	if keys := bucketKeys(t, s, "meta/"); len(keys) != 2 {
		t.Fatalf("meta objects: %v", keys)
	}
	for _, name := range []string{"", "/abs", "../up", "a/../../b", "dir/", "a//b", "tab\tname", "."} {
		if err := s.PutMeta(ctx, name, nil); err == nil {
			t.Errorf("PutMeta(%q) accepted", name)
		}
		if _, err := s.GetMeta(ctx, name); err == nil || errors.Is(err, ErrNotFound) {
			t.Errorf("GetMeta(%q): %v", name, err)
		}
	}
}

func testUploadErrors(t *testing.T, cfg configure) {
	s := openStore(t, cfg, Options{})
	id := topicID(11)
	ctx := ctxT(t)
	files := writeSegmentFiles(t, t.TempDir(), 0, 1000)
	noLog := map[string]string{KindIndex: files[KindIndex]}
	if _, err := s.UploadSegment(ctx, id, 0, RemoteSegment{}, noLog); err == nil {
		t.Fatal("upload without a log accepted")
	}
	if _, err := s.UploadSegment(ctx, id, 0, RemoteSegment{}, map[string]string{KindLog: files[KindLog], "Bad/Kind": files[KindIndex]}); err == nil {
		t.Fatal("bad kind accepted")
	}
	if _, err := s.UploadSegment(ctx, id, -1, RemoteSegment{}, files); err == nil {
		t.Fatal("negative partition accepted")
	}
	if _, err := s.UploadSegment(ctx, id, 0, RemoteSegment{BaseOffset: 10, NextOffset: 5}, files); err == nil {
		t.Fatal("bad offsets accepted")
	}
	// A missing file fails the upload, and what was already written of
	// the segment is deleted.
	missing := map[string]string{KindLog: files[KindLog], KindIndex: files[KindIndex], "zzz": filepath.Join(t.TempDir(), "nope")}
	if _, err := s.UploadSegment(ctx, id, 0, RemoteSegment{}, missing); err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	if keys := bucketKeys(t, s, "topics/"); len(keys) != 0 {
		t.Fatalf("objects left by a failed upload: %v", keys)
	}
	// Only the log is required; an empty file is fine.
	seg, err := s.UploadSegment(ctx, id, 0, RemoteSegment{BaseOffset: 0, NextOffset: 1}, map[string]string{KindLog: files[KindLog], KindTxnIndex: files[KindTxnIndex]})
	if err != nil {
		t.Fatal(err)
	}
	h := fetch(t, s, id, 0, seg)
	if st, err := os.Stat(h.Paths[KindTxnIndex]); err != nil || st.Size() != 0 {
		t.Fatalf("empty file: %v, %v", st, err)
	}
	h.Release()
	// A cancelled context stops an upload.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.UploadSegment(cctx, id, 0, RemoteSegment{}, files); err == nil {
		t.Fatal("upload with a cancelled context succeeded")
	}
}

func testReopen(t *testing.T, cfg configure) {
	cacheDir := t.TempDir()
	// Something that is not the cache's: kept.
	foreign := filepath.Join(cacheDir, "notes.txt")
	if err := os.WriteFile(foreign, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	o := cfg(t, Options{CacheDir: cacheDir})
	s, err := Open(ctxT(t), o, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	id := topicID(12)
	seg, files := uploadSegWithFiles(t, s, id, 0, 0, 4000)
	h := fetch(t, s, id, 0, seg)
	h.Release()
	// A download a crash left half done.
	part := h.Paths[KindLog] + ".12345.part"
	if err := os.WriteFile(part, []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctxT(t), o, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := cacheFiles(t, s); len(got) != 1 || got[0] != foreign {
		t.Fatalf("cache after reopening: %v", got)
	}
	h = fetch(t, s, id, 0, seg)
	checkSame(t, h, files)
	h.Release()
}

func testClosed(t *testing.T, cfg configure) {
	o := cfg(t, Options{CacheDir: t.TempDir()})
	s, err := Open(ctxT(t), o, nil)
	if err != nil {
		t.Fatal(err)
	}
	id := topicID(13)
	seg, _ := uploadSegWithFiles(t, s, id, 0, 0, 4000)
	h := fetch(t, s, id, 0, seg)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ctx := ctxT(t)
	if _, err := s.Fetch(ctx, id, 0, seg); !errors.Is(err, ErrClosed) {
		t.Fatalf("Fetch after Close: %v", err)
	}
	if _, err := s.ReadManifest(ctx, id, 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("ReadManifest after Close: %v", err)
	}
	if _, err := s.GetMeta(ctx, "x"); !errors.Is(err, ErrClosed) {
		t.Fatalf("GetMeta after Close: %v", err)
	}
	s.Prefetch(id, 0, seg) // nothing
	h.Release()            // still fine
}
