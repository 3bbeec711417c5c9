package kafka

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/group"
	"github.com/chronik-streaming/chronik/internal/offsets"
	"github.com/chronik-streaming/chronik/internal/server"
)

// maxOffsetMetadataBytes is Kafka's offset.metadata.max.bytes default.
const maxOffsetMetadataBytes = 4096

func handleOffsetCommit(h *Handler, _ context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.OffsetCommitRequest)
	resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)

	// Every partition gets the same answer when the commit as a whole is
	// refused (wrong generation, unknown member, ...).
	// A consumer-protocol member (KIP-848) committing with an older member
	// epoch is checked per partition (validate).
	var groupErr error
	var validate group.PartitionValidator
	switch {
	case r.Group == "":
		groupErr = kerr.InvalidGroupID
	case r.Version >= 1:
		validate, groupErr = h.groups.ValidateOffsetCommit(group.CommitRequest{
			GroupID: r.Group, MemberID: r.MemberID, InstanceID: r.InstanceID, Epoch: r.Generation, Version: r.Version,
		})
	}

	now := time.Now()
	var expire time.Time
	if r.Version >= 2 && r.Version <= 4 && r.RetentionTimeMillis >= 0 {
		expire = now.Add(time.Duration(r.RetentionTimeMillis) * time.Millisecond)
	}
	commits := map[offsets.TP]offsets.Committed{}
	type slot struct{ code *int16 }
	var pending []slot

	resp.Topics = make([]kmsg.OffsetCommitResponseTopic, len(r.Topics))
	for ti, rt := range r.Topics {
		st := &resp.Topics[ti]
		*st = kmsg.NewOffsetCommitResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		name, topicErr := h.resolveTopic(r.Version >= 10, rt.Topic, rt.TopicID)
		st.Partitions = make([]kmsg.OffsetCommitResponseTopicPartition, len(rt.Partitions))
		for pi, rp := range rt.Partitions {
			sp := &st.Partitions[pi]
			*sp = kmsg.NewOffsetCommitResponseTopicPartition()
			sp.Partition = rp.Partition
			switch {
			case groupErr != nil:
				sp.ErrorCode = groupErrorCode(groupErr)
			case topicErr != nil:
				sp.ErrorCode = errorCode(topicErr)
			case rp.Metadata != nil && len(*rp.Metadata) > maxOffsetMetadataBytes:
				sp.ErrorCode = kerr.OffsetMetadataTooLarge.Code
			default:
				if _, err := h.topics.Partition(name, rp.Partition); err != nil {
					sp.ErrorCode = errorCode(err)
					continue
				}
				if validate != nil {
					id := rt.TopicID
					if t, ok := h.topics.Get(name); ok {
						id = t.ID
					}
					if err := validate(id, rp.Partition); err != nil {
						sp.ErrorCode = groupErrorCode(err)
						continue
					}
				}
				c := offsets.Committed{Offset: rp.Offset, LeaderEpoch: rp.LeaderEpoch, CommitTime: now, ExpireTime: expire}
				if r.Version < 6 {
					c.LeaderEpoch = -1
				}
				if rp.Metadata != nil {
					c.Metadata = *rp.Metadata
				}
				commits[offsets.TP{Topic: name, Partition: rp.Partition}] = c
				pending = append(pending, slot{&sp.ErrorCode})
			}
		}
	}
	if len(commits) > 0 {
		if err := h.offsets.Commit(r.Group, commits); err != nil {
			h.logger.Error("committing offsets failed", "group", r.Group, "err", err)
			for _, p := range pending {
				*p.code = kerr.KafkaStorageError.Code
			}
		} else {
			h.groups.Touch(r.Group)
		}
	}
	return server.Respond(resp), nil
}

// groupErrorCode maps coordinator errors to Kafka codes.
func groupErrorCode(err error) int16 {
	if err == nil {
		return 0
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	if code, ok := groupCodes[err]; ok {
		return code
	}
	for e, code := range groupCodes {
		if errors.Is(err, e) {
			return code
		}
	}
	return errorCode(err)
}
