// Package kafka translates Kafka protocol requests into calls on Chronik's
// domain packages and their results back into responses. One file per API,
// named by its key; no storage logic lives here.
package kafka

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/config"
	"github.com/chronik-streaming/chronik/internal/group"
	"github.com/chronik-streaming/chronik/internal/offsets"
	"github.com/chronik-streaming/chronik/internal/server"
	"github.com/chronik-streaming/chronik/internal/topics"
	"github.com/chronik-streaming/chronik/internal/txn"
)

// Broker is the identity this node advertises.
type Broker struct {
	NodeID    int32
	Host      string
	Port      int32
	ClusterID string
}

// Handler serves every Kafka API Chronik implements.
type Handler struct {
	broker      Broker
	cfg         *config.Config
	topics      *topics.Manager
	producerIDs *txn.ProducerIDs
	txns        *txn.Coordinator
	groups      *group.Coordinator
	offsets     *offsets.Store
	logger      *slog.Logger
	storage     StorageObserver
	metrics     Metrics // nil records nothing
}

// Deps are the domain services the handlers call.
type Deps struct {
	Topics      *topics.Manager
	ProducerIDs *txn.ProducerIDs
	// Txns is the transaction coordinator; nil refuses transactional ids.
	Txns    *txn.Coordinator
	Groups  *group.Coordinator
	Offsets *offsets.Store
	// Metrics records data and wait metrics; nil records nothing.
	// internal/metrics implements it.
	Metrics Metrics
}

// Metrics hears what the handlers move and wait for. Its methods run on
// the produce and fetch paths, once per partition: they must be cheap and
// safe for concurrent use.
type Metrics interface {
	// Produced reports a batch appended to a partition: its bytes as the
	// client sent them, and its record count.
	Produced(topic string, partition int32, bytes, records int64)
	// Fetched reports record batches returned from a partition; records
	// are counted from the batch headers.
	Fetched(topic string, partition int32, bytes, records int64)
	// ProduceDurableWait reports how long a produce response waited for
	// its appends to become durable (acks=1 and acks=all).
	ProduceDurableWait(d time.Duration)
	// FetchWait reports how long a fetch waited in its long poll (0 when
	// answered at once); fetches with no wait (MaxWaitMillis 0) are not
	// reported.
	FetchWait(d time.Duration)
	// TopicDeleted reports a topic deleted, so its series can go.
	TopicDeleted(topic string)
}

// StorageObserver learns when appends fail for lack of storage and when
// they work again (the broker's /ready reports it).
type StorageObserver interface {
	StorageFailed(err error)
	StorageRecovered()
}

// SetStorageObserver sets who hears of storage failures.
func (h *Handler) SetStorageObserver(o StorageObserver) { h.storage = o }

// New returns a Handler.
func New(b Broker, cfg *config.Config, d Deps, logger *slog.Logger) *Handler {
	return &Handler{broker: b, cfg: cfg, topics: d.Topics, producerIDs: d.ProducerIDs, txns: d.Txns, groups: d.Groups, offsets: d.Offsets, logger: logger, metrics: d.Metrics}
}

type handleFunc func(h *Handler, ctx context.Context, req *server.Request) (server.Reply, error)

type api struct {
	min, max int16
	handle   handleFunc
}

// apis lists what Chronik implements: every version advertised here is
// handled completely. The floors are the oldest versions the clients still
// in use send (Debian's librdkafka 2.0.2, kafka-python 2.0.2). Produce v0-v2
// carry the old message formats, up-converted on append (librdkafka 2.0
// compresses with gzip/snappy only when Produce v0 is advertised); Fetch
// v0-v3 get the stored batches down-converted to magic 0 or 1.
var apis map[kmsg.Key]api

func init() {
	apis = map[kmsg.Key]api{
		kmsg.Produce:              {0, 13, handleProduce},
		kmsg.Fetch:                {0, 17, handleFetch},
		kmsg.ListOffsets:          {0, 11, handleListOffsets},
		kmsg.Metadata:             {0, 13, handleMetadata},
		kmsg.ApiVersions:          {0, 4, handleApiVersions},
		kmsg.CreateTopics:         {0, 7, handleCreateTopics},
		kmsg.DeleteTopics:         {0, 6, handleDeleteTopics},
		kmsg.InitProducerID:       {0, 5, handleInitProducerID},
		kmsg.OffsetForLeaderEpoch: {0, 4, handleOffsetForLeaderEpoch},
		kmsg.DescribeConfigs:      {0, 4, handleDescribeConfigs},
		kmsg.CreatePartitions:     {0, 3, handleCreatePartitions},
		kmsg.DeleteRecords:        {0, 2, handleDeleteRecords},
		kmsg.FindCoordinator:      {0, 5, handleFindCoordinator},
		kmsg.OffsetCommit:         {0, 10, handleOffsetCommit},
		kmsg.OffsetFetch:          {0, 10, handleOffsetFetch},
		kmsg.JoinGroup:            {0, 9, handleJoinGroup},
		kmsg.Heartbeat:            {0, 4, handleHeartbeat},
		kmsg.LeaveGroup:           {0, 5, handleLeaveGroup},
		kmsg.SyncGroup:            {0, 5, handleSyncGroup},
		kmsg.DescribeGroups:       {0, 6, handleDescribeGroups},
		kmsg.ListGroups:           {0, 5, handleListGroups},
		kmsg.DeleteGroups:         {0, 2, handleDeleteGroups},
		kmsg.OffsetDelete:         {0, 0, handleOffsetDelete},
		// Transactions (KIP-98), and transactions V2 (KIP-890: EndTxn
		// v5, TxnOffsetCommit v5 and Produce v12 with implicit adds; see
		// the transaction.version feature in ApiVersions). AddPartitionsToTxn
		// v4+ is the broker-to-coordinator form; TxnOffsetCommit v6
		// addresses topics by id.
		kmsg.AddPartitionsToTxn:   {0, 3, handleAddPartitionsToTxn},
		kmsg.AddOffsetsToTxn:      {0, 4, handleAddOffsetsToTxn},
		kmsg.EndTxn:               {0, 5, handleEndTxn},
		kmsg.TxnOffsetCommit:      {0, 5, handleTxnOffsetCommit},
		kmsg.DescribeProducers:    {0, 0, handleDescribeProducers},
		kmsg.DescribeTransactions: {0, 0, handleDescribeTransactions},
		kmsg.ListTransactions:     {0, 1, handleListTransactions},
		// KIP-848 consumer group protocol.
		kmsg.ConsumerGroupHeartbeat: {0, 1, handleConsumerGroupHeartbeat},
		kmsg.ConsumerGroupDescribe:  {0, 1, handleConsumerGroupDescribe},
		// Admin: configs (topic configs change live and persist; broker
		// configs are read-only, see broker_configs.go), the cluster and
		// its log dir, and the replication and security APIs answered as a
		// one-broker Kafka without an authorizer answers them.
		kmsg.AlterConfigs:               {0, 2, handleAlterConfigs},
		kmsg.IncrementalAlterConfigs:    {0, 1, handleIncrementalAlterConfigs},
		kmsg.DescribeCluster:            {0, 2, handleDescribeCluster},
		kmsg.DescribeLogDirs:            {0, 5, handleDescribeLogDirs},
		kmsg.DescribeTopicPartitions:    {0, 0, handleDescribeTopicPartitions},
		kmsg.ElectLeaders:               {0, 2, handleElectLeaders},
		kmsg.ListPartitionReassignments: {0, 0, handleListPartitionReassignments},
		kmsg.AlterPartitionAssignments:  {0, 1, handleAlterPartitionReassignments},
		kmsg.DescribeClientQuotas:       {0, 1, handleDescribeClientQuotas},
		kmsg.DescribeACLs:               {0, 3, handleDescribeACLs},
		kmsg.CreateACLs:                 {0, 3, handleCreateACLs},
		kmsg.DeleteACLs:                 {0, 3, handleDeleteACLs},
	}
}

// Versions implements server.Handler.
func (h *Handler) Versions(key int16) (int16, int16, bool) {
	a, ok := apis[kmsg.Key(key)]
	return a.min, a.max, ok
}

// Handle implements server.Handler.
func (h *Handler) Handle(ctx context.Context, req *server.Request) (server.Reply, error) {
	a, ok := apis[kmsg.Key(req.Header.APIKey)]
	if !ok {
		return nil, fmt.Errorf("unsupported api key %d", req.Header.APIKey)
	}
	return a.handle(h, ctx, req)
}

// ReleasesRequest implements server.FrameReleaser: a produce handler keeps
// nothing of its request once Handle returns (appends are written by then),
// so its large frames can be reused.
func (h *Handler) ReleasesRequest(key int16) bool { return key == int16(kmsg.Produce) }

// supportedAPIs returns the advertised ranges, sorted by key.
func supportedAPIs() []kmsg.ApiVersionsResponseApiKey {
	out := make([]kmsg.ApiVersionsResponseApiKey, 0, len(apis))
	for k, a := range apis {
		out = append(out, kmsg.ApiVersionsResponseApiKey{ApiKey: int16(k), MinVersion: a.min, MaxVersion: a.max})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ApiKey < out[j].ApiKey })
	return out
}
