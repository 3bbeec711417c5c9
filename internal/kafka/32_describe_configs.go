package kafka

import (
	"context"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/config"
	"github.com/chronik-streaming/chronik/internal/server"
	"github.com/chronik-streaming/chronik/internal/topics"
)

// handleDescribeConfigs answers for TOPIC resources (every topic config,
// its value and where it comes from: the topic's own setting, else the
// broker default under its Kafka broker name), BROKER resources (this
// node's id: its broker configs, see broker_configs.go; "": the
// cluster-wide dynamic defaults, of which Chronik has none, so an empty
// list as Kafka gives) and BROKER_LOGGER resources (the root logger's
// level). Synonyms (v1+) run from the most specific source to the default;
// types and documentation are v3+.
func handleDescribeConfigs(h *Handler, _ context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.DescribeConfigsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, rr := range r.Resources {
		res := kmsg.NewDescribeConfigsResponseResource()
		res.ResourceType = rr.ResourceType
		res.ResourceName = rr.ResourceName
		res.Configs = []kmsg.DescribeConfigsResponseResourceConfig{}
		fail := func(code int16, err error) {
			res.ErrorCode = code
			res.ErrorMessage = errorMessage(err)
		}
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			if err := topics.ValidateName(rr.ResourceName); err != nil {
				fail(kerr.InvalidTopicException.Code, err)
				break
			}
			t, ok := h.topics.Get(rr.ResourceName)
			if !ok {
				fail(kerr.UnknownTopicOrPartition.Code, fmt.Errorf("topic %s does not exist", rr.ResourceName))
				break
			}
			res.Configs = h.describeTopicConfigs(h.topics.Configs(t), rr.ConfigNames, r.IncludeSynonyms, r.IncludeDocumentation)
		case kmsg.ConfigResourceTypeBroker:
			if rr.ResourceName == "" {
				// The cluster-wide default resource holds only the
				// dynamic configs.
				res.Configs = h.describeBrokerConfigs(rr.ConfigNames, r.IncludeSynonyms, r.IncludeDocumentation, true)
				break
			}
			if err := h.checkBrokerID(rr.ResourceName); err != nil {
				fail(kerr.InvalidRequest.Code, err)
				break
			}
			res.Configs = h.describeBrokerConfigs(rr.ConfigNames, r.IncludeSynonyms, r.IncludeDocumentation, false)
		case kmsg.ConfigResourceTypeBrokerLogger:
			if rr.ResourceName == "" {
				fail(kerr.InvalidRequest.Code, fmt.Errorf("broker id must not be empty"))
				break
			}
			if err := h.checkBrokerID(rr.ResourceName); err != nil {
				fail(kerr.InvalidRequest.Code, err)
				break
			}
			res.Configs = h.brokerLoggers(rr.ConfigNames)
		default:
			fail(kerr.InvalidRequest.Code, fmt.Errorf("unsupported resource type %d", rr.ResourceType))
		}
		if r.Version == 0 {
			for i := range res.Configs {
				res.Configs[i].IsDefault = res.Configs[i].Source == kmsg.ConfigSourceDefaultConfig
			}
		}
		resp.Resources = append(resp.Resources, res)
	}
	return server.Respond(resp), nil
}

// checkBrokerID accepts this node's id as a resource name.
func (h *Handler) checkBrokerID(name string) error {
	id, err := strconv.ParseInt(name, 10, 32)
	if err != nil {
		return fmt.Errorf("broker id must be an integer, but it is: %s", name)
	}
	if int32(id) != h.broker.NodeID {
		return fmt.Errorf("unexpected broker id, expected %d, but received %s", h.broker.NodeID, name)
	}
	return nil
}

// wanted filters config names: a null or empty list asks for all.
func wanted(names []string) func(string) bool {
	if len(names) == 0 {
		return func(string) bool { return true }
	}
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[n] = true
	}
	return func(n string) bool { return set[n] }
}

// describeTopicConfigs lists a topic's configs: its own value where set,
// else the broker's default. The synonyms are, as in Kafka, the topic's
// setting (DYNAMIC_TOPIC_CONFIG), then the broker config it falls back to
// under its broker name: DYNAMIC_BROKER_CONFIG when changed while running,
// STATIC_BROKER_CONFIG when Chronik's configuration sets it to something
// other than the default, and DEFAULT_CONFIG. Configs without a
// broker-level name have only the first, or none.
func (h *Handler) describeTopicConfigs(explicit map[string]string, names []string, synonyms, docs bool) []kmsg.DescribeConfigsResponseResourceConfig {
	want := wanted(names)
	def := config.Default()
	out := []kmsg.DescribeConfigsResponseResourceConfig{}
	for _, d := range topics.ConfigDefs() {
		if !want(d.Name) {
			continue
		}
		c := kmsg.NewDescribeConfigsResponseResourceConfig()
		c.Name = d.Name
		c.ConfigType = kmsg.ConfigType(d.Type)
		if docs {
			doc := d.Doc
			c.Documentation = &doc
		}
		syns := []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym{}
		v, set := explicit[d.Name]
		if set {
			syns = append(syns, synonym(d.Name, v, kmsg.ConfigSourceDynamicTopicConfig))
		}
		bv, dv := d.Default(h.cfg), d.Default(def)
		dynv, dyn := h.topics.BrokerDefault(d)
		if !set {
			v = dynv
		}
		if d.BrokerName != "" {
			if dyn {
				syns = append(syns, synonym(d.BrokerName, dynv, kmsg.ConfigSourceDynamicBrokerConfig))
			}
			if bv != dv {
				syns = append(syns, synonym(d.BrokerName, bv, kmsg.ConfigSourceStaticBrokerConfig))
			}
			syns = append(syns, synonym(d.BrokerName, dv, kmsg.ConfigSourceDefaultConfig))
		}
		c.Value = &v
		c.Source = kmsg.ConfigSourceDefaultConfig
		if len(syns) > 0 {
			c.Source = syns[0].Source
		}
		if synonyms {
			c.ConfigSynonyms = syns
		}
		out = append(out, c)
	}
	return out
}

func synonym(name string, value string, source kmsg.ConfigSource) kmsg.DescribeConfigsResponseResourceConfigConfigSynonym {
	s := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
	s.Name = name
	s.Value = &value
	s.Source = source
	return s
}
