// Package clientops holds the operations that Chronik's own tools perform as
// Kafka clients of a broker: the CLI and the REST API both call them, so a
// reset through `chronik group reset` and one through the console behave the
// same, and both behave as kafka-consumer-groups.sh does.
package clientops

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
)

// ResetTarget says where a reset moves a group's offsets.
type ResetTarget struct {
	// Kind is one of "earliest", "latest", "timestamp" or "offset".
	Kind string
	// Value is the timestamp in Unix milliseconds for "timestamp" and the
	// offset for "offset" (clamped into the partition's range).
	Value int64
}

// ParseResetKind checks a target kind given by a user.
func ParseResetKind(kind string) error {
	switch kind {
	case "earliest", "latest", "timestamp", "offset":
		return nil
	}
	return fmt.Errorf("unknown reset target %q (want earliest, latest, timestamp or offset)", kind)
}

// ResetScope says which partitions a reset covers: the given topics (all
// their partitions, or only Partitions when set), or, when Topics is empty,
// every partition the group has committed offsets for.
type ResetScope struct {
	Topics     []string
	Partitions []int32
}

// OffsetChange is one partition's committed offset before and after a reset;
// Old is -1 when the group had no offset there.
type OffsetChange struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Old       int64  `json:"old_offset"`
	New       int64  `json:"new_offset"`
}

var (
	// ErrGroupActive is returned when the group has members: Kafka only
	// lets offsets of an inactive group be reset.
	ErrGroupActive = errors.New("group is active")
	// ErrNothingToReset means the scope named no partition.
	ErrNothingToReset = errors.New("nothing to reset")
	// ErrUnknownTopic is returned for a topic in the scope that does not exist.
	ErrUnknownTopic = errors.New("unknown topic")
)

// ResetOffsets moves the committed offsets of group in scope to target, or
// only computes the changes when dryRun is set. The group must have no
// members.
func ResetOffsets(ctx context.Context, adm *kadm.Client, group string, scope ResetScope, target ResetTarget, dryRun bool) ([]OffsetChange, error) {
	if err := ParseResetKind(target.Kind); err != nil {
		return nil, err
	}
	described, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return nil, err
	}
	if d, ok := described[group]; ok {
		if d.Err != nil {
			return nil, d.Err
		}
		if d.State != "Empty" && d.State != "Dead" && d.State != "" {
			return nil, fmt.Errorf("%w: group %s is %s with %d member(s); stop its consumers first", ErrGroupActive, group, d.State, len(d.Members))
		}
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return nil, err
	}
	if err := committed.Error(); err != nil {
		return nil, err
	}

	topics := scope.Topics
	if len(topics) == 0 {
		for t := range committed {
			topics = append(topics, t)
		}
	}
	if len(topics) == 0 {
		return nil, fmt.Errorf("%w: group %s has no committed offsets; name the topics", ErrNothingToReset, group)
	}
	slices.Sort(topics)

	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, err
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, err
	}
	var byTime kadm.ListedOffsets
	if target.Kind == "timestamp" {
		if byTime, err = adm.ListOffsetsAfterMilli(ctx, target.Value, topics...); err != nil {
			return nil, err
		}
	}
	for _, t := range topics {
		if _, ok := ends[t]; !ok {
			return nil, fmt.Errorf("%w: %s", ErrUnknownTopic, t)
		}
	}
	if err := ends.Error(); err != nil {
		if strings.Contains(err.Error(), "UNKNOWN_TOPIC_OR_PARTITION") {
			return nil, fmt.Errorf("%w: %v", ErrUnknownTopic, err)
		}
		return nil, err
	}

	var changes []OffsetChange
	commit := kadm.Offsets{}
	for _, t := range topics {
		// With no topics named, only the partitions the group
		// committed are in scope.
		_, named := committed[t]
		for p, end := range ends[t] {
			if len(scope.Partitions) > 0 && !slices.Contains(scope.Partitions, p) {
				continue
			}
			old, had := committed.Lookup(t, p)
			if len(scope.Topics) == 0 && named && !had {
				continue
			}
			start := starts[t][p].Offset
			var to int64
			switch target.Kind {
			case "earliest":
				to = start
			case "latest":
				to = end.Offset
			case "timestamp":
				to = byTime[t][p].Offset
				if to < 0 { // no record at or after the time
					to = end.Offset
				}
			case "offset":
				to = min(max(target.Value, start), end.Offset)
			}
			c := OffsetChange{Topic: t, Partition: p, Old: -1, New: to}
			if had {
				c.Old = old.At
			}
			changes = append(changes, c)
			commit.Add(kadm.Offset{Topic: t, Partition: p, At: to, LeaderEpoch: -1})
		}
	}
	if len(changes) == 0 {
		return nil, fmt.Errorf("%w: no partition matches", ErrNothingToReset)
	}
	slices.SortFunc(changes, func(a, b OffsetChange) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	})
	if dryRun {
		return changes, nil
	}
	resp, err := adm.CommitOffsets(ctx, group, commit)
	if err != nil {
		return nil, err
	}
	if err := resp.Error(); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return changes, nil
}
