package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/server"
)

func handleDeleteTopics(h *Handler, _ context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.DeleteTopicsRequest)
	resp := r.ResponseKind().(*kmsg.DeleteTopicsResponse)

	type target struct {
		name *string
		id   [16]byte
	}
	var targets []target
	if r.Version >= 6 {
		for _, t := range r.Topics {
			targets = append(targets, target{t.Topic, t.TopicID})
		}
	} else {
		for _, n := range r.TopicNames {
			n := n
			targets = append(targets, target{name: &n})
		}
	}
	for _, tg := range targets {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic = tg.name
		st.TopicID = tg.id
		var name string
		switch {
		case tg.name != nil:
			name = *tg.name
			if t, ok := h.topics.Get(name); ok {
				st.TopicID = t.ID
			}
		case tg.id != [16]byte{}:
			t, ok := h.topics.GetByID(tg.id)
			if !ok {
				st.ErrorCode = kerr.UnknownTopicID.Code
				resp.Topics = append(resp.Topics, st)
				continue
			}
			name = t.Name
			st.Topic = &name
		default:
			st.ErrorCode = kerr.InvalidRequest.Code
			resp.Topics = append(resp.Topics, st)
			continue
		}
		if err := h.topics.Delete(name); err != nil {
			st.ErrorCode = errorCode(err)
			st.ErrorMessage = errorMessage(err)
		} else {
			if h.metrics != nil {
				h.metrics.TopicDeleted(name)
			}
			if err := h.offsets.DeleteTopic(name); err != nil {
				// The topic is gone; its offsets linger until the next delete.
				h.logger.Error("removing committed offsets of a deleted topic failed", "topic", name, "err", err)
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	return server.Respond(resp), nil
}
