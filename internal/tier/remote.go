package tier

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gocloud.dev/blob"
)

// RemoteFile is one object of a remote segment.
type RemoteFile struct {
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // hex
}

// RemoteSegment describes a segment held in the bucket.
type RemoteSegment struct {
	BaseOffset   int64                 `json:"base_offset"` // first offset
	NextOffset   int64                 `json:"next_offset"` // one past the last offset
	MaxTimestamp int64                 `json:"max_timestamp"`
	SizeBytes    int64                 `json:"size_bytes"` // of the .log file
	LeaderEpoch  int32                 `json:"leader_epoch"`
	UploadedAt   time.Time             `json:"uploaded_at"`
	Files        map[string]RemoteFile `json:"files"` // by kind
	// Aborted lists the aborted transactions whose markers are in this
	// segment (its transaction index, kept in the manifest so that a
	// read-committed fetch need not download it).
	Aborted []AbortedTxn `json:"aborted,omitempty"`
}

// AbortedTxn is an aborted transaction: the producer's records in
// [FirstOffset, LastOffset] (the marker's offset) are to be skipped by
// read-committed consumers.
type AbortedTxn struct {
	ProducerID  int64 `json:"producer_id"`
	FirstOffset int64 `json:"first_offset"`
	LastOffset  int64 `json:"last_offset"`
}

// Manifest lists a partition's remote segments. It is one object, written
// whole.
type Manifest struct {
	TopicID        string          `json:"topic_id"` // hex of the 16-byte id
	Topic          string          `json:"topic"`
	Partition      int32           `json:"partition"`
	Version        int64           `json:"version"`          // bumped by every WriteManifest
	LogStartOffset int64           `json:"log_start_offset"` // earliest offset still held remotely
	Segments       []RemoteSegment `json:"segments"`         // sorted by BaseOffset, not overlapping
}

const octetStream = "application/octet-stream"

// segNameRE matches the last part of a segment object's key,
// "<20-digit base offset>-<unique>.<kind>", which is also the cached file's
// name.
var segNameRE = regexp.MustCompile(`^[0-9]{20}-[0-9a-z]{1,64}\.[a-z0-9][a-z0-9-]{0,31}$`)

// newUnique returns 24 random hex digits: object keys never repeat, so a
// retried or crashed upload never overwrites an object a manifest
// references.
func newUnique() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// UploadSegment uploads the given local files (kind -> path; the log kind is
// required) under fresh keys, computing each one's SHA-256 and size from the
// bytes actually sent, and returns seg with Files, SizeBytes (of the log)
// and UploadedAt filled in. It does not write the manifest. On error, the
// objects it already wrote are deleted if ctx still allows (any left are
// orphans for DeleteUnreferenced).
func (s *Store) UploadSegment(ctx context.Context, topicID [16]byte, partition int32, seg RemoteSegment, files map[string]string) (RemoteSegment, error) {
	if err := checkPartition(partition); err != nil {
		return RemoteSegment{}, err
	}
	if seg.BaseOffset < 0 || seg.NextOffset < seg.BaseOffset {
		return RemoteSegment{}, fmt.Errorf("tier: upload: bad offsets [%d, %d)", seg.BaseOffset, seg.NextOffset)
	}
	if _, ok := files[KindLog]; !ok {
		return RemoteSegment{}, errors.New("tier: upload: the log file is required")
	}
	kinds := make([]string, 0, len(files))
	for k := range files {
		if !kindRE.MatchString(k) {
			return RemoteSegment{}, fmt.Errorf("tier: upload: bad file kind %q", k)
		}
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	if err := s.checkOpen(); err != nil {
		return RemoteSegment{}, err
	}

	base := fmt.Sprintf("%s%020d-%s.", s.segmentsPrefix(topicID, partition), seg.BaseOffset, newUnique())
	s.mu.Lock()
	s.uploading[base]++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if s.uploading[base]--; s.uploading[base] <= 0 {
			delete(s.uploading, base)
		}
		s.mu.Unlock()
	}()

	out := seg
	out.Files = make(map[string]RemoteFile, len(files))
	start := time.Now()
	var total int64
	for _, kind := range kinds {
		key := base + kind
		rf, err := s.uploadFile(ctx, key, files[kind])
		if err != nil {
			if ctx.Err() == nil {
				for _, f := range out.Files {
					if derr := s.bucket.Delete(ctx, f.Key); derr != nil && !isNotFound(derr) {
						s.logger.Warn("tiered storage: could not delete the objects of a failed upload", "key", f.Key, "err", derr)
					}
				}
			}
			return RemoteSegment{}, err
		}
		out.Files[kind] = rf
		total += rf.Size
	}
	out.SizeBytes = out.Files[KindLog].Size
	out.UploadedAt = time.Now().UTC()
	s.logger.Debug("tiered storage: segment uploaded", "key", base+KindLog, "base_offset", seg.BaseOffset, "next_offset", seg.NextOffset,
		"bytes", total, "took", time.Since(start))
	return out, nil
}

// countingHash counts and hashes what is read through it.
type countingHash struct {
	r io.Reader
	h hashWriter
	n int64
}

type hashWriter interface {
	io.Writer
	Sum([]byte) []byte
}

func (c *countingHash) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.h.Write(p[:n])
		c.n += int64(n)
	}
	return n, err
}

func (s *Store) uploadFile(ctx context.Context, key, localPath string) (RemoteFile, error) {
	f, err := os.Open(localPath)
	if err != nil {
		return RemoteFile{}, fmt.Errorf("tier: upload %s: %w", key, err)
	}
	defer f.Close()
	// Hash exactly the bytes sent: a file still growing (the leader epoch
	// checkpoint may be rewritten meanwhile) is described as uploaded.
	c := &countingHash{r: f, h: sha256.New()}
	if err := s.bucket.Upload(ctx, key, c, &blob.WriterOptions{ContentType: octetStream}); err != nil {
		return RemoteFile{}, opError("upload", key, err)
	}
	return RemoteFile{Key: key, Size: c.n, SHA256: hex.EncodeToString(c.h.Sum(nil))}, nil
}

// ReadManifest returns the partition's manifest, or (nil, nil) if it has
// none.
func (s *Store) ReadManifest(ctx context.Context, topicID [16]byte, partition int32) (*Manifest, error) {
	if err := checkPartition(partition); err != nil {
		return nil, err
	}
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	key := s.manifestKey(topicID, partition)
	data, err := s.bucket.ReadAll(ctx, key)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, opError("read manifest", key, err)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("tier: read manifest %s: %w", key, err)
	}
	if m.TopicID != TopicIDHex(topicID) || m.Partition != partition {
		return nil, fmt.Errorf("tier: read manifest %s: it describes topic %s partition %d", key, m.TopicID, m.Partition)
	}
	return &m, nil
}

// WriteManifest increments m.Version and writes m whole (one object PUT:
// atomic on every backend). It checks that the segments are sorted, do not
// overlap, each have a log file, and that every key belongs to the
// partition. On error m.Version is left as it was.
func (s *Store) WriteManifest(ctx context.Context, m *Manifest) error {
	if m == nil {
		return errors.New("tier: write manifest: nil manifest")
	}
	id, err := ParseTopicID(m.TopicID)
	if err != nil {
		return err
	}
	if err := checkPartition(m.Partition); err != nil {
		return err
	}
	key := s.manifestKey(id, m.Partition)
	if err := s.checkManifest(id, m); err != nil {
		return fmt.Errorf("tier: write manifest %s: %w", key, err)
	}
	if err := s.checkOpen(); err != nil {
		return err
	}
	m.Version++
	data, err := json.Marshal(m)
	if err == nil {
		err = s.bucket.WriteAll(ctx, key, data, &blob.WriterOptions{ContentType: "application/json"})
	}
	if err != nil {
		m.Version--
		return opError("write manifest", key, err)
	}
	return nil
}

func (s *Store) checkManifest(id [16]byte, m *Manifest) error {
	prefix := s.segmentsPrefix(id, m.Partition)
	for i, seg := range m.Segments {
		if seg.BaseOffset < 0 || seg.NextOffset < seg.BaseOffset {
			return fmt.Errorf("segment %d: bad offsets [%d, %d)", i, seg.BaseOffset, seg.NextOffset)
		}
		if i > 0 && seg.BaseOffset < m.Segments[i-1].NextOffset {
			return fmt.Errorf("segment %d at %d overlaps or precedes the one before, [%d, %d)", i, seg.BaseOffset,
				m.Segments[i-1].BaseOffset, m.Segments[i-1].NextOffset)
		}
		if _, ok := seg.Files[KindLog]; !ok {
			return fmt.Errorf("segment %d at %d has no log file", i, seg.BaseOffset)
		}
		for kind, f := range seg.Files {
			if !kindRE.MatchString(kind) {
				return fmt.Errorf("segment %d at %d: bad file kind %q", i, seg.BaseOffset, kind)
			}
			if !strings.HasPrefix(f.Key, prefix) || !segNameRE.MatchString(f.Key[len(prefix):]) {
				return fmt.Errorf("segment %d at %d: key %q is not one of this partition's segment objects", i, seg.BaseOffset, f.Key)
			}
		}
	}
	return nil
}

// DeleteSegment deletes a segment's objects (missing ones are fine) and drops
// it from the local cache (at its last Release if in use).
func (s *Store) DeleteSegment(ctx context.Context, seg RemoteSegment) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	if f, ok := seg.Files[KindLog]; ok {
		s.dropCached(func(id string) bool { return id == f.Key })
	}
	var errs []error
	for _, kind := range sortedKinds(seg.Files) {
		key := seg.Files[kind].Key
		if err := s.bucket.Delete(ctx, key); err != nil && !isNotFound(err) {
			errs = append(errs, opError("delete", key, err))
			if ctx.Err() != nil {
				break
			}
		}
	}
	return errors.Join(errs...)
}

// DeletePartition deletes every object of a partition (topic deletion),
// the manifest last, and drops its segments from the local cache.
func (s *Store) DeletePartition(ctx context.Context, topicID [16]byte, partition int32) error {
	if err := checkPartition(partition); err != nil {
		return err
	}
	if err := s.checkOpen(); err != nil {
		return err
	}
	prefix := s.partPrefix(topicID, partition)
	s.dropCached(func(id string) bool { return strings.HasPrefix(id, prefix) })
	manifest := s.manifestKey(topicID, partition)
	it := s.bucket.List(&blob.ListOptions{Prefix: prefix})
	var errs []error
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return errors.Join(append(errs, opError("list", prefix, err))...)
		}
		if obj.IsDir || obj.Key == manifest {
			continue
		}
		if err := s.bucket.Delete(ctx, obj.Key); err != nil && !isNotFound(err) {
			errs = append(errs, opError("delete", obj.Key, err))
			if ctx.Err() != nil {
				return errors.Join(errs...)
			}
		}
	}
	if len(errs) > 0 {
		// Keep the manifest, so that ListPartitions still finds the
		// partition for a retry.
		return errors.Join(errs...)
	}
	if err := s.bucket.Delete(ctx, manifest); err != nil && !isNotFound(err) {
		return opError("delete", manifest, err)
	}
	return nil
}

// ListPartitions lists the partitions that have a manifest (for recovery
// from the bucket), sorted by topic id and partition.
func (s *Store) ListPartitions(ctx context.Context) ([]PartitionRef, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	topicsPrefix := s.opts.Prefix + "topics/"
	topics, err := s.listDirs(ctx, topicsPrefix)
	if err != nil {
		return nil, err
	}
	var out []PartitionRef
	for _, t := range topics {
		id, err := ParseTopicID(t)
		if err != nil {
			continue // not ours
		}
		parts, err := s.listDirs(ctx, topicsPrefix+t+"/")
		if err != nil {
			return nil, err
		}
		for _, p := range parts {
			n, err := strconv.ParseInt(p, 10, 32)
			if err != nil || n < 0 || strconv.FormatInt(n, 10) != p {
				continue
			}
			key := s.manifestKey(id, int32(n))
			ok, err := s.bucket.Exists(ctx, key)
			if err != nil {
				return nil, opError("stat", key, err)
			}
			if ok {
				out = append(out, PartitionRef{TopicID: id, Partition: int32(n)})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if c := strings.Compare(string(out[i].TopicID[:]), string(out[j].TopicID[:])); c != 0 {
			return c < 0
		}
		return out[i].Partition < out[j].Partition
	})
	return out, nil
}

// listDirs returns the names of the "directories" right under prefix.
func (s *Store) listDirs(ctx context.Context, prefix string) ([]string, error) {
	it := s.bucket.List(&blob.ListOptions{Prefix: prefix, Delimiter: "/"})
	var out []string
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, opError("list", prefix, err)
		}
		if obj.IsDir {
			out = append(out, strings.TrimSuffix(strings.TrimPrefix(obj.Key, prefix), "/"))
		}
	}
}

// DeleteUnreferenced deletes the segment objects of m's partition that
// neither m nor the manifest now in the bucket references: those left by a
// crash mid-upload. Objects younger than Options.OrphanGrace and those of
// uploads in progress in this Store are kept. It returns how many objects
// it deleted.
func (s *Store) DeleteUnreferenced(ctx context.Context, m *Manifest) (int, error) {
	if m == nil {
		return 0, errors.New("tier: delete unreferenced: nil manifest")
	}
	id, err := ParseTopicID(m.TopicID)
	if err != nil {
		return 0, err
	}
	if err := checkPartition(m.Partition); err != nil {
		return 0, err
	}
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	refs := map[string]bool{}
	addRefs := func(m *Manifest) {
		for _, seg := range m.Segments {
			for _, f := range seg.Files {
				refs[f.Key] = true
			}
		}
	}
	addRefs(m)
	// A caller holding an older manifest must not delete what a newer one
	// references.
	cur, err := s.ReadManifest(ctx, id, m.Partition)
	if err != nil {
		return 0, err
	}
	if cur != nil {
		addRefs(cur)
	}
	prefix := s.segmentsPrefix(id, m.Partition)
	cutoff := time.Now().Add(-s.opts.OrphanGrace)
	it := s.bucket.List(&blob.ListOptions{Prefix: prefix})
	n := 0
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, opError("list", prefix, err)
		}
		if obj.IsDir || refs[obj.Key] || s.isUploading(obj.Key) {
			continue
		}
		if s.opts.OrphanGrace > 0 && obj.ModTime.After(cutoff) {
			continue
		}
		if err := s.bucket.Delete(ctx, obj.Key); err != nil && !isNotFound(err) {
			return n, opError("delete", obj.Key, err)
		}
		s.logger.Info("tiered storage: deleted an unreferenced object", "key", obj.Key, "bytes", obj.Size)
		n++
	}
}

func (s *Store) isUploading(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for base := range s.uploading {
		if strings.HasPrefix(key, base) {
			return true
		}
	}
	return false
}

// metaKey checks name and returns its key.
func (s *Store) metaKey(name string) (string, error) {
	if name == "" || strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") || path.Clean(name) != name || name == "." ||
		strings.HasPrefix(name, "../") || name == ".." || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", fmt.Errorf("tier: bad metadata name %q", name)
	}
	return s.opts.Prefix + "meta/" + name, nil
}

// PutMeta stores cluster metadata under name (e.g. "cluster.json"), so that
// a broker can be restored from the bucket alone.
func (s *Store) PutMeta(ctx context.Context, name string, data []byte) error {
	key, err := s.metaKey(name)
	if err != nil {
		return err
	}
	if err := s.checkOpen(); err != nil {
		return err
	}
	return opError("put", key, s.bucket.WriteAll(ctx, key, data, &blob.WriterOptions{ContentType: octetStream}))
}

// GetMeta returns what PutMeta stored under name, or an error matching
// ErrNotFound.
func (s *Store) GetMeta(ctx context.Context, name string) ([]byte, error) {
	key, err := s.metaKey(name)
	if err != nil {
		return nil, err
	}
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	data, err := s.bucket.ReadAll(ctx, key)
	if err != nil {
		return nil, opError("get", key, err)
	}
	return data, nil
}

func (s *Store) checkOpen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return nil
}

func sortedKinds(files map[string]RemoteFile) []string {
	kinds := make([]string, 0, len(files))
	for k := range files {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	return kinds
}
