package kafka

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/topics"
)

// alterRequest is one resource of an AlterConfigs or IncrementalAlterConfigs
// request, in a form both share.
type alterRequest struct {
	typ  kmsg.ConfigResourceType
	name string
	ops  []topics.ConfigOp
	// nulls names configs given a null value where the operation needs
	// one; badOps describes operations that do not exist.
	nulls, badOps []string
}

type alterResult struct {
	code int16
	msg  *string
}

// alterConfigs checks and applies config changes per resource, as Kafka's
// ConfigAdminManager and controller do: a resource named twice, a key
// named twice within a resource, null values and unknown operations are
// INVALID_REQUEST; TOPIC resources change through the topic manager
// (atomically per resource: an invalid value is INVALID_CONFIG and
// changes nothing); BROKER resources change only their dynamic configs,
// the broker defaults of topic configs (see broker_configs.go): a request
// that changes any other is INVALID_REQUEST and changes nothing;
// BROKER_LOGGER (incremental only) likewise. replace selects the legacy
// AlterConfigs semantics: the listed configs become the whole set.
func (h *Handler) alterConfigs(reqs []alterRequest, replace, validateOnly bool) []alterResult {
	type key struct {
		typ  kmsg.ConfigResourceType
		name string
	}
	count := map[key]int{}
	for _, r := range reqs {
		count[key{r.typ, r.name}]++
	}
	out := make([]alterResult, len(reqs))
	for i, r := range reqs {
		fail := func(code int16, err error) { out[i] = alterResult{code: code, msg: errorMessage(err)} }
		if count[key{r.typ, r.name}] > 1 {
			fail(kerr.InvalidRequest.Code, fmt.Errorf("each resource must appear at most once"))
			continue
		}
		seen := map[string]bool{}
		dup := false
		for _, op := range r.ops {
			dup = dup || seen[op.Name]
			seen[op.Name] = true
		}
		switch {
		case dup:
			fail(kerr.InvalidRequest.Code, fmt.Errorf("error due to duplicate config keys"))
			continue
		case len(r.nulls) > 0:
			fail(kerr.InvalidRequest.Code, fmt.Errorf("null value not supported for: %s", strings.Join(r.nulls, ", ")))
			continue
		case len(r.badOps) > 0:
			fail(kerr.InvalidRequest.Code, fmt.Errorf("unknown operation types: %s", strings.Join(r.badOps, ", ")))
			continue
		}
		switch r.typ {
		case kmsg.ConfigResourceTypeTopic:
			if err := topics.ValidateName(r.name); err != nil {
				fail(kerr.InvalidTopicException.Code, err)
				continue
			}
			var err error
			if replace {
				set := make(map[string]string, len(r.ops))
				for _, op := range r.ops {
					set[op.Name] = op.Value
				}
				err = h.topics.ReplaceConfigs(r.name, set, validateOnly)
			} else {
				err = h.topics.AlterConfigs(r.name, r.ops, validateOnly)
			}
			if err != nil {
				fail(errorCode(err), err)
			}
		case kmsg.ConfigResourceTypeBroker:
			if r.name != "" {
				if err := h.checkBrokerID(r.name); err != nil {
					fail(kerr.InvalidRequest.Code, err)
					continue
				}
			}
			if len(r.ops) == 0 && !replace {
				continue
			}
			err := h.topics.AlterBrokerConfigs(r.ops, replace, validateOnly)
			switch {
			case errors.Is(err, topics.ErrReadOnlyConfig):
				fail(kerr.InvalidRequest.Code, err)
			case err != nil:
				fail(errorCode(err), err)
			}
		case kmsg.ConfigResourceTypeBrokerLogger:
			if replace {
				fail(kerr.InvalidRequest.Code, fmt.Errorf("unknown resource type %d", r.typ))
				continue
			}
			if r.name == "" {
				fail(kerr.InvalidRequest.Code, fmt.Errorf("broker id must not be empty"))
				continue
			}
			if err := h.checkBrokerID(r.name); err != nil {
				fail(kerr.InvalidRequest.Code, err)
				continue
			}
			if len(r.ops) > 0 {
				fail(kerr.InvalidRequest.Code, fmt.Errorf("log levels cannot change while Chronik runs: %s; set server.log_level and restart", opNames(r.ops)))
			}
		default:
			fail(kerr.InvalidRequest.Code, fmt.Errorf("unknown resource type %d", r.typ))
		}
	}
	return out
}

func opNames(ops []topics.ConfigOp) string {
	names := make([]string, 0, len(ops))
	for _, op := range ops {
		names = append(names, op.Name)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
