package kafka

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/server"
	"github.com/chronik-streaming/chronik/internal/topics"
)

// authorizedOpsNotRequested is what Kafka sends when the client did not ask.
const authorizedOpsNotRequested = -2147483648

// Without an authorizer every operation is allowed. Bits are Kafka's ACL
// operation codes: READ 3, WRITE 4, CREATE 5, DELETE 6, ALTER 7, DESCRIBE 8,
// DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11 (topics); cluster adds CLUSTER_ACTION
// 9, IDEMPOTENT_WRITE 12, CREATE_TOKENS 13, DESCRIBE_TOKENS 14.
const (
	topicAllOps   = 1<<3 | 1<<4 | 1<<5 | 1<<6 | 1<<7 | 1<<8 | 1<<10 | 1<<11
	clusterAllOps = 1<<5 | 1<<7 | 1<<8 | 1<<9 | 1<<10 | 1<<11 | 1<<12 | 1<<13 | 1<<14
)

func handleMetadata(h *Handler, _ context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.MetadataRequest)
	resp := r.ResponseKind().(*kmsg.MetadataResponse)
	resp.Brokers = []kmsg.MetadataResponseBroker{{NodeID: h.broker.NodeID, Host: h.broker.Host, Port: h.broker.Port}}
	resp.ClusterID = &h.broker.ClusterID
	resp.ControllerID = h.broker.NodeID
	resp.AuthorizedOperations = authorizedOpsNotRequested
	if r.IncludeClusterAuthorizedOperations {
		resp.AuthorizedOperations = clusterAllOps
	}

	// v0: an empty list means all topics; v1+: null means all, empty none.
	all := r.Topics == nil || (r.Version == 0 && len(r.Topics) == 0)
	if all {
		for _, t := range h.topics.List() {
			resp.Topics = append(resp.Topics, h.topicMetadata(r, t))
		}
		return server.Respond(resp), nil
	}
	autoCreate := h.cfg.Consumer.AutoCreateTopics && (r.Version < 4 || r.AllowAutoTopicCreation)
	for _, rt := range r.Topics {
		var t *topics.Topic
		var ok bool
		switch {
		case rt.Topic != nil:
			t, ok = h.topics.Get(*rt.Topic)
			if !ok && autoCreate {
				var err error
				t, err = h.topics.Create(topics.CreateSpec{Name: *rt.Topic, Partitions: -1, ReplicationFactor: -1})
				ok = err == nil
				if errors.Is(err, topics.ErrTopicExists) {
					t, ok = h.topics.Get(*rt.Topic)
				} else if err != nil {
					resp.Topics = append(resp.Topics, missingTopic(rt, errorCode(err)))
					continue
				}
			}
		case rt.TopicID != [16]byte{}:
			if t, ok = h.topics.GetByID(rt.TopicID); !ok {
				resp.Topics = append(resp.Topics, missingTopic(rt, kerr.UnknownTopicID.Code))
				continue
			}
		}
		if !ok {
			code := kerr.UnknownTopicOrPartition.Code
			if rt.Topic != nil && topics.ValidateName(*rt.Topic) != nil {
				code = kerr.InvalidTopicException.Code
			}
			resp.Topics = append(resp.Topics, missingTopic(rt, code))
			continue
		}
		resp.Topics = append(resp.Topics, h.topicMetadata(r, t))
	}
	return server.Respond(resp), nil
}

func missingTopic(rt kmsg.MetadataRequestTopic, code int16) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	mt.Topic = rt.Topic
	mt.TopicID = rt.TopicID
	mt.ErrorCode = code
	mt.AuthorizedOperations = authorizedOpsNotRequested
	return mt
}

func (h *Handler) topicMetadata(r *kmsg.MetadataRequest, t *topics.Topic) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.Name
	mt.Topic = &name
	mt.TopicID = t.ID
	mt.AuthorizedOperations = authorizedOpsNotRequested
	if r.IncludeTopicAuthorizedOperations {
		mt.AuthorizedOperations = topicAllOps
	}
	node := []int32{h.broker.NodeID}
	for _, p := range h.topics.Partitions(t) {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = p.Index
		mp.Leader = h.broker.NodeID
		mp.LeaderEpoch = p.Log.LeaderEpoch()
		mp.Replicas = node
		mp.ISR = node
		mp.OfflineReplicas = []int32{}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}
