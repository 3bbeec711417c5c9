package kafka

import (
	"context"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/server"
)

// handleAlterPartitionReassignments answers per partition as Kafka's
// controller does on a one-broker cluster: the only valid target is this
// node alone, which is where every partition already is, so it succeeds
// and changes nothing; other targets are INVALID_REPLICA_ASSIGNMENT (an
// empty list, a broker named twice, a broker that does not exist);
// cancelling (null replicas) is NO_REASSIGNMENT_IN_PROGRESS, since none
// ever runs; unknown partitions are UNKNOWN_TOPIC_OR_PARTITION.
func handleAlterPartitionReassignments(h *Handler, _ context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.AlterPartitionAssignmentsRequest)
	resp := r.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	resp.AllowReplicationFactorChange = r.AllowReplicationFactorChange
	for _, rt := range r.Topics {
		st := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		st.Topic = rt.Topic
		_, known := h.topics.Get(rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			sp.Partition = rp.Partition
			fail := func(code *kerr.Error, err error) {
				sp.ErrorCode = code.Code
				sp.ErrorMessage = errorMessage(err)
			}
			if _, err := h.topics.Partition(rt.Topic, rp.Partition); err != nil {
				if !known {
					fail(kerr.UnknownTopicOrPartition, fmt.Errorf("unable to find a topic named %s", rt.Topic))
				} else {
					fail(kerr.UnknownTopicOrPartition, fmt.Errorf("unable to find partition %s:%d", rt.Topic, rp.Partition))
				}
			} else if rp.Replicas == nil {
				fail(kerr.NoReassignmentInProgress, fmt.Errorf("no partition reassignment is in progress"))
			} else if err := h.checkReplicas(rp.Replicas); err != nil {
				fail(kerr.InvalidReplicaAssignment, err)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return server.Respond(resp), nil
}

// checkReplicas validates a target replica list as Kafka's
// validateManualPartitionAssignment does, in broker id order.
func (h *Handler) checkReplicas(replicas []int32) error {
	if len(replicas) == 0 {
		return fmt.Errorf("the manual partition assignment includes an empty replica list")
	}
	sorted := slices.Sorted(slices.Values(replicas))
	for i, id := range sorted {
		if id != h.broker.NodeID {
			return fmt.Errorf("the manual partition assignment includes broker %d, but no such broker is registered (the only broker is %d)", id, h.broker.NodeID)
		}
		if i > 0 && sorted[i-1] == id {
			return fmt.Errorf("the manual partition assignment includes the broker %d more than once", id)
		}
	}
	return nil
}
