package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/chronik-streaming/chronik/internal/search"
	"github.com/chronik-streaming/chronik/internal/search/query"
)

// Searcher is what the search routes need (search.Service).
type Searcher interface {
	Search(ctx context.Context, req search.Request) (*search.Result, error)
	Status() []search.PartitionStatus
	QueryLatency() (p50, p99 time.Duration, n int)
}

// searchBody is the JSON form of a search (POST).
type searchBody struct {
	Query      string   `json:"query"`
	Topics     []string `json:"topics"`
	Partitions []int32  `json:"partitions"`
	FromOffset *int64   `json:"from_offset"`
	ToOffset   *int64   `json:"to_offset"`
	From       string   `json:"from"`
	To         string   `json:"to"`
	Limit      int      `json:"limit"`
	Skip       int      `json:"skip"`
	Sort       string   `json:"sort"`
}

// searchParams are the query parameters of GET searches.
var searchParams = map[string]bool{"q": true, "topics": true, "partition": true, "from_offset": true,
	"to_offset": true, "from": true, "to": true, "limit": true, "skip": true, "sort": true}

func registerSearch(mux *http.ServeMux, s Searcher) {
	run := func(w http.ResponseWriter, r *http.Request, topic string) {
		req, err := searchRequest(r, topic)
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		res, err := s.Search(r.Context(), req)
		var se *query.SyntaxError
		var re *search.RequestError
		switch {
		case errors.As(err, &se):
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid query: " + se.Error(), "field": "q", "position": se.Pos})
		case errors.As(err, &re):
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": re.Error(), "field": re.Field})
		case errors.Is(err, search.ErrUnknownTopic):
			writeError(w, http.StatusNotFound, err)
		case errors.Is(err, search.ErrNotSearchable):
			writeError(w, http.StatusConflict, err)
		case err != nil:
			writeError(w, http.StatusInternalServerError, err)
		default:
			writeJSON(w, http.StatusOK, res)
		}
	}
	mux.HandleFunc("GET /api/v1/topics/{topic}/search", func(w http.ResponseWriter, r *http.Request) { run(w, r, r.PathValue("topic")) })
	mux.HandleFunc("POST /api/v1/topics/{topic}/search", func(w http.ResponseWriter, r *http.Request) { run(w, r, r.PathValue("topic")) })
	mux.HandleFunc("GET /api/v1/search", func(w http.ResponseWriter, r *http.Request) { run(w, r, "") })
	mux.HandleFunc("POST /api/v1/search", func(w http.ResponseWriter, r *http.Request) { run(w, r, "") })
	mux.HandleFunc("GET /api/v1/search/status", func(w http.ResponseWriter, r *http.Request) {
		p50, p99, n := s.QueryLatency()
		writeJSON(w, http.StatusOK, map[string]any{
			"partitions":    s.Status(),
			"query_latency": map[string]any{"p50_ms": ms(p50), "p99_ms": ms(p99), "samples": n},
		})
	})
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

type fieldError struct{ field, msg string }

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

func writeError(w http.ResponseWriter, code int, err error) {
	body := map[string]any{"error": err.Error()}
	var fe *fieldError
	if errors.As(err, &fe) {
		body["field"] = fe.field
	}
	writeJSON(w, code, body)
}

// searchRequest reads a search from the query string (GET) or a JSON body
// (POST). topic, when set, is the topic of the URL path.
func searchRequest(r *http.Request, topic string) (search.Request, error) {
	var b searchBody
	if r.Method == http.MethodPost {
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&b); err != nil {
			return search.Request{}, &fieldError{"body", "invalid JSON: " + err.Error()}
		}
	} else {
		v := r.URL.Query()
		for k := range v {
			if !searchParams[k] {
				return search.Request{}, &fieldError{k, "unknown parameter (known: q, topics, partition, from_offset, to_offset, from, to, limit, skip, sort)"}
			}
		}
		b.Query, b.From, b.To, b.Sort = v.Get("q"), v.Get("from"), v.Get("to"), v.Get("sort")
		if t := v.Get("topics"); t != "" {
			b.Topics = strings.Split(t, ",")
		}
		for _, p := range splitList(v["partition"]) {
			n, err := strconv.ParseInt(p, 10, 32)
			if err != nil || n < 0 {
				return search.Request{}, &fieldError{"partition", fmt.Sprintf("%q is not a partition number", p)}
			}
			b.Partitions = append(b.Partitions, int32(n))
		}
		var err error
		if b.FromOffset, err = optInt(v.Get("from_offset"), "from_offset"); err != nil {
			return search.Request{}, err
		}
		if b.ToOffset, err = optInt(v.Get("to_offset"), "to_offset"); err != nil {
			return search.Request{}, err
		}
		for _, f := range []struct {
			name string
			dst  *int
		}{{"limit", &b.Limit}, {"skip", &b.Skip}} {
			if s := v.Get(f.name); s != "" {
				n, err := strconv.Atoi(s)
				if err != nil {
					return search.Request{}, &fieldError{f.name, fmt.Sprintf("%q is not an integer", s)}
				}
				*f.dst = n
			}
		}
	}
	req := search.Request{Topics: b.Topics, Query: b.Query, Partitions: b.Partitions, FromOffset: b.FromOffset,
		ToOffset: b.ToOffset, Limit: b.Limit, Skip: b.Skip, Sort: b.Sort}
	if topic != "" {
		if len(b.Topics) > 0 {
			return search.Request{}, &fieldError{"topics", "not allowed on a topic's search; use /api/v1/search"}
		}
		req.Topics = []string{topic}
	}
	var err error
	if req.From, err = parseTime(b.From, "from"); err != nil {
		return search.Request{}, err
	}
	if req.To, err = parseTime(b.To, "to"); err != nil {
		return search.Request{}, err
	}
	return req, nil
}

func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func optInt(s, field string) (*int64, error) {
	if s == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil, &fieldError{field, fmt.Sprintf("%q is not an integer", s)}
	}
	return &n, nil
}

// parseTime accepts RFC 3339 and epoch milliseconds.
func parseTime(s, field string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(n), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, &fieldError{field, fmt.Sprintf("%q is neither RFC 3339 nor epoch milliseconds", s)}
	}
	return t, nil
}
