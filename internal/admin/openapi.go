package admin

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
)

// The OpenAPI 3.1 document of the HTTP API, built from these tables so that
// a test can check it names every route the mux serves.

type schema = map[string]any

func obj(props schema, required ...string) schema {
	s := schema{"type": "object", "properties": props}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

func arr(items schema) schema { return schema{"type": "array", "items": items} }
func ref(name string) schema  { return schema{"$ref": "#/components/schemas/" + name} }

var (
	str     = schema{"type": "string"}
	integer = schema{"type": "integer"}
	boolean = schema{"type": "boolean"}
	nullStr = schema{"type": []string{"string", "null"}}
	nullInt = schema{"type": []string{"integer", "null"}}
)

func describe(s schema, doc string) schema {
	out := schema{"description": doc}
	for k, v := range s {
		out[k] = v
	}
	return out
}

var components = schema{
	"Error": obj(schema{"error": str, "field": describe(str, "the input at fault, for 400 answers")}, "error"),
	"TopicSummary": obj(schema{"name": str, "id": str, "internal": boolean, "partitions": integer, "replication_factor": integer,
		"records": describe(integer, "end minus start offset, summed over partitions"), "size_bytes": integer, "search_enabled": boolean}),
	"Partition": obj(schema{"partition": integer, "leader": integer, "replicas": arr(integer), "start_offset": integer,
		"end_offset": integer, "records": integer, "size_bytes": integer}),
	"Config": obj(schema{"name": str, "value": nullStr, "source": describe(str, "default, static_broker, dynamic_topic, dynamic_broker, ..."),
		"read_only": boolean, "sensitive": boolean, "type": str, "documentation": str, "synonyms": arr(str)}),
	"TopicDetail": schema{"allOf": []schema{ref("TopicSummary"), obj(schema{"partition_details": arr(ref("Partition")), "configs": arr(ref("Config"))})}},
	"Header":      obj(schema{"key": str, "value": nullStr, "value_encoding": describe(str, "text (default) or base64")}, "key"),
	"Bytes": schema{"type": []string{"object", "null"}, "description": "the text when UTF-8, else base64; null for a null key or value",
		"properties": schema{"data": str, "encoding": describe(str, "text or base64")}},
	"RecordHeader": obj(schema{"key": str, "value": ref("Bytes")}),
	"Record": obj(schema{"partition": integer, "offset": integer, "timestamp": describe(str, "RFC 3339"), "timestamp_ms": integer,
		"key": ref("Bytes"), "value": ref("Bytes"), "headers": arr(ref("RecordHeader")), "size_bytes": integer}),
	"ConfigChange": obj(schema{"set": describe(schema{"type": "object", "additionalProperties": str}, "configs to set"),
		"delete": describe(arr(str), "configs to return to their defaults"), "validate_only": boolean}),
	"GroupSummary": obj(schema{"group": str, "state": str, "protocol_type": str, "members": integer, "total_lag": integer}),
	"GroupDetail": obj(schema{"group": str, "state": str, "protocol_type": str, "protocol": str, "coordinator": integer,
		"members": arr(obj(schema{"member_id": str, "instance_id": str, "client_id": str, "host": str,
			"assignments": arr(obj(schema{"topic": str, "partitions": arr(integer)}))})),
		"partitions": arr(obj(schema{"topic": str, "partition": integer, "committed_offset": nullInt, "log_end_offset": integer,
			"lag": nullInt, "member_id": str, "error": str})),
		"total_lag": integer}),
	"OffsetChange": obj(schema{"topic": str, "partition": integer, "old_offset": describe(integer, "-1: nothing was committed"), "new_offset": integer}),
	"SearchResult": obj(schema{"total": integer, "took_ms": schema{"type": "number"}, "hits": arr(obj(schema{
		"topic": str, "partition": integer, "offset": integer, "timestamp": str, "score": schema{"type": "number"},
		"key": ref("Bytes"), "value": ref("Bytes"), "headers": arr(ref("RecordHeader")),
		"highlights": schema{"type": "object", "additionalProperties": arr(str)}}))}),
	"SearchRequest": obj(schema{"query": describe(str, "Lucene-style query"), "topics": arr(str), "partitions": arr(integer),
		"from_offset": integer, "to_offset": integer, "from": describe(str, "RFC 3339 or epoch ms"), "to": str,
		"limit": integer, "skip": integer, "sort": describe(str, "relevance (default), time or -time")}),
}

type param struct {
	name, in, doc string
	schema        schema
	required      bool
}

func pathParam(name, doc string) param { return param{name, "path", doc, str, true} }
func queryParam(name, doc string, s schema) param {
	return param{name, "query", doc, s, false}
}

type op struct {
	summary  string
	params   []param
	body     schema
	status   string // the success status
	response schema // nil: no body
	errors   []string
}

var (
	topicP = pathParam("topic", "topic name")
	groupP = pathParam("group", "consumer group id")
	idP    = param{"id", "path", "broker node id", integer, true}
)

var searchParamsDoc = []param{
	queryParam("q", "Lucene-style query: field:value, \"phrases\", prefix*, AND/OR/NOT, +/-, ranges [a TO b], >=", str),
	queryParam("partition", "partitions, comma-separated", str),
	queryParam("from_offset", "first offset", integer), queryParam("to_offset", "last offset", integer),
	queryParam("from", "earliest timestamp (RFC 3339 or epoch ms)", str), queryParam("to", "latest timestamp", str),
	queryParam("limit", "hits to return (default 20)", integer), queryParam("skip", "hits to skip (pagination)", integer),
	queryParam("sort", "relevance, time or -time", str),
}

var operations = map[string]op{
	"GET /health": {summary: "Liveness: the process answers", status: "200", response: obj(schema{"status": str})},
	"GET /ready": {summary: "Readiness: logs recovered, coordinators loaded, data directory writable, listeners bound",
		status: "200", response: obj(schema{"status": str, "reason": str}), errors: []string{"503"}},
	"GET /metrics":             {summary: "Prometheus metrics (text exposition format)", status: "200", response: str},
	"GET /api/v1/openapi.json": {summary: "This document", status: "200", response: schema{"type": "object"}},
	"GET /api/v1/cluster": {summary: "Cluster overview: brokers, totals, offsets for throughput", status: "200",
		response: obj(schema{"cluster_id": str, "controller_id": integer, "brokers": arr(obj(schema{"node_id": integer, "host": str, "port": integer})),
			"topics": integer, "partitions": integer, "groups": integer, "end_offsets_total": integer, "records": integer,
			"size_bytes": integer, "total_lag": integer, "timestamp_ms": integer})},
	"GET /api/v1/topics": {summary: "List topics", status: "200", response: obj(schema{"topics": arr(ref("TopicSummary"))})},
	"POST /api/v1/topics": {summary: "Create a topic", status: "201", response: ref("TopicDetail"),
		body: obj(schema{"name": str, "partitions": describe(integer, "default: the broker's num.partitions"),
			"replication_factor": integer, "configs": schema{"type": "object", "additionalProperties": str}, "validate_only": boolean}, "name"),
		errors: []string{"400", "409"}},
	"GET /api/v1/topics/{topic}": {summary: "Describe a topic: partitions with offsets and sizes, configs", params: []param{topicP},
		status: "200", response: ref("TopicDetail"), errors: []string{"404"}},
	"DELETE /api/v1/topics/{topic}": {summary: "Delete a topic", params: []param{topicP}, status: "204", errors: []string{"404"}},
	"GET /api/v1/topics/{topic}/partitions": {summary: "Partitions with start/end offsets and sizes", params: []param{topicP},
		status: "200", response: obj(schema{"topic": str, "partitions": arr(ref("Partition"))}), errors: []string{"404"}},
	"POST /api/v1/topics/{topic}/partitions": {summary: "Raise the number of partitions", params: []param{topicP},
		body: obj(schema{"count": describe(integer, "the new total")}, "count"), status: "200", response: ref("TopicDetail"),
		errors: []string{"400", "404"}},
	"GET /api/v1/topics/{topic}/configs": {summary: "A topic's configs with sources", params: []param{topicP}, status: "200",
		response: obj(schema{"topic": str, "configs": arr(ref("Config"))}), errors: []string{"404"}},
	"PATCH /api/v1/topics/{topic}/configs": {summary: "Set or delete topic configs (IncrementalAlterConfigs), applied live",
		params: []param{topicP}, body: ref("ConfigChange"), status: "200",
		response: obj(schema{"topic": str, "validate_only": boolean, "configs": arr(ref("Config"))}), errors: []string{"400", "404"}},
	"GET /api/v1/topics/{topic}/records": {summary: "Read records (never waits for new ones)", params: []param{topicP,
		queryParam("partition", "partitions, comma-separated (default: all)", str),
		queryParam("offset", "a start offset, -N for N before the end, earliest (default) or latest", str),
		queryParam("timestamp", "start at the first record at or after this time (RFC 3339 or epoch ms)", str),
		queryParam("limit", "records to return, 1-1000 (default 50)", integer),
		queryParam("isolation", "read_committed (default) or read_uncommitted", str)},
		status: "200", response: obj(schema{"topic": str, "records": arr(ref("Record")),
			"next_offsets": describe(schema{"type": "object", "additionalProperties": integer}, "per partition: where the next page starts"),
			"end_offsets":  schema{"type": "object", "additionalProperties": integer}}),
		errors: []string{"400", "404"}},
	"POST /api/v1/topics/{topic}/records": {summary: "Produce one record", params: []param{topicP},
		body: obj(schema{"partition": describe(integer, "default: by key hash, else any"), "key": nullStr, "key_encoding": str,
			"value":          describe(schema{}, "a string (text, or base64 with value_encoding), null, or any JSON produced as its text"),
			"value_encoding": str, "headers": arr(ref("Header")), "timestamp": str}),
		status: "201", response: obj(schema{"topic": str, "partition": integer, "offset": integer, "timestamp": str}),
		errors: []string{"400", "404"}},
	"GET /api/v1/groups": {summary: "List consumer groups with state and total lag", status: "200",
		response: obj(schema{"groups": arr(ref("GroupSummary"))})},
	"GET /api/v1/groups/{group}": {summary: "Describe a group: members, assignments, committed offsets and lag per partition",
		params: []param{groupP}, status: "200", response: ref("GroupDetail"), errors: []string{"404"}},
	"DELETE /api/v1/groups/{group}": {summary: "Delete an inactive group and its offsets", params: []param{groupP}, status: "204",
		errors: []string{"404", "409"}},
	"GET /api/v1/groups/{group}/lag": {summary: "A group's lag per committed partition", params: []param{groupP}, status: "200",
		response: obj(schema{"group": str, "total_lag": integer, "partitions": arr(obj(schema{"topic": str, "partition": integer,
			"committed_offset": integer, "log_end_offset": integer, "lag": integer}))}), errors: []string{"404"}},
	"POST /api/v1/groups/{group}/reset-offsets": {summary: "Reset an inactive group's offsets", params: []param{groupP},
		body: obj(schema{"to": describe(str, "earliest, latest, timestamp or offset"), "offset": integer,
			"timestamp": describe(str, "RFC 3339 or epoch ms"), "topics": describe(arr(str), "default: the topics the group committed"),
			"partitions": describe(arr(integer), "with exactly one topic"), "dry_run": boolean}, "to"),
		status: "200", response: obj(schema{"group": str, "dry_run": boolean, "partitions": arr(ref("OffsetChange"))}),
		errors: []string{"400", "404", "409"}},
	"GET /api/v1/brokers/{id}/configs": {summary: "A broker's configs with sources", params: []param{idP}, status: "200",
		response: obj(schema{"broker": integer, "configs": arr(ref("Config"))}), errors: []string{"400", "404"}},
	"PATCH /api/v1/brokers/{id}/configs": {summary: "Set or delete dynamic broker configs", params: []param{idP},
		body: ref("ConfigChange"), status: "200", response: obj(schema{"broker": integer, "configs": arr(ref("Config"))}),
		errors: []string{"400", "404"}},
	"GET /api/v1/topics/{topic}/search": {summary: "Search a topic's records", params: append([]param{topicP}, searchParamsDoc...),
		status: "200", response: ref("SearchResult"), errors: []string{"400", "404", "409"}},
	"POST /api/v1/topics/{topic}/search": {summary: "Search a topic's records (JSON body)", params: []param{topicP},
		body: ref("SearchRequest"), status: "200", response: ref("SearchResult"), errors: []string{"400", "404", "409"}},
	"GET /api/v1/search": {summary: "Search across topics (all searchable, or ?topics=a,b)",
		params: append([]param{queryParam("topics", "topics, comma-separated", str)}, searchParamsDoc...),
		status: "200", response: ref("SearchResult"), errors: []string{"400", "404", "409"}},
	"POST /api/v1/search": {summary: "Search across topics (JSON body)", body: ref("SearchRequest"), status: "200",
		response: ref("SearchResult"), errors: []string{"400", "404", "409"}},
	"GET /api/v1/search/status": {summary: "Indexing state per partition and query latency", status: "200",
		response: obj(schema{"partitions": arr(obj(schema{"topic": str, "partition": integer, "indexed_offset": integer,
			"end_offset": integer, "lag_records": integer, "lag_seconds": schema{"type": "number"}, "indexes": integer,
			"documents": integer, "size_bytes": integer, "failed_batches": integer})),
			"query_latency": obj(schema{"p50_ms": schema{"type": "number"}, "p99_ms": schema{"type": "number"}, "samples": integer})})},
}

var errorText = map[string]string{
	"400": "invalid input; field names it", "404": "unknown topic, group or broker",
	"409": "conflict: topic exists, group active, or topic not searchable", "503": "not ready",
}

func buildOpenAPI() schema {
	paths := schema{}
	for pattern, o := range operations {
		method, path, _ := strings.Cut(pattern, " ")
		item, _ := paths[path].(schema)
		if item == nil {
			item = schema{}
			paths[path] = item
		}
		ok := schema{"description": "success"}
		if o.response != nil {
			ctype := "application/json"
			if path == "/metrics" {
				ctype = "text/plain"
			}
			ok["content"] = schema{ctype: schema{"schema": o.response}}
		}
		responses := schema{o.status: ok}
		for _, code := range append([]string{"500"}, o.errors...) {
			text := errorText[code]
			if text == "" {
				text = "broker error"
			}
			responses[code] = schema{"description": text, "content": schema{"application/json": schema{"schema": ref("Error")}}}
		}
		opDoc := schema{"summary": o.summary, "operationId": operationID(method, path), "responses": responses}
		if len(o.params) > 0 {
			var ps []schema
			for _, p := range o.params {
				ps = append(ps, schema{"name": p.name, "in": p.in, "description": p.doc, "required": p.required, "schema": p.schema})
			}
			opDoc["parameters"] = ps
		}
		if o.body != nil {
			opDoc["requestBody"] = schema{"required": true, "content": schema{"application/json": schema{"schema": o.body}}}
		}
		item[strings.ToLower(method)] = opDoc
	}
	return schema{
		"openapi": "3.1.0",
		"info": schema{"title": "Chronik admin API", "version": "v1",
			"description": "Topics, records, consumer groups, configs and search of a Chronik broker. Errors are JSON: {\"error\": ..., \"field\": ...}."},
		"paths":      paths,
		"components": schema{"schemas": components},
	}
}

// operationID is e.g. get_topics_topic_records.
func operationID(method, path string) string {
	id := strings.ToLower(method)
	for _, seg := range strings.Split(strings.Trim(path, "/"), "/") {
		seg = strings.Trim(seg, "{}")
		if seg == "api" || seg == "v1" || seg == "" {
			continue
		}
		id += "_" + strings.NewReplacer("-", "_", ".", "_").Replace(seg)
	}
	return id
}

var openAPIDoc = sync.OnceValue(func() []byte {
	b, err := json.MarshalIndent(buildOpenAPI(), "", "  ")
	if err != nil {
		panic(err) // static data: a failure is a programming error caught by the tests
	}
	return b
})

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPIDoc())
}
