package metrics

import (
	"io"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// scrape GETs the handler and returns the exposition text.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape: status %d: %s", rec.Code, rec.Body.String())
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func expect(t *testing.T, body string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !slices.Contains(strings.Split(body, "\n"), l) {
			t.Errorf("missing %q in the scrape", l)
		}
	}
}

func expectNone(t *testing.T, body string, prefixes ...string) {
	t.Helper()
	for _, l := range strings.Split(body, "\n") {
		for _, p := range prefixes {
			if strings.HasPrefix(l, p) {
				t.Errorf("unexpected series %q", l)
			}
		}
	}
}

func produceResponse(codes ...int16) *kmsg.ProduceResponse {
	r := kmsg.NewPtrProduceResponse()
	t := kmsg.NewProduceResponseTopic()
	t.Topic = "orders"
	for i, c := range codes {
		p := kmsg.NewProduceResponseTopicPartition()
		p.Partition, p.ErrorCode = int32(i), c
		t.Partitions = append(t.Partitions, p)
	}
	r.Topics = append(r.Topics, t)
	return r
}

func TestRequestMetrics(t *testing.T) {
	m := New(Options{})
	m.ConnectionOpened()
	m.ConnectionOpened()
	m.ConnectionClosed()
	m.RequestDone(int16(kmsg.Produce), 9, 1000, 60, 3*time.Millisecond, produceResponse(0, kerr.NotLeaderForPartition.Code, kerr.NotLeaderForPartition.Code))
	m.RequestDone(int16(kmsg.Produce), 9, 500, 0, 200*time.Microsecond, nil) // acks=0
	m.RequestDone(int16(kmsg.Produce), 3, 100, 50, 50*time.Microsecond, produceResponse(0))

	fetch := kmsg.NewPtrFetchResponse()
	fetch.ErrorCode = kerr.FetchSessionIDNotFound.Code
	m.RequestDone(int16(kmsg.Fetch), 12, 80, 40, 2*time.Second, fetch)

	// A response walked by reflection: per-partition codes of OffsetCommit.
	oc := kmsg.NewPtrOffsetCommitResponse()
	oct := kmsg.NewOffsetCommitResponseTopic()
	for _, c := range []int16{kerr.UnknownMemberID.Code, 0, kerr.UnknownMemberID.Code} {
		p := kmsg.NewOffsetCommitResponseTopicPartition()
		p.ErrorCode = c
		oct.Partitions = append(oct.Partitions, p)
	}
	oc.Topics = append(oc.Topics, oct)
	m.RequestDone(int16(kmsg.OffsetCommit), 8, 10, 10, time.Millisecond, oc)

	// An odd version stays in bounded series.
	m.RequestDone(int16(kmsg.ApiVersions), 999, 10, 10, time.Millisecond, nil)

	body := scrape(t, m)
	expect(t, body,
		`chronik_kafka_connections_total 2`,
		`chronik_kafka_connections_active 1`,
		`chronik_kafka_requests_total{api="Produce",version="9"} 2`,
		`chronik_kafka_requests_total{api="Produce",version="3"} 1`,
		`chronik_kafka_requests_total{api="Fetch",version="12"} 1`,
		`chronik_kafka_requests_total{api="ApiVersions",version="other"} 1`,
		`chronik_kafka_request_errors_total{api="Produce",error="NOT_LEADER_FOR_PARTITION"} 2`,
		`chronik_kafka_request_errors_total{api="Fetch",error="FETCH_SESSION_ID_NOT_FOUND"} 1`,
		`chronik_kafka_request_errors_total{api="OffsetCommit",error="UNKNOWN_MEMBER_ID"} 2`,
		`chronik_kafka_request_duration_seconds_count{api="Produce"} 3`,
		`chronik_kafka_request_duration_seconds_bucket{api="Produce",le="0.0001"} 1`,
		`chronik_kafka_request_duration_seconds_bucket{api="Produce",le="0.00025"} 2`,
		`chronik_kafka_request_duration_seconds_bucket{api="Produce",le="0.005"} 3`,
		`chronik_kafka_request_duration_seconds_bucket{api="Fetch",le="1"} 0`,
		`chronik_kafka_request_duration_seconds_bucket{api="Fetch",le="2.5"} 1`,
		`chronik_kafka_request_bytes_total{api="Produce"} 1600`,
		`chronik_kafka_response_bytes_total{api="Produce"} 110`,
		`# TYPE chronik_kafka_request_duration_seconds histogram`,
		`# TYPE chronik_kafka_requests_total counter`,
	)
	// The runtime and process collectors are registered.
	expect(t, body, `# TYPE go_goroutines gauge`)
	if runtime.GOOS == "linux" {
		expect(t, body, `# TYPE process_cpu_seconds_total counter`)
	}
	if strings.Contains(body, "NONE") {
		t.Error("error code 0 counted as an error")
	}
}

func TestTopicMetrics(t *testing.T) {
	for _, perPartition := range []bool{false, true} {
		m := New(Options{PerPartition: perPartition})
		m.Produced("orders", 0, 1000, 10)
		m.Produced("orders", 1, 500, 5)
		m.Produced("orders", 1, 500, 5)
		m.Produced("audit", 3, 7, 1)
		m.Fetched("orders", 1, 2000, 20)
		m.ProduceDurableWait(2 * time.Millisecond)
		m.FetchWait(0)
		m.FetchWait(300 * time.Millisecond)
		body := scrape(t, m)
		expect(t, body,
			`chronik_produce_fsync_wait_seconds_count 1`,
			`chronik_produce_fsync_wait_seconds_bucket{le="0.001"} 0`,
			`chronik_produce_fsync_wait_seconds_bucket{le="0.0025"} 1`,
			`chronik_fetch_wait_seconds_count 2`,
			`chronik_fetch_wait_seconds_bucket{le="0.0001"} 1`,
			`chronik_fetch_wait_seconds_bucket{le="0.5"} 2`,
		)
		if !perPartition {
			expect(t, body,
				`chronik_topic_bytes_in_total{topic="orders"} 2000`,
				`chronik_topic_records_in_total{topic="orders"} 20`,
				`chronik_topic_bytes_in_total{topic="audit"} 7`,
				`chronik_topic_bytes_out_total{topic="orders"} 2000`,
				`chronik_topic_records_out_total{topic="orders"} 20`,
			)
			if strings.Contains(body, `partition="`) {
				t.Error("partition label exported with PerPartition off")
			}
			continue
		}
		expect(t, body,
			`chronik_topic_bytes_in_total{partition="0",topic="orders"} 1000`,
			`chronik_topic_bytes_in_total{partition="1",topic="orders"} 1000`,
			`chronik_topic_records_in_total{partition="1",topic="orders"} 10`,
			`chronik_topic_records_in_total{partition="3",topic="audit"} 1`,
			`chronik_topic_bytes_out_total{partition="1",topic="orders"} 2000`,
			`chronik_topic_records_out_total{partition="1",topic="orders"} 20`,
		)
	}
}

func TestTopicDeletedDropsSeries(t *testing.T) {
	for _, perPartition := range []bool{false, true} {
		m := New(Options{PerPartition: perPartition})
		m.Produced("gone", 0, 10, 1)
		m.Produced("kept", 0, 10, 1)
		m.TopicDeleted("gone")
		body := scrape(t, m)
		if strings.Contains(body, `topic="gone"`) {
			t.Errorf("perPartition=%v: deleted topic still exported", perPartition)
		}
		// Recreated under the same name: counts start again.
		m.Produced("gone", 0, 3, 1)
		body = scrape(t, m)
		if perPartition {
			expect(t, body, `chronik_topic_bytes_in_total{partition="0",topic="gone"} 3`, `chronik_topic_bytes_in_total{partition="0",topic="kept"} 10`)
		} else {
			expect(t, body, `chronik_topic_bytes_in_total{topic="gone"} 3`, `chronik_topic_bytes_in_total{topic="kept"} 10`)
		}
	}
}

func TestStateCollectors(t *testing.T) {
	logs := func() []PartitionLog {
		return []PartitionLog{
			{Topic: "orders", Partition: 0, SizeBytes: 100, LogStartOffset: 5, LogEndOffset: 50},
			{Topic: "orders", Partition: 1, SizeBytes: 200, LogStartOffset: 0, LogEndOffset: 70},
			{Topic: "audit", Partition: 0, SizeBytes: 1, LogStartOffset: 0, LogEndOffset: 1},
		}
	}
	lags := func() []GroupLag {
		return []GroupLag{
			{Group: "billing", Topic: "orders", Partition: 0, Lag: 3},
			{Group: "billing", Topic: "orders", Partition: 1, Lag: 4},
			{Group: "audit-reader", Topic: "audit", Partition: 0, Lag: 0},
		}
	}
	search := func() []SearchLag { return []SearchLag{{Topic: "orders", Records: 12, Seconds: 1.5}} }

	// Nil callbacks export nothing.
	m := New(Options{})
	body := scrape(t, m)
	expectNone(t, body, "chronik_log_", "chronik_consumer_group_lag", "chronik_search_")

	m = New(Options{LogStats: logs, GroupLag: lags, SearchLag: search})
	body = scrape(t, m)
	expect(t, body,
		`chronik_log_size_bytes{topic="orders"} 300`,
		`chronik_log_size_bytes{topic="audit"} 1`,
		`chronik_consumer_group_lag{group="billing",topic="orders"} 7`,
		`chronik_consumer_group_lag{group="audit-reader",topic="audit"} 0`,
		`chronik_search_index_lag_records{topic="orders"} 12`,
		`chronik_search_index_lag_seconds{topic="orders"} 1.5`,
		`# TYPE chronik_log_size_bytes gauge`,
	)
	expectNone(t, body, "chronik_log_start_offset", "chronik_log_end_offset")

	// Callbacks set (and cleared) later.
	m.SetSearchLag(nil)
	expectNone(t, scrape(t, m), "chronik_search_")

	m = New(Options{PerPartition: true})
	m.SetLogStats(logs)
	m.SetGroupLag(lags)
	body = scrape(t, m)
	expect(t, body,
		`chronik_log_size_bytes{partition="0",topic="orders"} 100`,
		`chronik_log_size_bytes{partition="1",topic="orders"} 200`,
		`chronik_log_start_offset{partition="0",topic="orders"} 5`,
		`chronik_log_end_offset{partition="1",topic="orders"} 70`,
		`chronik_consumer_group_lag{group="billing",partition="0",topic="orders"} 3`,
		`chronik_consumer_group_lag{group="billing",partition="1",topic="orders"} 4`,
	)
}

// A callback that panics or returns duplicates costs its series, never
// the scrape or the process.
func TestStateCollectorsSurviveBadCallbacks(t *testing.T) {
	m := New(Options{PerPartition: true})
	m.SetLogStats(func() []PartitionLog { panic("bug") })
	m.SetSearchLag(func() []SearchLag { return []SearchLag{{Topic: "a", Records: 1}, {Topic: "a", Records: 2}} })
	m.SetGroupLag(func() []GroupLag {
		return []GroupLag{{Group: "g", Topic: "t", Partition: 0, Lag: 1}, {Group: "g", Topic: "t", Partition: 0, Lag: 2}}
	})
	body := scrape(t, m)
	expect(t, body, `chronik_search_index_lag_records{topic="a"} 1`, `chronik_consumer_group_lag{group="g",partition="0",topic="t"} 3`)
	expectNone(t, body, "chronik_log_size_bytes{")
}

func TestNilMetricsRecordNothing(t *testing.T) {
	var m *Metrics
	m.ConnectionOpened()
	m.ConnectionClosed()
	m.RequestDone(0, 9, 1, 1, time.Millisecond, produceResponse(1))
	m.Produced("t", 0, 1, 1)
	m.Fetched("t", 0, 1, 1)
	m.ProduceDurableWait(time.Millisecond)
	m.FetchWait(time.Millisecond)
	m.TopicDeleted("t")
	if m.PerPartition() {
		t.Error("nil metrics report per-partition series")
	}
}

// The hand-written error walks of the hot responses agree with the
// reflective one.
func TestErrorWalks(t *testing.T) {
	fetch := kmsg.NewPtrFetchResponse()
	fetch.ErrorCode = 1
	ft := kmsg.NewFetchResponseTopic()
	for _, c := range []int16{0, 3, 6} {
		p := kmsg.NewFetchResponseTopicPartition()
		p.ErrorCode = c
		ft.Partitions = append(ft.Partitions, p)
	}
	fetch.Topics = append(fetch.Topics, ft)
	for _, resp := range []kmsg.Response{produceResponse(0, 6, 0, 3), fetch} {
		var byHand, byReflection []int16
		m := New(Options{})
		countErrors(m, resp.Key(), resp)
		m.errs.Range(func(k, v any) bool { byHand = append(byHand, k.(errKey).code); return true })
		forEachErrorCode(resp, func(c int16) {
			if !slices.Contains(byReflection, c) {
				byReflection = append(byReflection, c)
			}
		})
		slices.Sort(byHand)
		slices.Sort(byReflection)
		if !slices.Equal(byHand, byReflection) || len(byHand) == 0 {
			t.Errorf("%T: by hand %v, by reflection %v", resp, byHand, byReflection)
		}
	}
	// Nested pointers and slices of pointers, top-level codes.
	var got []int16
	jg := kmsg.NewPtrJoinGroupResponse()
	jg.ErrorCode = kerr.RebalanceInProgress.Code
	forEachErrorCode(jg, func(c int16) { got = append(got, c) })
	if !slices.Equal(got, []int16{kerr.RebalanceInProgress.Code}) {
		t.Errorf("JoinGroup codes %v", got)
	}
	if errorName(kerr.UnknownTopicOrPartition.Code) != "UNKNOWN_TOPIC_OR_PARTITION" || errorName(-1) != "UNKNOWN_SERVER_ERROR" || errorName(30000) != "UNKNOWN_ERROR_CODE_30000" {
		t.Errorf("error names: %q %q %q", errorName(kerr.UnknownTopicOrPartition.Code), errorName(-1), errorName(30000))
	}
}

// Recording on the hot paths allocates nothing once a series exists.
func TestHotPathsDoNotAllocate(t *testing.T) {
	for _, perPartition := range []bool{false, true} {
		m := New(Options{PerPartition: perPartition})
		resp := produceResponse(0, 0)
		m.Produced("orders", 7, 1, 1)
		m.RequestDone(0, 9, 100, 50, time.Millisecond, resp)
		if n := testing.AllocsPerRun(1000, func() {
			m.Produced("orders", 7, 1000, 10)
			m.Fetched("orders", 7, 1000, 10)
			m.RequestDone(0, 9, 100, 50, time.Millisecond, resp)
			m.ProduceDurableWait(time.Millisecond)
		}); n != 0 {
			t.Errorf("perPartition=%v: %v allocations per produce", perPartition, n)
		}
	}
}

func TestConcurrentRecording(t *testing.T) {
	m := New(Options{PerPartition: true})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				m.Produced("t", int32(i%16), 1, 1)
				m.RequestDone(int16(i%3), int16(g), 1, 1, time.Microsecond, nil)
				if i%100 == 0 {
					m.TopicDeleted("other")
					_ = scrape(t, m)
				}
			}
		}()
	}
	wg.Wait()
	body := scrape(t, m)
	// 4 goroutines × 1000 records over 16 partitions: 63 or 62 each.
	expect(t, body, `chronik_topic_records_in_total{partition="0",topic="t"} 252`, `chronik_topic_records_in_total{partition="15",topic="t"} 248`)
}

func BenchmarkProduced(b *testing.B) {
	for _, perPartition := range []bool{false, true} {
		name := "per-topic"
		if perPartition {
			name = "per-partition"
		}
		b.Run(name, func(b *testing.B) {
			m := New(Options{PerPartition: perPartition})
			for i := range 100 {
				m.Produced("topic-"+string(rune('a'+i%26))+string(rune('a'+i/26)), 0, 1, 1)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					m.Produced("topic-ab", 3, 1000, 10)
				}
			})
		})
	}
}

func BenchmarkRequestDone(b *testing.B) {
	m := New(Options{})
	resp := produceResponse(0, 0, 0)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.RequestDone(0, 9, 1000, 60, time.Millisecond, resp)
		}
	})
}

// The exported names follow Prometheus conventions (promlint).
func TestNamesPassPromlint(t *testing.T) {
	for _, perPartition := range []bool{false, true} {
		m := New(Options{
			PerPartition: perPartition,
			LogStats:     func() []PartitionLog { return []PartitionLog{{Topic: "t", SizeBytes: 1}} },
			GroupLag:     func() []GroupLag { return []GroupLag{{Group: "g", Topic: "t", Lag: 1}} },
			SearchLag:    func() []SearchLag { return []SearchLag{{Topic: "t", Records: 1}} },
		})
		m.RequestDone(0, 9, 1, 1, time.Millisecond, produceResponse(1))
		m.Produced("t", 0, 1, 1)
		m.Fetched("t", 0, 1, 1)
		m.ConnectionOpened()
		families, err := m.Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		var ours []*dto.MetricFamily
		for _, f := range families {
			if strings.HasPrefix(f.GetName(), "chronik_") {
				ours = append(ours, f)
			}
		}
		if len(ours) < 17 {
			t.Errorf("only %d chronik_ families gathered", len(ours))
		}
		problems, err := promlint.NewWithMetricFamilies(ours).Lint()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("promlint: %s: %s", p.Metric, p.Text)
		}
	}
}
