package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/server"
)

// handleDescribeProducers lists the producers each partition remembers.
func handleDescribeProducers(h *Handler, _ context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.DescribeProducersRequest)
	resp := r.ResponseKind().(*kmsg.DescribeProducersResponse)
	for _, rt := range r.Topics {
		st := kmsg.NewDescribeProducersResponseTopic()
		st.Topic = rt.Topic
		for _, p := range rt.Partitions {
			sp := kmsg.NewDescribeProducersResponseTopicPartition()
			sp.Partition = p
			part, err := h.topics.Partition(rt.Topic, p)
			if err != nil {
				sp.ErrorCode, sp.ErrorMessage = errorCode(err), errorMessage(err)
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			sp.ActiveProducers = []kmsg.DescribeProducersResponseTopicPartitionActiveProducer{}
			for _, ap := range part.Log.ActiveProducers() {
				a := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
				a.ProducerID = ap.ProducerID
				a.ProducerEpoch = int32(ap.ProducerEpoch)
				a.LastSequence = ap.LastSequence
				a.LastTimestamp = ap.LastTimestamp
				a.CoordinatorEpoch = ap.CoordinatorEpoch
				a.CurrentTxnStartOffset = ap.CurrentTxnStartOffset
				sp.ActiveProducers = append(sp.ActiveProducers, a)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return server.Respond(resp), nil
}
