// Package metrics is Chronik's Prometheus instrumentation: one registry per
// broker (never the global default), one naming scheme (chronik_ prefix,
// units in names, _total counters, durations in seconds), and bounded label
// cardinality: API names and Kafka error names for requests, topic names for
// data, and partition numbers only when Options.PerPartition asks for them.
//
// The wire packages feed it through small interfaces they define themselves
// (server.Observer, kafka.Metrics), which *Metrics satisfies; they do not
// import Prometheus. State that lives in the domain packages (log sizes,
// consumer group lag, search indexing lag) is read at scrape time through
// plain callbacks the broker sets.
//
// Every recording method is safe on a nil *Metrics, so code holding a
// *Metrics that may be nil needs no checks of its own.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const namespace = "chronik"

// Options configure a Metrics.
type Options struct {
	// PerPartition adds a partition label to the topic byte and record
	// counters and the log size, and exports per-partition log offsets
	// and consumer group lag. Off by default: with thousands of
	// partitions it multiplies the series a scrape returns.
	PerPartition bool

	// Scrape-time sources; nil exports nothing for them. They can also be
	// set later with the Set methods.
	LogStats  LogStatsFunc
	GroupLag  GroupLagFunc
	SearchLag SearchLagFunc
}

// Buckets of the request duration histogram, in seconds: from 100µs (an
// ApiVersions or an in-memory fetch) to 30s (a long poll or a slow fsync).
var requestBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// Buckets of the fsync wait histogram, in seconds.
var fsyncBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// maxAPIKey and maxAPIVersion bound the arrays of cached per-API children;
// requests beyond them (none today) take the slower labelled lookup.
const (
	maxAPIKey     = 127
	maxAPIVersion = 31
)

// Metrics holds a broker's metrics and the registry that exports them.
type Metrics struct {
	reg          *prometheus.Registry
	handler      http.Handler
	perPartition bool

	requests        *prometheus.CounterVec   // api, version
	requestErrors   *prometheus.CounterVec   // api, error
	requestDuration *prometheus.HistogramVec // api
	requestBytes    *prometheus.CounterVec   // api
	responseBytes   *prometheus.CounterVec   // api
	connsActive     prometheus.Gauge
	connsTotal      prometheus.Counter

	bytesIn, recordsIn, bytesOut, recordsOut *prometheus.CounterVec // topic[, partition]
	produceFsyncWait                         prometheus.Histogram
	fetchWait                                prometheus.Histogram

	// Children cached so that recording a request or a produce costs a
	// few atomic operations, never a label lookup.
	apis     [maxAPIKey + 1]atomic.Pointer[apiChildren]
	versions [maxAPIKey + 1][maxAPIVersion + 1]atomic.Pointer[prometheus.Counter]
	errs     sync.Map // errKey -> prometheus.Counter
	topics   topicCache

	logStats  atomic.Pointer[LogStatsFunc]
	groupLag  atomic.Pointer[GroupLagFunc]
	searchLag atomic.Pointer[SearchLagFunc]
}

type apiChildren struct {
	duration      prometheus.Observer
	requestBytes  prometheus.Counter
	responseBytes prometheus.Counter
}

type errKey struct{ key, code int16 }

// New returns Metrics with their own registry, the Go runtime and process
// collectors included.
func New(opts Options) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), perPartition: opts.PerPartition}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "kafka", Name: "requests_total",
		Help: "Kafka requests handled, by API and API version.",
	}, []string{"api", "version"})
	m.requestErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "kafka", Name: "request_errors_total",
		Help: "Error codes in Kafka responses, by API and Kafka error name: a response counts once per top-level, topic or partition error it carries.",
	}, []string{"api", "error"})
	m.requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "kafka", Name: "request_duration_seconds",
		Help:    "Time from a Kafka request having been read to its response having been written (including a produce's wait for durability and a fetch's long poll).",
		Buckets: requestBuckets,
	}, []string{"api"})
	m.requestBytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "kafka", Name: "request_bytes_total",
		Help: "Bytes of Kafka requests read, size prefix included, by API.",
	}, []string{"api"})
	m.responseBytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "kafka", Name: "response_bytes_total",
		Help: "Bytes of Kafka responses written, size prefix included, by API.",
	}, []string{"api"})
	m.connsActive = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Subsystem: "kafka", Name: "connections_active",
		Help: "Open Kafka client connections.",
	})
	m.connsTotal = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "kafka", Name: "connections_total",
		Help: "Kafka client connections accepted.",
	})

	dataLabels := []string{"topic"}
	if m.perPartition {
		dataLabels = []string{"topic", "partition"}
	}
	m.bytesIn = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "topic", Name: "bytes_in_total",
		Help: "Record batch bytes appended by produce requests, as the clients sent them.",
	}, dataLabels)
	m.recordsIn = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "topic", Name: "records_in_total",
		Help: "Records appended by produce requests.",
	}, dataLabels)
	m.bytesOut = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "topic", Name: "bytes_out_total",
		Help: "Record batch bytes sent in fetch responses.",
	}, dataLabels)
	m.recordsOut = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "topic", Name: "records_out_total",
		Help: "Records sent in fetch responses, counted from the batch headers (whole batches, control batches excluded; a legacy message set counts its outer messages).",
	}, dataLabels)
	m.produceFsyncWait = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "produce", Name: "fsync_wait_seconds",
		Help:    "Time a produce response waited for its appends to become durable under the fsync policy (acks=1 and acks=all requests).",
		Buckets: fsyncBuckets,
	})
	m.fetchWait = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "fetch", Name: "wait_seconds",
		Help:    "Time a fetch request spent in its long poll waiting for data (0 when answered at once).",
		Buckets: requestBuckets,
	})

	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.requestErrors, m.requestDuration, m.requestBytes, m.responseBytes,
		m.connsActive, m.connsTotal,
		m.bytesIn, m.recordsIn, m.bytesOut, m.recordsOut,
		m.produceFsyncWait, m.fetchWait,
		newStateCollector(m),
	)
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, ErrorHandling: promhttp.ContinueOnError})

	m.SetLogStats(opts.LogStats)
	m.SetGroupLag(opts.GroupLag)
	m.SetSearchLag(opts.SearchLag)
	return m
}

// Handler serves the registry in the Prometheus exposition formats (mount
// it at /metrics).
func (m *Metrics) Handler() http.Handler { return m.handler }

// Registry is the registry the metrics are exported from, for registering
// further collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// PerPartition reports whether per-partition series are exported.
func (m *Metrics) PerPartition() bool { return m != nil && m.perPartition }

// ConnectionOpened records an accepted Kafka connection (server.Observer).
func (m *Metrics) ConnectionOpened() {
	if m == nil {
		return
	}
	m.connsTotal.Inc()
	m.connsActive.Inc()
}

// ConnectionClosed records a closed Kafka connection (server.Observer).
func (m *Metrics) ConnectionClosed() {
	if m == nil {
		return
	}
	m.connsActive.Dec()
}

// RequestDone records one Kafka request (server.Observer): its API key and
// version, the bytes read and written, the time from the request read to
// the response written, and the response, whose error codes are counted
// (nil when no response was sent).
func (m *Metrics) RequestDone(key, version int16, requestBytes, responseBytes int, elapsed time.Duration, resp kmsg.Response) {
	if m == nil {
		return
	}
	a := m.api(key)
	m.requestCounter(key, version).Inc()
	a.duration.Observe(elapsed.Seconds())
	a.requestBytes.Add(float64(requestBytes))
	if responseBytes > 0 {
		a.responseBytes.Add(float64(responseBytes))
	}
	if resp != nil {
		countErrors(m, key, resp)
	}
}

// api returns the cached children of an API key's series.
func (m *Metrics) api(key int16) *apiChildren {
	if key >= 0 && key <= maxAPIKey {
		if a := m.apis[key].Load(); a != nil {
			return a
		}
	}
	name := apiName(key)
	a := &apiChildren{
		duration:      m.requestDuration.WithLabelValues(name),
		requestBytes:  m.requestBytes.WithLabelValues(name),
		responseBytes: m.responseBytes.WithLabelValues(name),
	}
	if key >= 0 && key <= maxAPIKey {
		m.apis[key].Store(a) // racing stores hold the same children
	}
	return a
}

func (m *Metrics) requestCounter(key, version int16) prometheus.Counter {
	cacheable := key >= 0 && key <= maxAPIKey && version >= 0 && version <= maxAPIVersion
	if cacheable {
		if c := m.versions[key][version].Load(); c != nil {
			return *c
		}
	}
	v := "other" // bounds the series a client sending odd versions can create
	if cacheable {
		v = strconv.Itoa(int(version))
	}
	c := m.requests.WithLabelValues(apiName(key), v)
	if cacheable {
		m.versions[key][version].Store(&c)
	}
	return c
}

// countError adds one occurrence of a non-zero error code in a response.
func (m *Metrics) countError(key, code int16) {
	k := errKey{key, code}
	if c, ok := m.errs.Load(k); ok {
		c.(prometheus.Counter).Inc()
		return
	}
	c := m.requestErrors.WithLabelValues(apiName(key), errorName(code))
	m.errs.Store(k, c)
	c.Inc()
}

// ProduceDurableWait records how long a produce response waited for its
// appends to become durable (kafka.Metrics).
func (m *Metrics) ProduceDurableWait(d time.Duration) {
	if m == nil {
		return
	}
	m.produceFsyncWait.Observe(d.Seconds())
}

// FetchWait records how long a fetch waited in its long poll (kafka.Metrics).
func (m *Metrics) FetchWait(d time.Duration) {
	if m == nil {
		return
	}
	m.fetchWait.Observe(d.Seconds())
}

func apiName(key int16) string { return kmsg.NameForKey(key) }
