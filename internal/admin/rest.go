package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/clientops"
)

// requestTimeout bounds one REST call's Kafka requests.
const requestTimeout = 15 * time.Second

// restAPI serves /api/v1: topics, partitions, records, groups and broker
// configs, all answered through a Kafka client of the broker itself.
type restAPI struct {
	k *kafkaClient
}

// route is one REST endpoint; the list feeds both the mux and the test that
// keeps the OpenAPI document complete.
type route struct {
	pattern string // "METHOD /path"
	handle  func(r *http.Request, adm *kadm.Client) (status int, body any, err error)
}

func (a *restAPI) routes() []route {
	return []route{
		{"GET /api/v1/cluster", a.cluster},
		{"GET /api/v1/topics", a.listTopics},
		{"POST /api/v1/topics", a.createTopic},
		{"GET /api/v1/topics/{topic}", a.describeTopic},
		{"DELETE /api/v1/topics/{topic}", a.deleteTopic},
		{"GET /api/v1/topics/{topic}/partitions", a.partitions},
		{"POST /api/v1/topics/{topic}/partitions", a.addPartitions},
		{"GET /api/v1/topics/{topic}/configs", a.topicConfigs},
		{"PATCH /api/v1/topics/{topic}/configs", a.alterTopicConfigs},
		{"GET /api/v1/topics/{topic}/records", a.readRecords},
		{"POST /api/v1/topics/{topic}/records", a.produceRecord},
		{"GET /api/v1/groups", a.listGroups},
		{"GET /api/v1/groups/{group}", a.describeGroup},
		{"DELETE /api/v1/groups/{group}", a.deleteGroup},
		{"POST /api/v1/groups/{group}/reset-offsets", a.resetOffsets},
		{"GET /api/v1/brokers/{id}/configs", a.brokerConfigs},
		{"PATCH /api/v1/brokers/{id}/configs", a.alterBrokerConfigs},
	}
}

func (a *restAPI) register(mux *http.ServeMux) {
	for _, rt := range a.routes() {
		mux.HandleFunc(rt.pattern, func(w http.ResponseWriter, r *http.Request) {
			adm, err := a.k.admin()
			if err != nil {
				writeAPIError(w, err)
				return
			}
			ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
			defer cancel()
			status, body, err := rt.handle(r.WithContext(ctx), adm)
			if err != nil {
				writeAPIError(w, err)
				return
			}
			if body == nil {
				w.WriteHeader(status)
				return
			}
			writeJSON(w, status, body)
		})
	}
}

func writeAPIError(w http.ResponseWriter, err error) {
	var ae *apiError
	var fe *fieldError
	switch {
	case errors.As(err, &ae):
		body := map[string]any{"error": ae.msg}
		if ae.field != "" {
			body["field"] = ae.field
		}
		writeJSON(w, ae.status, body)
	case errors.As(err, &fe):
		writeError(w, http.StatusBadRequest, err)
	case errors.Is(err, context.DeadlineExceeded):
		writeJSON(w, http.StatusGatewayTimeout, map[string]any{"error": "the broker did not answer in time: " + err.Error()})
	default:
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
	}
}

// decodeBody reads a JSON body into v, refusing unknown fields.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 8<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return badRequest(te.Field, "must be %s, not %s", jsonKind(te.Type.Kind().String()), te.Value)
		}
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return badRequest(strings.Trim(f, `"`), "unknown field")
		}
		if errors.Is(err, io.EOF) {
			return badRequest("body", "a JSON object is required")
		}
		return badRequest("body", "invalid JSON: %v", err)
	}
	if dec.More() {
		return badRequest("body", "one JSON object expected")
	}
	return nil
}

func jsonKind(k string) string {
	switch {
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"), strings.HasPrefix(k, "float"):
		return "a number"
	case k == "string":
		return "a string"
	case k == "bool":
		return "true or false"
	case k == "map", k == "struct":
		return "an object"
	case k == "slice":
		return "an array"
	}
	return k
}

// queryParams checks that the query string holds only known parameters.
func queryParams(r *http.Request, known ...string) error {
	for k := range r.URL.Query() {
		if !slices.Contains(known, k) {
			return badRequest(k, "unknown parameter (known: %s)", strings.Join(known, ", "))
		}
	}
	return nil
}

// --- cluster -------------------------------------------------------------

type clusterInfo struct {
	ClusterID    string       `json:"cluster_id"`
	ControllerID int32        `json:"controller_id"`
	Brokers      []brokerInfo `json:"brokers"`
	Topics       int          `json:"topics"`
	Partitions   int          `json:"partitions"`
	Groups       int          `json:"groups"`
	// Offsets and bytes summed over every partition: a console computes
	// throughput from two readings.
	EndOffsets int64 `json:"end_offsets_total"`
	Records    int64 `json:"records"`
	SizeBytes  int64 `json:"size_bytes"`
	TotalLag   int64 `json:"total_lag"`
	At         int64 `json:"timestamp_ms"`
}

type brokerInfo struct {
	NodeID int32  `json:"node_id"`
	Host   string `json:"host"`
	Port   int32  `json:"port"`
	Rack   string `json:"rack,omitempty"`
}

func (a *restAPI) cluster(r *http.Request, adm *kadm.Client) (int, any, error) {
	if err := queryParams(r); err != nil {
		return 0, nil, err
	}
	ctx := r.Context()
	md, err := adm.Metadata(ctx)
	if err != nil {
		return 0, nil, err
	}
	info := clusterInfo{ClusterID: md.Cluster, ControllerID: md.Controller, Brokers: []brokerInfo{}, At: time.Now().UnixMilli()}
	for _, b := range md.Brokers {
		info.Brokers = append(info.Brokers, brokerInfo{NodeID: b.NodeID, Host: b.Host, Port: b.Port, Rack: deref(b.Rack)})
	}
	names := md.Topics.Names()
	info.Topics = len(names)
	for _, t := range md.Topics {
		info.Partitions += len(t.Partitions)
	}
	if len(names) > 0 {
		starts, ends, sizes, err := offsetsAndSizes(ctx, adm, names)
		if err != nil {
			return 0, nil, err
		}
		ends.Each(func(o kadm.ListedOffset) {
			info.EndOffsets += max(o.Offset, 0)
			if s, ok := starts.Lookup(o.Topic, o.Partition); ok {
				info.Records += max(o.Offset-s.Offset, 0)
			}
		})
		for _, s := range sizes {
			info.SizeBytes += s
		}
	}
	groups, err := adm.ListGroups(ctx)
	if err != nil {
		return 0, nil, err
	}
	info.Groups = len(groups)
	if len(groups) > 0 {
		lags, err := adm.Lag(ctx, groups.Groups()...)
		if err != nil {
			return 0, nil, err
		}
		for _, l := range lags {
			info.TotalLag += max(l.Lag.Total(), 0)
		}
	}
	return http.StatusOK, info, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// offsetsAndSizes lists the start and end offsets and the on-disk size of
// every partition of topics.
func offsetsAndSizes(ctx context.Context, adm *kadm.Client, topics []string) (starts, ends kadm.ListedOffsets, sizes map[tp]int64, err error) {
	if starts, err = adm.ListStartOffsets(ctx, topics...); err != nil {
		return nil, nil, nil, err
	}
	if ends, err = adm.ListEndOffsets(ctx, topics...); err != nil {
		return nil, nil, nil, err
	}
	// Every log dir of every broker: naming partitions would make the
	// client route them by its cached metadata, which may not know a
	// topic created a moment ago.
	dirs, err := adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	sizes = map[tp]int64{}
	dirs.Each(func(d kadm.DescribedLogDir) {
		d.Topics.Each(func(p kadm.DescribedLogDirPartition) { sizes[tp{p.Topic, p.Partition}] += p.Size })
	})
	return starts, ends, sizes, nil
}

type tp struct {
	topic     string
	partition int32
}

// --- topics --------------------------------------------------------------

type topicSummary struct {
	Name              string `json:"name"`
	ID                string `json:"id"`
	Internal          bool   `json:"internal"`
	Partitions        int    `json:"partitions"`
	ReplicationFactor int    `json:"replication_factor"`
	Records           int64  `json:"records"`
	SizeBytes         int64  `json:"size_bytes"`
	SearchEnabled     bool   `json:"search_enabled"`
}

type partitionInfo struct {
	Partition   int32   `json:"partition"`
	Leader      int32   `json:"leader"`
	Replicas    []int32 `json:"replicas"`
	StartOffset int64   `json:"start_offset"`
	EndOffset   int64   `json:"end_offset"`
	Records     int64   `json:"records"`
	SizeBytes   int64   `json:"size_bytes"`
}

type topicDetail struct {
	topicSummary
	PartitionList []partitionInfo `json:"partition_details"`
	Configs       []configEntry   `json:"configs"`
}

type configEntry struct {
	Name      string   `json:"name"`
	Value     *string  `json:"value"`
	Source    string   `json:"source"`
	ReadOnly  bool     `json:"read_only"`
	Sensitive bool     `json:"sensitive"`
	Type      string   `json:"type,omitempty"`
	Doc       string   `json:"documentation,omitempty"`
	Synonyms  []string `json:"synonyms,omitempty"`
}

func (a *restAPI) listTopics(r *http.Request, adm *kadm.Client) (int, any, error) {
	if err := queryParams(r); err != nil {
		return 0, nil, err
	}
	details, err := adm.ListTopics(r.Context())
	if err != nil {
		return 0, nil, err
	}
	out, err := a.summaries(r.Context(), adm, details)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"topics": out}, nil
}

func (a *restAPI) summaries(ctx context.Context, adm *kadm.Client, details kadm.TopicDetails) ([]topicSummary, error) {
	out := []topicSummary{}
	names := details.Names()
	if len(names) == 0 {
		return out, nil
	}
	starts, ends, sizes, err := offsetsAndSizes(ctx, adm, names)
	if err != nil {
		return nil, err
	}
	cfgs, err := adm.DescribeTopicConfigs(ctx, names...)
	if err != nil {
		return nil, err
	}
	for _, t := range details.Sorted() {
		if t.Err != nil {
			continue
		}
		s := topicSummary{Name: t.Topic, ID: t.ID.String(), Internal: t.IsInternal, Partitions: len(t.Partitions),
			ReplicationFactor: t.Partitions.NumReplicas()}
		for p := range t.Partitions {
			s.SizeBytes += sizes[tp{t.Topic, p}]
			e, _ := ends.Lookup(t.Topic, p)
			st, _ := starts.Lookup(t.Topic, p)
			s.Records += max(e.Offset-st.Offset, 0)
		}
		if rc, err := cfgs.On(t.Topic, nil); err == nil {
			for _, c := range rc.Configs {
				if c.Key == "chronik.search.enabled" {
					s.SearchEnabled = c.MaybeValue() == "true"
				}
			}
		}
		out = append(out, s)
	}
	return out, nil
}

type createTopicBody struct {
	Name              string             `json:"name"`
	Partitions        *int32             `json:"partitions"`
	ReplicationFactor *int16             `json:"replication_factor"`
	Configs           map[string]*string `json:"configs"`
	ValidateOnly      bool               `json:"validate_only"`
}

func (a *restAPI) createTopic(r *http.Request, adm *kadm.Client) (int, any, error) {
	var b createTopicBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if b.Name == "" {
		return 0, nil, badRequest("name", "is required")
	}
	parts, rf := int32(-1), int16(-1) // the broker's defaults
	if b.Partitions != nil {
		if *b.Partitions < 1 {
			return 0, nil, badRequest("partitions", "must be at least 1, got %d", *b.Partitions)
		}
		parts = *b.Partitions
	}
	if b.ReplicationFactor != nil {
		if *b.ReplicationFactor < 1 {
			return 0, nil, badRequest("replication_factor", "must be at least 1, got %d", *b.ReplicationFactor)
		}
		rf = *b.ReplicationFactor
	}
	create := adm.CreateTopics
	if b.ValidateOnly {
		create = adm.ValidateCreateTopics
	}
	rs, err := create(r.Context(), parts, rf, b.Configs, b.Name)
	if err != nil {
		return 0, nil, err
	}
	res, err := rs.On(b.Name, nil)
	if err != nil {
		return 0, nil, err
	}
	if res.Err != nil {
		field := "name"
		switch {
		case errors.Is(res.Err, kerr.InvalidConfig):
			field = "configs"
		case errors.Is(res.Err, kerr.InvalidPartitions):
			field = "partitions"
		case errors.Is(res.Err, kerr.InvalidReplicationFactor):
			field = "replication_factor"
		}
		return 0, nil, fromKafka(res.Err, field, res.ErrMessage)
	}
	if b.ValidateOnly {
		return http.StatusOK, map[string]any{"name": b.Name, "validate_only": true, "partitions": res.NumPartitions}, nil
	}
	return a.topicDetail(r.Context(), adm, b.Name, http.StatusCreated)
}

func (a *restAPI) describeTopic(r *http.Request, adm *kadm.Client) (int, any, error) {
	if err := queryParams(r); err != nil {
		return 0, nil, err
	}
	return a.topicDetail(r.Context(), adm, r.PathValue("topic"), http.StatusOK)
}

func (a *restAPI) topicDetail(ctx context.Context, adm *kadm.Client, name string, status int) (int, any, error) {
	details, err := a.topic(ctx, adm, name)
	if err != nil {
		return 0, nil, err
	}
	sums, err := a.summaries(ctx, adm, details)
	if err != nil {
		return 0, nil, err
	}
	if len(sums) != 1 {
		return 0, nil, notFound("topic %s does not exist", name)
	}
	parts, err := a.partitionList(ctx, adm, details[name])
	if err != nil {
		return 0, nil, err
	}
	cfgs, err := a.describeConfigs(ctx, name, -1)
	if err != nil {
		return 0, nil, err
	}
	return status, topicDetail{topicSummary: sums[0], PartitionList: parts, Configs: cfgs}, nil
}

// topic describes one topic, or answers 404.
func (a *restAPI) topic(ctx context.Context, adm *kadm.Client, name string) (kadm.TopicDetails, error) {
	details, err := adm.ListTopics(ctx, name)
	if err != nil {
		return nil, err
	}
	d, ok := details[name]
	if !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
		return nil, notFound("topic %s does not exist", name)
	}
	if d.Err != nil {
		return nil, fromKafka(d.Err, "topic", "")
	}
	return details, nil
}

func (a *restAPI) partitionList(ctx context.Context, adm *kadm.Client, t kadm.TopicDetail) ([]partitionInfo, error) {
	starts, ends, sizes, err := offsetsAndSizes(ctx, adm, []string{t.Topic})
	if err != nil {
		return nil, err
	}
	out := []partitionInfo{}
	for _, p := range t.Partitions.Sorted() {
		s, _ := starts.Lookup(t.Topic, p.Partition)
		e, _ := ends.Lookup(t.Topic, p.Partition)
		out = append(out, partitionInfo{Partition: p.Partition, Leader: p.Leader, Replicas: p.Replicas,
			StartOffset: s.Offset, EndOffset: e.Offset, Records: max(e.Offset-s.Offset, 0), SizeBytes: sizes[tp{t.Topic, p.Partition}]})
	}
	return out, nil
}

func (a *restAPI) deleteTopic(r *http.Request, adm *kadm.Client) (int, any, error) {
	if err := queryParams(r); err != nil {
		return 0, nil, err
	}
	name := r.PathValue("topic")
	rs, err := adm.DeleteTopics(r.Context(), name)
	if err != nil {
		return 0, nil, err
	}
	res, ok := rs[name]
	if !ok {
		return 0, nil, fmt.Errorf("the broker's answer did not mention topic %s", name)
	}
	if errors.Is(res.Err, kerr.UnknownTopicOrPartition) {
		return 0, nil, notFound("topic %s does not exist", name)
	}
	if res.Err != nil {
		return 0, nil, fromKafka(res.Err, "topic", res.ErrMessage)
	}
	return http.StatusNoContent, nil, nil
}

func (a *restAPI) partitions(r *http.Request, adm *kadm.Client) (int, any, error) {
	if err := queryParams(r); err != nil {
		return 0, nil, err
	}
	name := r.PathValue("topic")
	details, err := a.topic(r.Context(), adm, name)
	if err != nil {
		return 0, nil, err
	}
	parts, err := a.partitionList(r.Context(), adm, details[name])
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"topic": name, "partitions": parts}, nil
}

func (a *restAPI) addPartitions(r *http.Request, adm *kadm.Client) (int, any, error) {
	var b struct {
		Count *int `json:"count"`
	}
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if b.Count == nil {
		return 0, nil, badRequest("count", "is required (the new total number of partitions)")
	}
	name := r.PathValue("topic")
	if _, err := a.topic(r.Context(), adm, name); err != nil {
		return 0, nil, err
	}
	res, err := adm.UpdatePartitions(r.Context(), *b.Count, name)
	if err != nil {
		return 0, nil, err
	}
	if rr, err := res.On(name, nil); err != nil || rr.Err != nil {
		if err == nil {
			err = fromKafka(rr.Err, "count", rr.ErrMessage)
		}
		return 0, nil, err
	}
	return a.topicDetail(r.Context(), adm, name, http.StatusOK)
}

// --- configs -------------------------------------------------------------

// describeConfigs describes a topic's configs (broker < 0) or a broker's,
// with synonyms and documentation.
func (a *restAPI) describeConfigs(ctx context.Context, topic string, broker int32) ([]configEntry, error) {
	typ, name := kmsg.ConfigResourceTypeTopic, topic
	if broker >= 0 {
		typ, name = kmsg.ConfigResourceTypeBroker, strconv.Itoa(int(broker))
	}
	configs, err := clientops.DescribeConfigs(ctx, a.k.cl, typ, name, nil)
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return nil, notFound("topic %s does not exist", topic)
	}
	if err != nil {
		return nil, fromKafka(err, "", "")
	}
	out := []configEntry{}
	for _, c := range configs {
		e := configEntry{Name: c.Name, Value: c.Value, Source: clientops.ConfigSource(c.Source), ReadOnly: c.ReadOnly,
			Sensitive: c.IsSensitive, Type: strings.ToLower(c.ConfigType.String()), Doc: deref(c.Documentation)}
		for _, syn := range c.ConfigSynonyms {
			e.Synonyms = append(e.Synonyms, syn.Name)
		}
		out = append(out, e)
	}
	return out, nil
}

// alterConfigsBody is an incremental change: keys to set and keys to return
// to their defaults.
type alterConfigsBody struct {
	Set          map[string]string `json:"set"`
	Delete       []string          `json:"delete"`
	ValidateOnly bool              `json:"validate_only"`
}

func (b *alterConfigsBody) ops() ([]kadm.AlterConfig, error) {
	if len(b.Set) == 0 && len(b.Delete) == 0 {
		return nil, badRequest("set", "nothing to change: give \"set\" and/or \"delete\"")
	}
	var ops []kadm.AlterConfig
	for k, v := range b.Set {
		if k == "" {
			return nil, badRequest("set", "a config name is empty")
		}
		ops = append(ops, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: kadm.StringPtr(v)})
	}
	for _, k := range b.Delete {
		if _, both := b.Set[k]; both {
			return nil, badRequest("delete", "%s is both set and deleted", k)
		}
		ops = append(ops, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
	}
	return ops, nil
}

func (a *restAPI) topicConfigs(r *http.Request, adm *kadm.Client) (int, any, error) {
	if err := queryParams(r); err != nil {
		return 0, nil, err
	}
	name := r.PathValue("topic")
	cfgs, err := a.describeConfigs(r.Context(), name, -1)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"topic": name, "configs": cfgs}, nil
}

func (a *restAPI) alterTopicConfigs(r *http.Request, adm *kadm.Client) (int, any, error) {
	var b alterConfigsBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	ops, err := b.ops()
	if err != nil {
		return 0, nil, err
	}
	name := r.PathValue("topic")
	alter := adm.AlterTopicConfigs
	if b.ValidateOnly {
		alter = adm.ValidateAlterTopicConfigs
	}
	res, err := alter(r.Context(), ops, name)
	if err != nil {
		return 0, nil, err
	}
	if err := alterError(res, name); err != nil {
		return 0, nil, err
	}
	cfgs, err := a.describeConfigs(r.Context(), name, -1)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"topic": name, "validate_only": b.ValidateOnly, "configs": cfgs}, nil
}

func alterError(res kadm.AlterConfigsResponses, topic string) error {
	for _, rr := range res {
		if errors.Is(rr.Err, kerr.UnknownTopicOrPartition) {
			return notFound("topic %s does not exist", topic)
		}
		if rr.Err != nil {
			return fromKafka(rr.Err, "set", rr.ErrMessage)
		}
	}
	return nil
}

func brokerID(r *http.Request) (int32, error) {
	s := r.PathValue("id")
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < 0 {
		return 0, badRequest("id", "%q is not a broker id", s)
	}
	return int32(n), nil
}

// knownBroker answers 404 for a broker id the cluster does not have.
func knownBroker(ctx context.Context, adm *kadm.Client, id int32) error {
	bs, err := adm.ListBrokers(ctx)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(bs, func(b kadm.BrokerDetail) bool { return b.NodeID == id }) {
		return notFound("broker %d does not exist (brokers: %v)", id, bs.NodeIDs())
	}
	return nil
}

func (a *restAPI) brokerConfigs(r *http.Request, adm *kadm.Client) (int, any, error) {
	if err := queryParams(r); err != nil {
		return 0, nil, err
	}
	id, err := brokerID(r)
	if err != nil {
		return 0, nil, err
	}
	if err := knownBroker(r.Context(), adm, id); err != nil {
		return 0, nil, err
	}
	cfgs, err := a.describeConfigs(r.Context(), "", id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"broker": id, "configs": cfgs}, nil
}

func (a *restAPI) alterBrokerConfigs(r *http.Request, adm *kadm.Client) (int, any, error) {
	id, err := brokerID(r)
	if err != nil {
		return 0, nil, err
	}
	var b alterConfigsBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	ops, err := b.ops()
	if err != nil {
		return 0, nil, err
	}
	if err := knownBroker(r.Context(), adm, id); err != nil {
		return 0, nil, err
	}
	alter := adm.AlterBrokerConfigs
	if b.ValidateOnly {
		alter = adm.ValidateAlterBrokerConfigs
	}
	res, err := alter(r.Context(), ops, id)
	if err != nil {
		return 0, nil, err
	}
	if err := alterError(res, ""); err != nil {
		return 0, nil, err
	}
	cfgs, err := a.describeConfigs(r.Context(), "", id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"broker": id, "validate_only": b.ValidateOnly, "configs": cfgs}, nil
}

// --- groups --------------------------------------------------------------

type groupSummary struct {
	Group        string `json:"group"`
	State        string `json:"state"`
	ProtocolType string `json:"protocol_type"`
	Members      int    `json:"members"`
	TotalLag     int64  `json:"total_lag"`
}

func (a *restAPI) listGroups(r *http.Request, adm *kadm.Client) (int, any, error) {
	if err := queryParams(r); err != nil {
		return 0, nil, err
	}
	listed, err := adm.ListGroups(r.Context())
	if err != nil {
		return 0, nil, err
	}
	out := []groupSummary{}
	if len(listed) > 0 {
		lags, err := adm.Lag(r.Context(), listed.Groups()...)
		if err != nil {
			return 0, nil, err
		}
		for _, l := range listed.Sorted() {
			g := groupSummary{Group: l.Group, State: l.State, ProtocolType: l.ProtocolType}
			if dl, ok := lags[l.Group]; ok {
				g.Members = len(dl.Members)
				g.TotalLag = max(dl.Lag.Total(), 0)
				if dl.State != "" {
					g.State = dl.State
				}
			}
			out = append(out, g)
		}
	}
	return http.StatusOK, map[string]any{"groups": out}, nil
}

type groupMember struct {
	MemberID   string           `json:"member_id"`
	InstanceID string           `json:"instance_id,omitempty"`
	ClientID   string           `json:"client_id"`
	Host       string           `json:"host"`
	Assigned   []topicPartition `json:"assignments"`
}

type topicPartition struct {
	Topic      string  `json:"topic"`
	Partitions []int32 `json:"partitions"`
}

type partitionLag struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Committed *int64 `json:"committed_offset"` // null: nothing committed
	End       int64  `json:"log_end_offset"`
	Lag       *int64 `json:"lag"`
	MemberID  string `json:"member_id,omitempty"`
	Error     string `json:"error,omitempty"`
}

type groupDetail struct {
	Group        string         `json:"group"`
	State        string         `json:"state"`
	ProtocolType string         `json:"protocol_type"`
	Protocol     string         `json:"protocol"`
	Coordinator  int32          `json:"coordinator"`
	Members      []groupMember  `json:"members"`
	Partitions   []partitionLag `json:"partitions"`
	TotalLag     int64          `json:"total_lag"`
}

func (a *restAPI) describeGroup(r *http.Request, adm *kadm.Client) (int, any, error) {
	if err := queryParams(r); err != nil {
		return 0, nil, err
	}
	name := r.PathValue("group")
	lags, err := adm.Lag(r.Context(), name)
	if err != nil {
		return 0, nil, err
	}
	l, ok := lags[name]
	if !ok || errors.Is(l.DescribeErr, kerr.GroupIDNotFound) || (l.DescribeErr == nil && l.State == "Dead") {
		return 0, nil, notFound("group %s does not exist", name)
	}
	if l.DescribeErr != nil {
		return 0, nil, fromKafka(l.DescribeErr, "group", "")
	}
	if l.FetchErr != nil {
		return 0, nil, fromKafka(l.FetchErr, "group", "")
	}
	d := groupDetail{Group: name, State: l.State, ProtocolType: l.ProtocolType, Protocol: l.Protocol,
		Coordinator: l.Coordinator.NodeID, Members: []groupMember{}, Partitions: []partitionLag{}}
	for _, m := range l.Members {
		gm := groupMember{MemberID: m.MemberID, InstanceID: deref(m.InstanceID), ClientID: m.ClientID, Host: m.ClientHost, Assigned: []topicPartition{}}
		if c, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range c.Topics {
				ps := slices.Clone(t.Partitions)
				slices.Sort(ps)
				gm.Assigned = append(gm.Assigned, topicPartition{Topic: t.Topic, Partitions: ps})
			}
		}
		d.Members = append(d.Members, gm)
	}
	for _, ml := range l.Lag.Sorted() {
		committed := ml.Commit.At >= 0
		if ml.Member == nil && !committed {
			continue // a partition of a committed topic nobody reads or committed
		}
		pl := partitionLag{Topic: ml.Topic, Partition: ml.Partition, End: ml.End.Offset}
		if committed {
			c := ml.Commit.At
			pl.Committed = &c
			if ml.Err == nil && ml.Lag >= 0 {
				lag := ml.Lag
				pl.Lag = &lag
				d.TotalLag += lag
			}
		}
		if ml.Member != nil {
			pl.MemberID = ml.Member.MemberID
		}
		if ml.Err != nil {
			pl.Error = ml.Err.Error()
		}
		d.Partitions = append(d.Partitions, pl)
	}
	return http.StatusOK, d, nil
}

func (a *restAPI) deleteGroup(r *http.Request, adm *kadm.Client) (int, any, error) {
	if err := queryParams(r); err != nil {
		return 0, nil, err
	}
	name := r.PathValue("group")
	rs, err := adm.DeleteGroups(r.Context(), name)
	if err != nil {
		return 0, nil, err
	}
	res, ok := rs[name]
	if !ok {
		return 0, nil, fmt.Errorf("the broker's answer did not mention group %s", name)
	}
	switch {
	case errors.Is(res.Err, kerr.GroupIDNotFound):
		return 0, nil, notFound("group %s does not exist", name)
	case errors.Is(res.Err, kerr.NonEmptyGroup):
		return 0, nil, conflict("group %s has active members; stop its consumers first", name)
	case res.Err != nil:
		return 0, nil, fromKafka(res.Err, "group", res.ErrMessage)
	}
	return http.StatusNoContent, nil, nil
}

type resetBody struct {
	To         string   `json:"to"`
	Offset     *int64   `json:"offset"`
	Timestamp  string   `json:"timestamp"`
	Topics     []string `json:"topics"`
	Partitions []int32  `json:"partitions"`
	DryRun     bool     `json:"dry_run"`
}

func (a *restAPI) resetOffsets(r *http.Request, adm *kadm.Client) (int, any, error) {
	var b resetBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if b.To == "" {
		return 0, nil, badRequest("to", "is required: earliest, latest, timestamp or offset")
	}
	target := clientops.ResetTarget{Kind: b.To}
	if err := clientops.ParseResetKind(b.To); err != nil {
		return 0, nil, badRequest("to", "%v", err)
	}
	switch b.To {
	case "offset":
		if b.Offset == nil {
			return 0, nil, badRequest("offset", "is required with \"to\": \"offset\"")
		}
		target.Value = *b.Offset
	case "timestamp":
		if b.Timestamp == "" {
			return 0, nil, badRequest("timestamp", "is required with \"to\": \"timestamp\" (RFC 3339 or epoch milliseconds)")
		}
		ts, err := parseTime(b.Timestamp, "timestamp")
		if err != nil {
			return 0, nil, err
		}
		target.Value = ts.UnixMilli()
	}
	if len(b.Partitions) > 0 && len(b.Topics) != 1 {
		return 0, nil, badRequest("partitions", "needs exactly one topic in \"topics\"")
	}
	name := r.PathValue("group")
	scope := clientops.ResetScope{Topics: b.Topics, Partitions: b.Partitions}
	changes, err := clientops.ResetOffsets(r.Context(), adm, name, scope, target, b.DryRun)
	if err != nil {
		return 0, nil, fromReset(err)
	}
	return http.StatusOK, map[string]any{"group": name, "dry_run": b.DryRun, "partitions": changes}, nil
}
