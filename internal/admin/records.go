package admin

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-streaming/chronik/internal/search"
)

const (
	defaultRecordLimit = 50
	maxRecordLimit     = 1000
	// readWait bounds how long a read waits for records the end offsets
	// promise; a read never waits for new records.
	readWait = 5 * time.Second
)

// apiRecord is a record as the REST API shows it, in the search hits'
// format: keys, values and header values are {"data", "encoding"} with the
// text when it is UTF-8, else base64; a null key or value is JSON null.
type apiRecord struct {
	Partition   int32              `json:"partition"`
	Offset      int64              `json:"offset"`
	Timestamp   string             `json:"timestamp"`
	TimestampMs int64              `json:"timestamp_ms"`
	Key         *search.Bytes      `json:"key"`
	Value       *search.Bytes      `json:"value"`
	Headers     []search.HitHeader `json:"headers"`
	SizeBytes   int                `json:"size_bytes"`
}

func toAPIRecord(r *kgo.Record) apiRecord {
	out := apiRecord{Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp.UTC().Format(time.RFC3339Nano),
		TimestampMs: r.Timestamp.UnixMilli(), Key: search.BytesOf(r.Key), Value: search.BytesOf(r.Value),
		Headers: []search.HitHeader{}, SizeBytes: len(r.Key) + len(r.Value)}
	for _, h := range r.Headers {
		out.Headers = append(out.Headers, search.HitHeader{Key: h.Key, Value: search.BytesOf(h.Value)})
		out.SizeBytes += len(h.Key) + len(h.Value)
	}
	return out
}

// readRecords reads up to limit records from a topic: from one partition or
// all, starting at an offset (-N: N before the end) or at a time. It returns
// what the log holds now and never waits for new records.
func (a *restAPI) readRecords(r *http.Request, adm *kadm.Client) (int, any, error) {
	if err := queryParams(r, "partition", "offset", "timestamp", "limit", "isolation"); err != nil {
		return 0, nil, err
	}
	q := r.URL.Query()
	name := r.PathValue("topic")
	ctx := r.Context()
	details, err := a.topic(ctx, adm, name)
	if err != nil {
		return 0, nil, err
	}
	var parts []int32
	for _, s := range splitList(q["partition"]) {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil || n < 0 {
			return 0, nil, badRequest("partition", "%q is not a partition number", s)
		}
		if _, ok := details[name].Partitions[int32(n)]; !ok {
			return 0, nil, notFound("topic %s has no partition %d", name, n)
		}
		parts = append(parts, int32(n))
	}
	if len(parts) == 0 {
		for p := range details[name].Partitions {
			parts = append(parts, p)
		}
	}
	slices.Sort(parts)
	limit := defaultRecordLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxRecordLimit {
			return 0, nil, badRequest("limit", "must be an integer from 1 to %d, got %q", maxRecordLimit, s)
		}
		limit = n
	}
	committed := true
	switch q.Get("isolation") {
	case "", "read_committed":
	case "read_uncommitted":
		committed = false
	default:
		return 0, nil, badRequest("isolation", "must be read_committed or read_uncommitted, got %q", q.Get("isolation"))
	}
	if q.Has("offset") && q.Has("timestamp") {
		return 0, nil, badRequest("timestamp", "give offset or timestamp, not both")
	}

	starts, err := adm.ListStartOffsets(ctx, name)
	if err != nil {
		return 0, nil, err
	}
	var ends kadm.ListedOffsets
	if committed {
		ends, err = adm.ListCommittedOffsets(ctx, name) // the last stable offsets
	} else {
		ends, err = adm.ListEndOffsets(ctx, name) // the high watermarks
	}
	if err != nil {
		return 0, nil, err
	}
	from := map[int32]int64{}
	switch {
	case q.Get("timestamp") != "":
		ts, err := parseTime(q.Get("timestamp"), "timestamp")
		if err != nil {
			return 0, nil, err
		}
		at, err := adm.ListOffsetsAfterMilli(ctx, ts.UnixMilli(), name)
		if err != nil {
			return 0, nil, err
		}
		for _, p := range parts {
			o, _ := at.Lookup(name, p)
			from[p] = o.Offset
			if o.Offset < 0 { // nothing at or after the time
				e, _ := ends.Lookup(name, p)
				from[p] = e.Offset
			}
		}
	default:
		s := q.Get("offset")
		var off int64
		switch s {
		case "", "earliest":
			off = 0
		case "latest":
			off = -int64(limit)
		default:
			off, err = strconv.ParseInt(s, 10, 64)
			if err != nil {
				return 0, nil, badRequest("offset", "%q is not an offset (a number, -N for N before the end, earliest or latest)", s)
			}
		}
		for _, p := range parts {
			st, _ := starts.Lookup(name, p)
			e, _ := ends.Lookup(name, p)
			if off < 0 {
				from[p] = max(e.Offset+off, st.Offset)
			} else {
				from[p] = min(max(off, st.Offset), e.Offset)
			}
		}
	}

	recs, err := a.consume(ctx, name, parts, from, ends, limit, committed)
	if err != nil {
		return 0, nil, err
	}
	slices.SortFunc(recs, func(x, y *kgo.Record) int {
		if c := x.Timestamp.Compare(y.Timestamp); c != 0 {
			return c
		}
		if x.Partition != y.Partition {
			return int(x.Partition - y.Partition)
		}
		return int(x.Offset - y.Offset)
	})
	if len(recs) > limit {
		recs = recs[:limit]
	}
	next := map[string]int64{}
	for _, p := range parts {
		next[strconv.Itoa(int(p))] = from[p]
	}
	out := make([]apiRecord, 0, len(recs))
	for _, rec := range recs {
		out = append(out, toAPIRecord(rec))
		k := strconv.Itoa(int(rec.Partition))
		next[k] = max(next[k], rec.Offset+1)
	}
	endsOut := map[string]int64{}
	for _, p := range parts {
		e, _ := ends.Lookup(name, p)
		endsOut[strconv.Itoa(int(p))] = e.Offset
	}
	return http.StatusOK, map[string]any{"topic": name, "records": out, "next_offsets": next, "end_offsets": endsOut}, nil
}

// consume reads from each partition from its start offset up to its end
// (or limit records), within readWait.
func (a *restAPI) consume(ctx context.Context, topic string, parts []int32, from map[int32]int64, ends kadm.ListedOffsets, limit int, committed bool) ([]*kgo.Record, error) {
	want := map[int32]kgo.Offset{}
	remaining := map[int32]int64{} // partition -> offset to reach
	for _, p := range parts {
		e, _ := ends.Lookup(topic, p)
		if from[p] >= e.Offset {
			continue
		}
		want[p] = kgo.NewOffset().At(from[p])
		remaining[p] = min(e.Offset, from[p]+int64(limit))
	}
	if len(want) == 0 {
		return nil, nil
	}
	isolation := kgo.ReadUncommitted()
	if committed {
		isolation = kgo.ReadCommitted()
	}
	cl, err := kgo.NewClient(a.k.opts(
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: want}),
		kgo.FetchIsolationLevel(isolation),
		kgo.FetchMaxWait(200*time.Millisecond),
	)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, readWait)
	defer cancel()
	var out []*kgo.Record
	perPart := map[int32]int{}
	for len(remaining) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break // return what arrived: the rest was aborted or compacted away
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				ferr = err
			}
		})
		if ferr != nil {
			if errors.Is(ferr, kerr.UnknownTopicOrPartition) {
				return nil, notFound("topic %s does not exist", topic)
			}
			return nil, ferr
		}
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			for _, rec := range fp.Records {
				end, ok := remaining[rec.Partition]
				if !ok || rec.Offset >= end {
					continue
				}
				if perPart[rec.Partition] < limit {
					out = append(out, rec)
					perPart[rec.Partition]++
				}
				if rec.Offset+1 >= end || perPart[rec.Partition] >= limit {
					delete(remaining, rec.Partition)
				}
			}
			// Transaction markers and aborted records leave gaps: the
			// high watermark of the fetch says the partition is done.
			if end, ok := remaining[fp.Partition]; ok && fp.HighWatermark >= end && len(fp.Records) == 0 && fp.LastStableOffset >= end {
				delete(remaining, fp.Partition)
			}
		})
	}
	return out, nil
}

// headerIn is a header to produce.
type headerIn struct {
	Key           string  `json:"key"`
	Value         *string `json:"value"`
	ValueEncoding string  `json:"value_encoding"`
}

// produceBody is one record to produce. Value and key are text unless
// their encoding says base64; a JSON object or array as the value is
// produced as its compact JSON text.
type produceBody struct {
	Partition     *int32          `json:"partition"`
	Key           *string         `json:"key"`
	KeyEncoding   string          `json:"key_encoding"`
	Value         json.RawMessage `json:"value"`
	ValueEncoding string          `json:"value_encoding"`
	Headers       []headerIn      `json:"headers"`
	Timestamp     string          `json:"timestamp"`
}

func decodeField(s *string, enc, field string) ([]byte, error) {
	if s == nil {
		return nil, nil
	}
	switch enc {
	case "", "text":
		return []byte(*s), nil
	case "base64":
		b, err := base64.StdEncoding.DecodeString(*s)
		if err != nil {
			return nil, badRequest(field, "is not valid base64: %v", err)
		}
		return b, nil
	}
	return nil, badRequest(field+"_encoding", "must be text or base64, got %q", enc)
}

func (a *restAPI) produceRecord(r *http.Request, adm *kadm.Client) (int, any, error) {
	var b produceBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	name := r.PathValue("topic")
	ctx := r.Context()
	details, err := a.topic(ctx, adm, name)
	if err != nil {
		return 0, nil, err
	}
	rec := &kgo.Record{Topic: name}
	if rec.Key, err = decodeField(b.Key, b.KeyEncoding, "key"); err != nil {
		return 0, nil, err
	}
	switch v := bytes.TrimSpace(b.Value); {
	case len(v) == 0 || string(v) == "null":
		if b.ValueEncoding != "" && b.ValueEncoding != "text" && b.ValueEncoding != "base64" {
			return 0, nil, badRequest("value_encoding", "must be text or base64, got %q", b.ValueEncoding)
		}
	case v[0] == '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return 0, nil, badRequest("value", "invalid JSON string: %v", err)
		}
		if rec.Value, err = decodeField(&s, b.ValueEncoding, "value"); err != nil {
			return 0, nil, err
		}
		if rec.Value == nil {
			rec.Value = []byte{}
		}
	default:
		if b.ValueEncoding == "base64" {
			return 0, nil, badRequest("value", "must be a string when value_encoding is base64")
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, v); err != nil {
			return 0, nil, badRequest("value", "invalid JSON: %v", err)
		}
		rec.Value = buf.Bytes()
	}
	for i, h := range b.Headers {
		if h.Key == "" {
			return 0, nil, badRequest("headers", "header %d has no key", i)
		}
		v, err := decodeField(h.Value, h.ValueEncoding, "headers")
		if err != nil {
			return 0, nil, err
		}
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: h.Key, Value: v})
	}
	if b.Timestamp != "" {
		ts, err := parseTime(b.Timestamp, "timestamp")
		if err != nil {
			return 0, nil, err
		}
		rec.Timestamp = ts
	}
	extra := []kgo.Opt{kgo.DefaultProduceTopic(name), kgo.ProducerLinger(0)}
	if b.Partition != nil {
		if _, ok := details[name].Partitions[*b.Partition]; !ok {
			return 0, nil, badRequest("partition", "topic %s has no partition %d", name, *b.Partition)
		}
		rec.Partition = *b.Partition
		extra = append(extra, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	cl, err := kgo.NewClient(a.k.opts(extra...)...)
	if err != nil {
		return 0, nil, err
	}
	defer cl.Close()
	res := cl.ProduceSync(ctx, rec)
	if err := res.FirstErr(); err != nil {
		field := "value"
		if errors.Is(err, kerr.InvalidRecord) && rec.Key == nil {
			field = "key" // a compacted topic needs keys
		}
		var ke *kerr.Error
		if errors.As(err, &ke) {
			return 0, nil, fromKafka(err, field, "")
		}
		if strings.Contains(err.Error(), "too large") {
			return 0, nil, badRequest(field, "%v", err)
		}
		return 0, nil, err
	}
	got := res[0].Record
	return http.StatusCreated, map[string]any{"topic": name, "partition": got.Partition, "offset": got.Offset,
		"timestamp": got.Timestamp.UTC().Format(time.RFC3339Nano)}, nil
}
