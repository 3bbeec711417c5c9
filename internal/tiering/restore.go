package tiering

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"

	plog "github.com/chronik-streaming/chronik/internal/log"
	"github.com/chronik-streaming/chronik/internal/meta"
	"github.com/chronik-streaming/chronik/internal/offsets"
	"github.com/chronik-streaming/chronik/internal/tier"
	"github.com/chronik-streaming/chronik/internal/topics"
)

// metadataObject is the name of the cluster metadata in the bucket.
const metadataObject = "cluster.json"

// Snapshot is the cluster metadata kept in the bucket: what a broker on an
// empty data directory needs besides the partitions' manifests.
type Snapshot struct {
	Version         int                          `json:"version"`
	Topics          []meta.TopicRecord           `json:"topics"`
	BrokerConfigs   map[string]string            `json:"broker_configs,omitempty"`
	ProducerIDFloor int64                        `json:"producer_id_floor"`
	Offsets         map[string][]CommittedOffset `json:"offsets,omitempty"` // by group
}

// CommittedOffset is one committed offset of a group.
type CommittedOffset struct {
	Topic       string `json:"topic"`
	Partition   int32  `json:"partition"`
	Offset      int64  `json:"offset"`
	LeaderEpoch int32  `json:"leader_epoch"`
	Metadata    string `json:"metadata,omitempty"`
}

// TakeSnapshot collects the cluster metadata to store.
func TakeSnapshot(store meta.Store, tm *topics.Manager, offs *offsets.Store) ([]byte, error) {
	recs, err := store.Topics()
	if err != nil {
		return nil, err
	}
	floor, err := store.ProducerIDFloor()
	if err != nil {
		return nil, err
	}
	s := Snapshot{Version: 1, Topics: recs, BrokerConfigs: tm.DynamicBrokerConfigs(), ProducerIDFloor: floor,
		Offsets: map[string][]CommittedOffset{}}
	for _, g := range offs.Groups() {
		for tp, c := range offs.FetchGroup(g) {
			s.Offsets[g] = append(s.Offsets[g], CommittedOffset{Topic: tp.Topic, Partition: tp.Partition, Offset: c.Offset, LeaderEpoch: c.LeaderEpoch, Metadata: c.Metadata})
		}
	}
	// Sorted, so that equal metadata gives equal bytes (the manager
	// uploads only changes).
	for _, list := range s.Offsets {
		slices.SortFunc(list, func(a, b CommittedOffset) int {
			if a.Topic != b.Topic {
				return strings.Compare(a.Topic, b.Topic)
			}
			return int(a.Partition - b.Partition)
		})
	}
	slices.SortFunc(s.Topics, func(a, b meta.TopicRecord) int { return strings.Compare(a.Name, b.Name) })
	return json.Marshal(s)
}

// producerIDMargin is added to the restored producer-id floor: ids handed
// out after the last metadata upload may be in the uploaded data.
const producerIDMargin = 1 << 20

// Restored is what Restore brought back, for the steps that need the
// broker's other stores open.
type Restored struct {
	Topics  int
	Offsets map[string][]CommittedOffset
	// Epochs are the leader epochs to start restored partitions at (one
	// above the last uploaded), by partition directory.
	Epochs map[string]int32
}

// Restore rebuilds an empty data directory from the bucket: topic records
// (names, ids, partitions, configs), dynamic broker configs and the
// producer-id floor go into the metadata store; every partition directory
// is prepared to continue after the last offset its manifest holds, so no
// uploaded offset is ever reused. It does nothing (nil, nil) when the
// store already has topics or the bucket has no metadata. Committed offsets
// and leader epochs are returned for ApplyRestored.
func Restore(ctx context.Context, bucket *tier.Store, store meta.Store, dataDir string, logger *slog.Logger) (*Restored, error) {
	have, err := store.Topics()
	if err != nil {
		return nil, err
	}
	if len(have) > 0 {
		return nil, nil
	}
	data, err := bucket.GetMeta(ctx, metadataObject)
	if errors.Is(err, tier.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read cluster metadata from %s: %w", bucket, err)
	}
	var snap Snapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		return nil, fmt.Errorf("cluster metadata in %s: %w", bucket, err)
	}
	out := &Restored{Offsets: snap.Offsets, Epochs: map[string]int32{}}
	for _, rec := range snap.Topics {
		for p := int32(0); p < rec.Partitions; p++ {
			man, err := bucket.ReadManifest(ctx, rec.ID, p)
			if err != nil {
				return nil, fmt.Errorf("restore %s-%d: %w", rec.Name, p, err)
			}
			dir := topics.PartitionDir(dataDir, rec.Name, p)
			if err := os.RemoveAll(dir); err != nil {
				return nil, err
			}
			end, epoch := int64(0), int32(-1)
			if man != nil && len(man.Segments) > 0 {
				last := man.Segments[len(man.Segments)-1]
				end, epoch = last.NextOffset, last.LeaderEpoch
			}
			if err := plog.PrepareStart(dir, end); err != nil {
				return nil, fmt.Errorf("restore %s-%d: %w", rec.Name, p, err)
			}
			out.Epochs[dir] = epoch + 1
			logger.Info("partition restored from object storage", "topic", rec.Name, "partition", p, "next_offset", end)
		}
		if err := store.PutTopic(rec); err != nil {
			return nil, err
		}
		out.Topics++
	}
	if len(snap.BrokerConfigs) > 0 {
		byTopicName := map[string]string{}
		for name, v := range snap.BrokerConfigs {
			if d, ok := topics.BrokerSynonym(name); ok {
				byTopicName[d.Name] = v
			}
		}
		if err := store.PutBrokerConfigs(byTopicName); err != nil {
			return nil, err
		}
	}
	if err := store.RaiseProducerIDFloor(snap.ProducerIDFloor + producerIDMargin); err != nil {
		return nil, err
	}
	logger.Info("restored from object storage", "bucket", bucket.String(), "topics", out.Topics, "groups", len(snap.Offsets))
	return out, nil
}

// ApplyRestored commits the restored group offsets and bumps the restored
// partitions' leader epochs, once the stores are open.
func ApplyRestored(r *Restored, tm *topics.Manager, offs *offsets.Store, dataDir string) error {
	if r == nil {
		return nil
	}
	for _, t := range tm.List() {
		for _, p := range tm.Partitions(t) {
			if e, ok := r.Epochs[topics.PartitionDir(dataDir, t.Name, p.Index)]; ok && e > p.Log.LeaderEpoch() {
				p.Log.SetLeaderEpoch(e)
			}
		}
	}
	for g, list := range r.Offsets {
		m := map[offsets.TP]offsets.Committed{}
		for _, c := range list {
			m[offsets.TP{Topic: c.Topic, Partition: c.Partition}] = offsets.Committed{Offset: c.Offset, LeaderEpoch: c.LeaderEpoch, Metadata: c.Metadata}
		}
		if err := offs.Commit(g, m); err != nil {
			return fmt.Errorf("restore offsets of group %s: %w", g, err)
		}
	}
	return nil
}
