package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	plog "github.com/chronik-streaming/chronik/internal/log"
	"github.com/chronik-streaming/chronik/internal/offsets"
	"github.com/chronik-streaming/chronik/internal/topics"
	"github.com/chronik-streaming/chronik/internal/txn"
)

// markerWriter writes transaction markers into the partition logs for the
// transaction coordinator (txn.MarkerWriter).
type markerWriter struct {
	topics *topics.Manager
	logger *slog.Logger
}

// WriteMarkers appends the COMMIT/ABORT marker of producerID at epoch to
// every partition and waits until each is durable. AppendMarker is
// idempotent on re-drive (a Duplicate answer); durability is awaited for
// duplicates too, since the earlier attempt may not have been synced.
// Partitions that no longer exist are skipped.
func (w markerWriter) WriteMarkers(ctx context.Context, producerID int64, epoch int16, commit bool, partitions []txn.TP) error {
	for _, tp := range partitions {
		p, err := w.topics.Partition(tp.Topic, tp.Partition)
		if err != nil {
			if errors.Is(err, topics.ErrUnknownTopic) {
				w.logger.Warn("transaction marker skipped: partition no longer exists",
					"topic", tp.Topic, "partition", tp.Partition, "producer_id", producerID, "commit", commit)
				continue
			}
			return err
		}
		res, err := p.Log.AppendMarker(producerID, epoch, commit, 0)
		if errors.Is(err, plog.ErrClosed) && ctx.Err() == nil {
			if _, lerr := w.topics.Partition(tp.Topic, tp.Partition); errors.Is(lerr, topics.ErrUnknownTopic) {
				w.logger.Warn("transaction marker skipped: partition deleted",
					"topic", tp.Topic, "partition", tp.Partition, "producer_id", producerID, "commit", commit)
				continue
			}
		}
		if err != nil {
			return fmt.Errorf("marker for %s/%d: %w", tp.Topic, tp.Partition, err)
		}
		if err := p.Log.WaitDurable(ctx, res.LastOffset+1); err != nil {
			return fmt.Errorf("marker for %s/%d: %w", tp.Topic, tp.Partition, err)
		}
	}
	return nil
}

// offsetMaterializer completes pending transactional offsets
// (txn.OffsetMaterializer).
type offsetMaterializer struct{ store *offsets.Store }

func (m offsetMaterializer) CompleteTxnOffsets(producerID int64, groups []string, commit bool) error {
	return m.store.CompleteTxnOffsets(producerID, groups, commit)
}
