package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/server"
	"github.com/chronik-streaming/chronik/internal/topics"
)

func handleCreateTopics(h *Handler, _ context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.CreateTopicsRequest)
	resp := r.ResponseKind().(*kmsg.CreateTopicsResponse)

	seen := map[string]int{}
	for _, rt := range r.Topics {
		seen[rt.Topic]++
	}
	for _, rt := range r.Topics {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		st.NumPartitions = -1
		st.ReplicationFactor = -1
		fail := func(code int16, err error) {
			st.ErrorCode = code
			st.ErrorMessage = errorMessage(err)
			resp.Topics = append(resp.Topics, st)
		}
		if seen[rt.Topic] > 1 {
			fail(kerr.InvalidRequest.Code, fmt.Errorf("topic %s appears more than once in the request", rt.Topic))
			continue
		}
		spec := topics.CreateSpec{
			Name:              rt.Topic,
			Partitions:        rt.NumPartitions,
			ReplicationFactor: rt.ReplicationFactor,
			Configs:           map[string]string{},
			ValidateOnly:      r.ValidateOnly,
		}
		if len(rt.ReplicaAssignment) > 0 {
			if rt.NumPartitions != -1 || rt.ReplicationFactor != -1 {
				fail(kerr.InvalidRequest.Code, errors.New("both a replica assignment and partitions/replication factor were given"))
				continue
			}
			if err := h.checkAssignment(rt.ReplicaAssignment); err != nil {
				fail(kerr.InvalidReplicaAssignment.Code, err)
				continue
			}
			spec.Partitions = int32(len(rt.ReplicaAssignment))
			spec.ReplicationFactor = 1
		}
		for _, c := range rt.Configs {
			if c.Value == nil {
				fail(kerr.InvalidConfig.Code, fmt.Errorf("config %s has a null value", c.Name))
				goto next
			}
			spec.Configs[c.Name] = *c.Value
		}
		{
			t, err := h.topics.Create(spec)
			if err != nil {
				fail(errorCode(err), err)
				continue
			}
			st.TopicID = t.ID
			st.NumPartitions = spec.Partitions
			if spec.Partitions == -1 {
				st.NumPartitions = h.cfg.Consumer.NumPartitions
			}
			st.ReplicationFactor = 1
			if r.Version >= 5 {
				for _, c := range h.describeTopicConfigs(spec.Configs, nil, false, false) {
					rc := kmsg.NewCreateTopicsResponseTopicConfig()
					rc.Name = c.Name
					rc.Value = c.Value
					rc.ReadOnly = c.ReadOnly
					rc.Source = int8(c.Source)
					rc.IsSensitive = c.IsSensitive
					st.Configs = append(st.Configs, rc)
				}
			}
			resp.Topics = append(resp.Topics, st)
		}
	next:
	}
	return server.Respond(resp), nil
}

// checkAssignment accepts manual assignments that only name this node, once.
func (h *Handler) checkAssignment(as []kmsg.CreateTopicsRequestTopicReplicaAssignment) error {
	for i, a := range as {
		if a.Partition != int32(i) {
			return fmt.Errorf("partitions in the assignment must be 0..%d in order", len(as)-1)
		}
		if len(a.Replicas) != 1 || a.Replicas[0] != h.broker.NodeID {
			return fmt.Errorf("partition %d: replicas %v; the only broker is %d", a.Partition, a.Replicas, h.broker.NodeID)
		}
	}
	return nil
}
