package kafka

import (
	"context"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/offsets"
	"github.com/chronik-streaming/chronik/internal/server"
)

func handleOffsetFetch(h *Handler, _ context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.OffsetFetchRequest)
	resp := r.ResponseKind().(*kmsg.OffsetFetchResponse)
	byID := r.Version >= 10
	if r.Version >= 8 {
		for _, g := range r.Groups {
			rg := kmsg.NewOffsetFetchResponseGroup()
			rg.Group = g.Group
			// v9+ (KIP-848): a consumer-protocol member's id and epoch are
			// checked; on error the group carries it and no topics.
			if r.Version >= 9 {
				if err := h.groups.ValidateOffsetFetch(g.Group, g.MemberID, g.MemberEpoch); err != nil {
					rg.ErrorCode = groupErrorCode(err)
					resp.Groups = append(resp.Groups, rg)
					continue
				}
			}
			var topics []fetchTopic
			if g.Topics != nil {
				topics = make([]fetchTopic, 0, len(g.Topics))
				for _, t := range g.Topics {
					topics = append(topics, fetchTopic{t.Topic, t.TopicID, t.Partitions})
				}
			}
			for _, t := range h.fetchOffsets(g.Group, topics, g.Topics == nil, byID, r.RequireStable) {
				gt := kmsg.NewOffsetFetchResponseGroupTopic()
				gt.Topic, gt.TopicID = t.name, t.id
				for _, p := range t.parts {
					gp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					gp.Partition, gp.Offset, gp.LeaderEpoch, gp.Metadata, gp.ErrorCode = p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode
					gt.Partitions = append(gt.Partitions, gp)
				}
				rg.Topics = append(rg.Topics, gt)
			}
			resp.Groups = append(resp.Groups, rg)
		}
		return server.Respond(resp), nil
	}
	var topics []fetchTopic
	if r.Topics != nil {
		for _, t := range r.Topics {
			topics = append(topics, fetchTopic{name: t.Topic, parts: t.Partitions})
		}
	}
	// v0 and v1 have no "all topics" form: a null list there is empty.
	all := r.Topics == nil && r.Version >= 2
	for _, t := range h.fetchOffsets(r.Group, topics, all, false, r.Version >= 7 && r.RequireStable) {
		rt := kmsg.NewOffsetFetchResponseTopic()
		rt.Topic = t.name
		for _, p := range t.parts {
			rp := kmsg.NewOffsetFetchResponseTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata, rp.ErrorCode = p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return server.Respond(resp), nil
}

type fetchTopic struct {
	name  string
	id    [16]byte
	parts []int32
}

type fetchedTopic struct {
	name  string
	id    [16]byte
	parts []kmsg.OffsetFetchResponseGroupTopicPartition
}

// fetchOffsets answers one group: the listed partitions (offset -1 when
// nothing is committed), or every committed partition when all is set.
// With requireStable (v7+, KIP-447) a partition with transactional offsets
// still pending answers UNSTABLE_OFFSET_COMMIT, which clients retry.
func (h *Handler) fetchOffsets(groupID string, topics []fetchTopic, all, byID, requireStable bool) []fetchedTopic {
	committed := h.offsets.FetchGroup(groupID)
	if all {
		byTopic := map[string][]int32{}
		for tp := range committed {
			byTopic[tp.Topic] = append(byTopic[tp.Topic], tp.Partition)
		}
		names := make([]string, 0, len(byTopic))
		for n := range byTopic {
			names = append(names, n)
		}
		sort.Strings(names)
		topics = topics[:0]
		for _, n := range names {
			ps := byTopic[n]
			sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
			ft := fetchTopic{name: n, parts: ps}
			if t, ok := h.topics.Get(n); ok {
				ft.id = t.ID
			}
			topics = append(topics, ft)
		}
	}
	var out []fetchedTopic
	for _, t := range topics {
		ft := fetchedTopic{name: t.name, id: t.id}
		name := t.name
		if byID && !all {
			if tt, ok := h.topics.GetByID(t.id); ok {
				name = tt.Name
			} else {
				name = ""
			}
		}
		for _, p := range t.parts {
			fp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
			fp.Partition, fp.Offset, fp.LeaderEpoch = p, -1, -1
			if byID && name == "" {
				fp.ErrorCode = kerr.UnknownTopicID.Code
			} else if requireStable && h.offsets.HasPendingTxnOffsets(groupID, offsets.TP{Topic: name, Partition: p}) {
				fp.ErrorCode = kerr.UnstableOffsetCommit.Code
			} else if c, ok := committed[offsets.TP{Topic: name, Partition: p}]; ok {
				fp.Offset, fp.LeaderEpoch = c.Offset, c.LeaderEpoch
				md := c.Metadata
				fp.Metadata = &md
			}
			if fp.Metadata == nil {
				empty := ""
				fp.Metadata = &empty
			}
			ft.parts = append(ft.parts, fp)
		}
		out = append(out, ft)
	}
	return out
}
