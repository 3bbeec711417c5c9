// Package admin is Chronik's HTTP side: health and readiness, metrics, the
// REST API (described by /api/v1/openapi.json), search and the web console.
package admin

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"

	"github.com/chronik-streaming/chronik/internal/lag"
)

// Readiness reports whether the broker can serve, and why not.
type Readiness func() (ready bool, reason string)

// Deps are what the HTTP routes read.
type Deps struct {
	Ready Readiness
	// GroupLag returns a group's per-partition lag; ok is false for an
	// unknown group.
	GroupLag func(group string) (parts []lag.Partition, ok bool)
	// Search answers the search routes; nil leaves them out.
	Search Searcher
	// Metrics serves /metrics (Prometheus exposition); nil leaves it out.
	Metrics http.Handler
	// KafkaAddr is the broker's bound Kafka listener: the REST API and the
	// console are Kafka clients of it. Empty leaves them out.
	KafkaAddr string
}

// Server is the HTTP handler; Close releases its Kafka connections.
type Server struct {
	http.Handler
	kafka *kafkaClient
}

// Close closes the REST API's connections to the broker.
func (s *Server) Close() {
	if s.kafka != nil {
		s.kafka.close()
	}
}

// New returns the HTTP routes.
func New(d Deps) *Server {
	ready := d.Ready
	mux := http.NewServeMux()
	srv := &Server{Handler: mux}
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {
		if ok, reason := ready(); !ok {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": reason})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.HandleFunc("GET /api/v1/groups/{group}/lag", func(w http.ResponseWriter, r *http.Request) {
		g := r.PathValue("group")
		parts, ok := d.GroupLag(g)
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "group " + g + " does not exist"})
			return
		}
		if parts == nil {
			parts = []lag.Partition{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"group": g, "total_lag": lag.Total(parts), "partitions": parts})
	})
	if d.Search != nil {
		registerSearch(mux, d.Search)
	}
	if d.Metrics != nil {
		mux.Handle("GET /metrics", d.Metrics)
	}
	if d.KafkaAddr != "" {
		srv.kafka = &kafkaClient{addr: d.KafkaAddr}
		api := &restAPI{k: srv.kafka}
		api.register(mux)
		mux.HandleFunc("GET /api/v1/openapi.json", serveOpenAPI)
		registerConsole(mux)
	}
	// Anything else under /api/ is a JSON 404, not the console's page.
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such endpoint: " + r.Method + " " + r.URL.Path + " (see /api/v1/openapi.json)"})
	})
	// Profiling for operators chasing CPU or latency (go tool pprof).
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return srv
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
