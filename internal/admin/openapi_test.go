package admin

import (
	"encoding/json"
	"slices"
	"testing"
)

// Every route the mux serves is in the OpenAPI document, and the document
// names no route that does not exist.
func TestOpenAPICoversRoutes(t *testing.T) {
	served := []string{"GET /health", "GET /ready", "GET /metrics", "GET /api/v1/openapi.json", "GET /api/v1/groups/{group}/lag",
		"GET /api/v1/topics/{topic}/search", "POST /api/v1/topics/{topic}/search", "GET /api/v1/search", "POST /api/v1/search",
		"GET /api/v1/search/status"}
	for _, r := range (&restAPI{}).routes() {
		served = append(served, r.pattern)
	}
	for _, p := range served {
		if _, ok := operations[p]; !ok {
			t.Errorf("route %s is not in the OpenAPI document", p)
		}
	}
	for p := range operations {
		if !slices.Contains(served, p) {
			t.Errorf("the OpenAPI document names %s, which is not served", p)
		}
	}
	var doc map[string]any
	if err := json.Unmarshal(openAPIDoc(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi = %v", doc["openapi"])
	}
}
