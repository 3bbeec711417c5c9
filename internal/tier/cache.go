package tier

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// maxPrefetches bounds the background fetches in flight; Prefetch
	// skips beyond it.
	maxPrefetches = 2
	// prefetchTimeout bounds one background fetch.
	prefetchTimeout = 10 * time.Minute
)

// errSuperseded ends a download nobody waits for any more, or whose segment
// was deleted meanwhile.
var errSuperseded = errors.New("download abandoned")

// cache is the Store's index of downloaded segments, guarded by Store.mu.
// A segment is identified by its log object's key, unique per upload.
type cache struct {
	entries     map[string]*cacheEntry
	lru         *list.List // released, downloaded entries; most recent first
	used        int64      // bytes of the entries in the index (downloading ones by their expected size)
	prefetching int
	downloads   int64
	hits        int64
}

func (c *cache) init() {
	c.entries = map[string]*cacheEntry{}
	c.lru = list.New()
}

type fileStat struct {
	size  int64
	mtime time.Time
}

type cacheEntry struct {
	id    string            // key of the log object
	paths map[string]string // kind -> local path
	size  int64

	refs    int
	loading bool
	ready   chan struct{} // closed when the download ended (err set)
	err     error
	cancel  context.CancelFunc // of the download
	// doomed: out of the index; its files go at its last release (unless a
	// newer entry for the same segment owns the paths by then).
	doomed bool
	elem   *list.Element // in cache.lru while released
	stats  map[string]fileStat
}

// CachedSegment is a remote segment's files in the local cache. They stay
// until Release; open them read-only.
type CachedSegment struct {
	Paths   map[string]string // kind -> local path
	Segment RemoteSegment

	s    *Store
	e    *cacheEntry
	once sync.Once
}

// Release lets the cache evict the files (once no other handle holds them).
// It may be called more than once.
func (c *CachedSegment) Release() {
	c.once.Do(func() { c.s.release(c.e) })
}

// CacheStats describes the local cache.
type CacheStats struct {
	Bytes     int64 // held or being downloaded
	Segments  int   // held or being downloaded
	InUse     int   // segments with handles not yet released
	Downloads int64 // downloads started since Open
	Hits      int64 // fetches served from the cache since Open
}

// CacheStats returns the cache's current state.
func (s *Store) CacheStats() CacheStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := CacheStats{Bytes: s.cache.used, Segments: len(s.cache.entries), Downloads: s.cache.downloads, Hits: s.cache.hits}
	for _, e := range s.cache.entries {
		if e.refs > 0 {
			st.InUse++
		}
	}
	return st
}

// Fetch makes a remote segment's files available locally: it downloads each
// file into the cache directory unless already there, verifies its size and
// SHA-256 against seg (a mismatch is ErrChecksum, wrapped with the key; the
// bad file is removed, never served), and returns a handle with the local
// paths. Concurrent fetches of the same segment share one download; ctx
// bounds this caller's wait (the download goes on while anyone waits for
// it). Release the handle when done.
func (s *Store) Fetch(ctx context.Context, topicID [16]byte, partition int32, seg RemoteSegment) (*CachedSegment, error) {
	if err := checkPartition(partition); err != nil {
		return nil, err
	}
	paths, size, err := s.cachePaths(topicID, partition, seg)
	if err != nil {
		return nil, err
	}
	id := seg.Files[KindLog].Key
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("tier: fetch %s: %w", id, err)
	}
	for attempt := 0; ; attempt++ {
		e, err := s.acquire(id, paths, size, seg)
		if err != nil {
			return nil, err
		}
		select {
		case <-e.ready:
		case <-ctx.Done():
			s.release(e)
			return nil, fmt.Errorf("tier: fetch %s: %w", id, ctx.Err())
		}
		if e.err != nil {
			s.release(e)
			return nil, e.err
		}
		if bad := e.changedFile(); bad != "" {
			retry := s.discard(e)
			s.release(e)
			if !retry || attempt > 0 {
				return nil, fmt.Errorf("tier: fetch %s: the cached file %s was changed: %w", id, bad, ErrChecksum)
			}
			s.logger.Warn("tiered storage: a cached file was changed; downloading the segment again", "path", bad)
			continue
		}
		return &CachedSegment{Paths: maps.Clone(e.paths), Segment: seg, s: s, e: e}, nil
	}
}

// Prefetch starts a background Fetch of seg and releases it at once, so that
// a sequential consumer's next Fetch finds it cached. It does nothing when
// the segment is cached or downloading, or when enough prefetches are in
// flight; errors are only logged.
func (s *Store) Prefetch(topicID [16]byte, partition int32, seg RemoteSegment) {
	logf, ok := seg.Files[KindLog]
	if !ok {
		return
	}
	s.mu.Lock()
	if s.closed || s.cache.prefetching >= maxPrefetches || s.cache.entries[logf.Key] != nil {
		s.mu.Unlock()
		return
	}
	s.cache.prefetching++
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			s.cache.prefetching--
			s.mu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(s.ctx, prefetchTimeout)
		defer cancel()
		h, err := s.Fetch(ctx, topicID, partition, seg)
		if err != nil {
			if s.ctx.Err() == nil {
				s.logger.Warn("tiered storage: prefetch failed", "key", logf.Key, "err", err)
			}
			return
		}
		h.Release()
	}()
}

// cachePaths checks seg's files and returns their local paths and total
// size.
func (s *Store) cachePaths(topicID [16]byte, partition int32, seg RemoteSegment) (map[string]string, int64, error) {
	logf, ok := seg.Files[KindLog]
	if !ok {
		return nil, 0, fmt.Errorf("tier: fetch segment at %d: no log file", seg.BaseOffset)
	}
	prefix := s.segmentsPrefix(topicID, partition)
	dir := filepath.Join(s.opts.CacheDir, TopicIDHex(topicID), strconv.Itoa(int(partition)))
	paths := make(map[string]string, len(seg.Files))
	var size int64
	for kind, f := range seg.Files {
		if !kindRE.MatchString(kind) {
			return nil, 0, fmt.Errorf("tier: fetch %s: bad file kind %q", logf.Key, kind)
		}
		if !strings.HasPrefix(f.Key, prefix) || !segNameRE.MatchString(f.Key[len(prefix):]) {
			return nil, 0, fmt.Errorf("tier: fetch: key %q is not one of this partition's segment objects", f.Key)
		}
		if f.Size < 0 || len(f.SHA256) != sha256.Size*2 {
			return nil, 0, fmt.Errorf("tier: fetch %s: the manifest gives no size or SHA-256", f.Key)
		}
		paths[kind] = filepath.Join(dir, f.Key[len(prefix):])
		size += f.Size
	}
	return paths, size, nil
}

// acquire returns the cache entry of segment id with a reference taken,
// starting its download if it has none.
func (s *Store) acquire(id string, paths map[string]string, size int64, seg RemoteSegment) (*cacheEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	c := &s.cache
	if e := c.entries[id]; e != nil {
		if !(e.loading && e.refs == 0) {
			e.refs++
			if e.elem != nil {
				c.lru.Remove(e.elem)
				e.elem = nil
			}
			if !e.loading {
				c.hits++
			}
			return e, nil
		}
		// Everyone waiting for that download gave up and cancelled it:
		// supersede it (it will not install its files).
		s.unindexLocked(e)
	}
	e := &cacheEntry{id: id, paths: paths, size: size, refs: 1, loading: true, ready: make(chan struct{})}
	var dctx context.Context
	dctx, e.cancel = context.WithCancel(s.ctx)
	c.entries[id] = e
	c.used += size
	s.evictLocked()
	c.downloads++
	s.wg.Add(1)
	go s.download(dctx, e, seg)
	return e, nil
}

// release drops a reference to e.
func (s *Store) release(e *cacheEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.refs--
	if e.refs > 0 {
		return
	}
	switch {
	case e.loading:
		e.cancel() // no one waits for it any more
	case e.err != nil:
	case e.doomed:
		s.removeFilesLocked(e)
	default:
		e.elem = s.cache.lru.PushFront(e)
		s.evictLocked()
	}
}

// discard takes e, held only by the caller, out of the index so that it is
// downloaded again; it reports whether it could.
func (s *Store) discard(e *cacheEntry) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.refs != 1 || s.cache.entries[e.id] != e {
		return false
	}
	s.unindexLocked(e)
	return true
}

// dropCached takes the matching segments out of the cache: their files go now,
// or at their last release.
func (s *Store) dropCached(match func(id string) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, e := range s.cache.entries {
		if !match(id) {
			continue
		}
		s.unindexLocked(e)
		if e.elem != nil {
			s.cache.lru.Remove(e.elem)
			e.elem = nil
			s.removeFilesLocked(e)
		}
	}
}

// unindexLocked takes e out of the index and dooms it.
func (s *Store) unindexLocked(e *cacheEntry) {
	if s.cache.entries[e.id] == e {
		delete(s.cache.entries, e.id)
		s.cache.used -= e.size
	}
	e.doomed = true
}

// evictLocked removes least recently used released segments while the cache
// is above its bound.
func (s *Store) evictLocked() {
	c := &s.cache
	for c.used > s.opts.CacheBytes {
		el := c.lru.Back()
		if el == nil {
			return
		}
		e := el.Value.(*cacheEntry)
		c.lru.Remove(el)
		e.elem = nil
		s.unindexLocked(e)
		s.removeFilesLocked(e)
		s.logger.Debug("tiered storage: evicted a cached segment", "key", e.id, "bytes", e.size)
	}
}

// removeFilesLocked deletes a doomed entry's files, unless a newer entry for
// the same segment has installed its own there.
func (s *Store) removeFilesLocked(e *cacheEntry) {
	if n := s.cache.entries[e.id]; n != nil && !n.loading {
		return
	}
	for _, p := range e.paths {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.logger.Warn("tiered storage: could not remove a cached file", "path", p, "err", err)
		}
	}
}

// changedFile returns the path of a file of e that no longer looks as it did
// when verified, or "".
func (e *cacheEntry) changedFile() string {
	for kind, p := range e.paths {
		st, err := os.Stat(p)
		want := e.stats[kind]
		if err != nil || st.Size() != want.size || !st.ModTime().Equal(want.mtime) {
			return p
		}
	}
	return ""
}

// download fetches e's files to temporary names, verifies them, and installs
// them unless e was superseded meanwhile.
func (s *Store) download(ctx context.Context, e *cacheEntry, seg RemoteSegment) {
	defer s.wg.Done()
	start := time.Now()
	tmps, err := s.downloadFiles(ctx, e, seg)
	s.mu.Lock()
	defer s.mu.Unlock()
	e.cancel()
	current := s.cache.entries[e.id] == e && !e.doomed
	if err == nil && !current {
		err = fmt.Errorf("tier: fetch %s: %w", e.id, errSuperseded)
	}
	var stats map[string]fileStat
	if err == nil {
		stats, err = install(tmps, e.paths)
	}
	if err != nil {
		for _, t := range tmps {
			os.Remove(t)
		}
		s.unindexLocked(e)
		if !errors.Is(err, errSuperseded) && s.ctx.Err() == nil {
			s.logger.Warn("tiered storage: download failed", "key", e.id, "err", err)
		}
	} else {
		s.logger.Debug("tiered storage: segment downloaded", "key", e.id, "bytes", e.size, "took", time.Since(start))
	}
	e.err = err
	e.stats = stats
	e.loading = false
	close(e.ready)
	if err == nil && e.refs == 0 {
		e.elem = s.cache.lru.PushFront(e)
	}
	s.evictLocked()
}

// install renames the downloaded files into place and records how they
// look; on error it removes what it renamed.
func install(tmps, paths map[string]string) (map[string]fileStat, error) {
	stats := make(map[string]fileStat, len(tmps))
	var done []string
	for kind, t := range tmps {
		p := paths[kind]
		err := os.Rename(t, p)
		var st os.FileInfo
		if err == nil {
			done = append(done, p)
			st, err = os.Stat(p)
		}
		if err != nil {
			for _, d := range done {
				os.Remove(d)
			}
			return nil, fmt.Errorf("tier: cache: %w", err)
		}
		stats[kind] = fileStat{size: st.Size(), mtime: st.ModTime()}
	}
	return stats, nil
}

// downloadFiles downloads and verifies every file of seg, returning the
// temporary paths by kind. On error it leaves no file behind.
func (s *Store) downloadFiles(ctx context.Context, e *cacheEntry, seg RemoteSegment) (map[string]string, error) {
	if err := os.MkdirAll(filepath.Dir(e.paths[KindLog]), 0o755); err != nil {
		return nil, fmt.Errorf("tier: cache: %w", err)
	}
	tmps := make(map[string]string, len(seg.Files))
	for _, kind := range sortedKinds(seg.Files) {
		t, err := s.downloadFile(ctx, seg.Files[kind], e.paths[kind])
		if err != nil {
			for _, t := range tmps {
				os.Remove(t)
			}
			return nil, err
		}
		tmps[kind] = t
	}
	return tmps, nil
}

func (s *Store) downloadFile(ctx context.Context, rf RemoteFile, final string) (string, error) {
	r, err := s.bucket.NewReader(ctx, rf.Key, nil)
	if err != nil {
		return "", opError("download", rf.Key, err)
	}
	defer r.Close()
	f, err := os.CreateTemp(filepath.Dir(final), filepath.Base(final)+".*.part")
	if err != nil {
		return "", fmt.Errorf("tier: cache: %w", err)
	}
	fail := func(err error) (string, error) {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	h := sha256.New()
	// Read at most one byte past the expected size: a longer object is
	// caught without downloading all of it.
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, rf.Size+1))
	if err != nil {
		return fail(opError("download", rf.Key, err))
	}
	if sum := hex.EncodeToString(h.Sum(nil)); n != rf.Size || sum != rf.SHA256 {
		s.logger.Error("tiered storage: downloaded object does not match its manifest", "key", rf.Key,
			"size", n, "want_size", rf.Size, "sha256", sum, "want_sha256", rf.SHA256)
		return fail(fmt.Errorf("tier: fetch %s: got %d bytes with SHA-256 %s, want %d bytes with %s: %w",
			rf.Key, n, sum, rf.Size, rf.SHA256, ErrChecksum))
	}
	if err := f.Chmod(0o444); err != nil {
		return fail(fmt.Errorf("tier: cache: %w", err))
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("tier: cache: %w", err)
	}
	return f.Name(), nil
}

var (
	cacheTopicRE = regexp.MustCompile(`^[0-9a-f]{32}$`)
	cachePartRE  = regexp.MustCompile(`^[0-9]+$`)
	cacheFileRE  = regexp.MustCompile(`^[0-9]{20}-[0-9a-z]{1,64}\.[a-z0-9][a-z0-9-]{0,31}(\.[0-9]+\.part)?$`)
)

// cleanCacheDir removes the files a previous Store left in dir: only those
// whose place and name are the cache's own, so a misconfigured directory
// loses nothing else.
func cleanCacheDir(dir string) (int, error) {
	topics, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range topics {
		if !t.IsDir() || !cacheTopicRE.MatchString(t.Name()) {
			continue
		}
		tdir := filepath.Join(dir, t.Name())
		parts, err := os.ReadDir(tdir)
		if err != nil {
			return n, err
		}
		for _, p := range parts {
			if !p.IsDir() || !cachePartRE.MatchString(p.Name()) {
				continue
			}
			pdir := filepath.Join(tdir, p.Name())
			files, err := os.ReadDir(pdir)
			if err != nil {
				return n, err
			}
			for _, f := range files {
				if f.Type().IsRegular() && cacheFileRE.MatchString(f.Name()) {
					if err := os.Remove(filepath.Join(pdir, f.Name())); err != nil {
						return n, err
					}
					n++
				}
			}
			os.Remove(pdir) // only if empty
		}
		os.Remove(tdir) // only if empty
	}
	return n, nil
}
