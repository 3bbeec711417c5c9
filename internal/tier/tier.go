// Package tier keeps closed log segments in object storage (Kafka's KIP-405
// tiered storage): S3 and S3-compatible stores such as MinIO, Google Cloud
// Storage, Azure Blob Storage, or a local directory, all through gocloud.dev's
// blob package.
//
// Layout of the bucket, under Options.Prefix:
//
//	meta/<name>                                          cluster metadata (PutMeta)
//	topics/<topic id hex>/<partition>/manifest.json      the partition's Manifest
//	topics/<topic id hex>/<partition>/segments/<20-digit base offset>-<unique>.<kind>
//
// Segment objects are written once under fresh keys and never overwritten;
// the manifest, one object written whole, is what says which of them belong
// to the partition. A crash between an upload and the manifest write leaves
// unreferenced objects behind, which DeleteUnreferenced removes.
//
// Fetch brings a remote segment's files into a local cache directory,
// verifying each against the SHA-256 recorded in the manifest. The cached
// files are read-only: open them with os.Open. A cached file that was
// changed or truncated is noticed at the next Fetch (by its size and
// modification time) and downloaded again.
package tier

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"
	"gocloud.dev/blob/azureblob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/gcsblob"
	"gocloud.dev/blob/s3blob"
	"gocloud.dev/gcerrors"
	"gocloud.dev/gcp"
)

// Options selects and configures the object store.
type Options struct {
	Backend  string // "local" (no tiering), "s3", "gcs", "azure", "file"
	Bucket   string // bucket/container name; for "file", a directory path
	Prefix   string // key prefix, e.g. "chronik/" ("" allowed; a missing trailing "/" is added)
	Endpoint string // S3-compatible endpoint URL with its scheme (MinIO: "http://127.0.0.1:9000"), "" = AWS; for "azure", the service URL ("" = from the AZURE_STORAGE_* variables)
	Region   string // S3 region ("" = us-east-1 when Endpoint is set, else the AWS config chain's)

	CacheDir   string // local directory for downloaded remote segments (owned by this Store: leftovers are removed at Open)
	CacheBytes int64  // bound of that cache (LRU by bytes; entries in use are never evicted); 0 = DefaultCacheBytes

	// OrphanGrace: DeleteUnreferenced keeps unreferenced objects younger
	// than this, since they may belong to an upload whose manifest write is
	// still to come (in this broker or another). 0 = DefaultOrphanGrace;
	// negative = no grace.
	OrphanGrace time.Duration

	// WarnInaccessible makes Open log an unreachable bucket instead of
	// failing: a broker with local data serves it while the store is down,
	// and uploads retry.
	WarnInaccessible bool
}

// Defaults for Options fields left zero.
const (
	DefaultCacheBytes  = 1 << 30
	DefaultOrphanGrace = 10 * time.Minute
)

var (
	// ErrDisabled is returned by Open for Backend "local" (or ""): no tiering.
	ErrDisabled = errors.New("tier: tiered storage disabled (backend local)")
	// ErrNotFound marks a missing object.
	ErrNotFound = errors.New("tier: object not found")
	// ErrChecksum marks downloaded bytes that do not match the manifest's
	// size or SHA-256; it is wrapped with the object's key.
	ErrChecksum = errors.New("tier: checksum mismatch")
	// ErrClosed is returned by operations on a closed Store.
	ErrClosed = errors.New("tier: store closed")
)

// File kinds of a segment.
const (
	KindLog              = "log"
	KindIndex            = "index"
	KindTimeIndex        = "timeindex"
	KindTxnIndex         = "txnindex"
	KindProducerSnapshot = "snapshot"
	KindLeaderEpochs     = "leader-epochs"
)

// kindRE is what a kind may look like: it ends the object key and the
// cached file's name.
var kindRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// Store is a bucket holding tiered segments, manifests and cluster metadata,
// plus the local cache of downloaded segments. It is safe for concurrent
// use.
type Store struct {
	opts   Options
	bucket *blob.Bucket
	logger *slog.Logger
	desc   string

	// ctx is the parent of downloads and prefetches; Close cancels it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	closed    bool
	uploading map[string]int // key prefixes of uploads in progress: DeleteUnreferenced keeps them
	cache     cache
}

// Open opens the object store that o describes, checks that the bucket can
// be listed (bounded by ctx) and prepares the cache directory. Backend
// "local" or "" returns ErrDisabled. Credentials come from each SDK's usual
// places (for S3 the AWS config chain: AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ...; for GCS the Application Default
// Credentials, or none when STORAGE_EMULATOR_HOST is set; for Azure the
// AZURE_STORAGE_* variables or the default Azure credential) and are never
// logged.
func Open(ctx context.Context, o Options, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	switch o.Backend {
	case "", "local":
		return nil, ErrDisabled
	case "s3", "gcs", "azure", "file":
	default:
		return nil, fmt.Errorf("tier: unknown backend %q (want local, s3, gcs, azure or file)", o.Backend)
	}
	if o.Bucket == "" {
		return nil, fmt.Errorf("tier: backend %s needs a bucket", o.Backend)
	}
	if o.CacheDir == "" {
		return nil, errors.New("tier: a cache directory is required")
	}
	o.Prefix = strings.TrimLeft(o.Prefix, "/")
	if o.Prefix != "" && !strings.HasSuffix(o.Prefix, "/") {
		o.Prefix += "/"
	}
	if strings.Contains(o.Prefix, "//") || strings.Contains("/"+o.Prefix, "/../") {
		return nil, fmt.Errorf("tier: bad prefix %q", o.Prefix)
	}
	if o.CacheBytes <= 0 {
		o.CacheBytes = DefaultCacheBytes
	}
	switch {
	case o.OrphanGrace == 0:
		o.OrphanGrace = DefaultOrphanGrace
	case o.OrphanGrace < 0:
		o.OrphanGrace = 0
	}

	var (
		b    *blob.Bucket
		desc string
		err  error
	)
	switch o.Backend {
	case "s3":
		b, desc, err = openS3(ctx, o)
	case "gcs":
		b, desc, err = openGCS(ctx, o)
	case "azure":
		b, desc, err = openAzure(ctx, o)
	case "file":
		b, desc, err = openFile(o)
	}
	if err != nil {
		return nil, err
	}
	desc += "/" + o.Prefix
	desc = strings.TrimSuffix(desc, "/")
	if o.Backend == "s3" && o.Endpoint != "" {
		desc += " (endpoint " + redactURL(o.Endpoint) + ")"
	}
	if ok, err := b.IsAccessible(ctx); err != nil || !ok {
		if err == nil {
			err = ErrNotFound
		}
		if !o.WarnInaccessible {
			b.Close()
			return nil, fmt.Errorf("tier: open %s: bucket not accessible: %w", desc, err)
		}
		logger.Warn("tiered storage: bucket not accessible; uploads and remote reads retry until it is", "store", desc, "err", err)
	}
	if err := os.MkdirAll(o.CacheDir, 0o755); err != nil {
		b.Close()
		return nil, fmt.Errorf("tier: cache directory: %w", err)
	}
	removed, err := cleanCacheDir(o.CacheDir)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("tier: cache directory: %w", err)
	}
	s := &Store{
		opts:      o,
		bucket:    b,
		logger:    logger,
		desc:      desc,
		uploading: map[string]int{},
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.cache.init()
	logger.Info("tiered storage opened", "store", desc, "cache_dir", o.CacheDir, "cache_bytes", o.CacheBytes, "stale_cache_files_removed", removed)
	return s, nil
}

func openS3(ctx context.Context, o Options) (*blob.Bucket, string, error) {
	region := o.Region
	if region == "" && o.Endpoint != "" {
		region = "us-east-1"
	}
	var lo []func(*awsconfig.LoadOptions) error
	if region != "" {
		lo = append(lo, awsconfig.WithRegion(region))
	}
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, "", fmt.Errorf("tier: S3 endpoint %q: want an http:// or https:// URL", redactURL(o.Endpoint))
		}
		// Third-party stores may not know the SDK's newer default
		// checksums; ours are SHA-256 in the manifest anyway. The
		// environment (AWS_REQUEST_CHECKSUM_CALCULATION) still wins.
		if os.Getenv("AWS_REQUEST_CHECKSUM_CALCULATION") == "" {
			lo = append(lo, awsconfig.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired))
		}
		if os.Getenv("AWS_RESPONSE_CHECKSUM_VALIDATION") == "" {
			lo = append(lo, awsconfig.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired))
		}
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return nil, "", fmt.Errorf("tier: AWS configuration: %w", err)
	}
	client := s3.NewFromConfig(cfg, func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
			so.UsePathStyle = true
		}
	})
	b, err := s3blob.OpenBucket(ctx, client, o.Bucket, &s3blob.Options{RequestChecksumCalculation: cfg.RequestChecksumCalculation})
	if err != nil {
		return nil, "", fmt.Errorf("tier: open s3 bucket %s: %w", o.Bucket, err)
	}
	return b, "s3://" + o.Bucket, nil
}

func openGCS(ctx context.Context, o Options) (*blob.Bucket, string, error) {
	var client *gcp.HTTPClient
	if os.Getenv("STORAGE_EMULATOR_HOST") != "" {
		// gcsblob sends everything to the emulator, unauthenticated.
		client = gcp.NewAnonymousHTTPClient(gcp.DefaultTransport())
	} else {
		creds, err := gcp.DefaultCredentials(ctx)
		if err != nil {
			return nil, "", fmt.Errorf("tier: Google default credentials: %w", err)
		}
		client, err = gcp.NewHTTPClient(gcp.DefaultTransport(), gcp.CredentialsTokenSource(creds))
		if err != nil {
			return nil, "", fmt.Errorf("tier: GCS client: %w", err)
		}
	}
	b, err := gcsblob.OpenBucket(ctx, client, o.Bucket, nil)
	if err != nil {
		return nil, "", fmt.Errorf("tier: open gcs bucket %s: %w", o.Bucket, err)
	}
	return b, "gs://" + o.Bucket, nil
}

func openAzure(ctx context.Context, o Options) (*blob.Bucket, string, error) {
	svc := azureblob.ServiceURL(o.Endpoint)
	if svc == "" {
		var err error
		if svc, err = azureblob.NewServiceURL(azureblob.NewDefaultServiceURLOptions()); err != nil {
			return nil, "", fmt.Errorf("tier: Azure service URL: %w", err)
		}
	}
	client, err := azureblob.NewDefaultClient(svc, azureblob.ContainerName(o.Bucket))
	if err != nil {
		return nil, "", fmt.Errorf("tier: Azure client for container %s: %w", o.Bucket, err)
	}
	b, err := azureblob.OpenBucket(ctx, client, nil)
	if err != nil {
		return nil, "", fmt.Errorf("tier: open azure container %s: %w", o.Bucket, err)
	}
	return b, "azblob://" + o.Bucket, nil
}

func openFile(o Options) (*blob.Bucket, string, error) {
	b, err := fileblob.OpenBucket(o.Bucket, &fileblob.Options{
		CreateDir: true,
		// Temporary files next to the final ones: the directory may be on
		// another file system than os.TempDir, and renames must stay on one.
		NoTempDir: true,
		Metadata:  fileblob.MetadataDontWrite,
	})
	if err != nil {
		return nil, "", fmt.Errorf("tier: open directory %s: %w", o.Bucket, err)
	}
	return b, "file://" + o.Bucket, nil
}

// redactURL drops any user information and query from u.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	p.User = nil
	p.RawQuery = ""
	p.Fragment = ""
	return p.String()
}

// Close stops background prefetches and closes the bucket. Cached files stay
// on disk (handles still held remain usable) until the next Open removes
// them.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return s.bucket.Close()
}

// String describes the store for logs, e.g. "s3://bucket/prefix", with no
// credentials.
func (s *Store) String() string { return s.desc }

// Options returns the options in force (with defaults filled in).
func (s *Store) Options() Options { return s.opts }

// PartitionRef names a partition that has a manifest in the bucket.
type PartitionRef struct {
	TopicID   [16]byte
	Partition int32
}

func (s *Store) partPrefix(topicID [16]byte, partition int32) string {
	return s.opts.Prefix + "topics/" + hex.EncodeToString(topicID[:]) + "/" + strconv.Itoa(int(partition)) + "/"
}

func (s *Store) manifestKey(topicID [16]byte, partition int32) string {
	return s.partPrefix(topicID, partition) + "manifest.json"
}

func (s *Store) segmentsPrefix(topicID [16]byte, partition int32) string {
	return s.partPrefix(topicID, partition) + "segments/"
}

// ParseTopicID decodes the hex form of a topic id used in manifests.
func ParseTopicID(h string) ([16]byte, error) {
	var id [16]byte
	if len(h) != 32 {
		return id, fmt.Errorf("tier: topic id %q: want 32 hex digits", h)
	}
	if _, err := hex.Decode(id[:], []byte(h)); err != nil {
		return id, fmt.Errorf("tier: topic id %q: %w", h, err)
	}
	return id, nil
}

// TopicIDHex is the hex form of a topic id used in manifests and keys.
func TopicIDHex(id [16]byte) string { return hex.EncodeToString(id[:]) }

// isNotFound tells whether err from the bucket means a missing object.
func isNotFound(err error) bool { return gcerrors.Code(err) == gcerrors.NotFound }

// opError wraps a bucket error with the operation and key; a missing object
// also matches ErrNotFound.
func opError(op, key string, err error) error {
	if err == nil {
		return nil
	}
	if isNotFound(err) {
		return fmt.Errorf("tier: %s %s: %w: %w", op, key, ErrNotFound, err)
	}
	return fmt.Errorf("tier: %s %s: %w", op, key, err)
}

func checkPartition(p int32) error {
	if p < 0 {
		return fmt.Errorf("tier: bad partition %d", p)
	}
	return nil
}
