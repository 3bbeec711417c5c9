package clientops

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeConfigs describes one resource's configs (all of them when keys
// is empty), sorted by name, with synonyms and documentation. It sends
// DescribeConfigs itself because kadm's answer lacks the read-only flag. A
// refusal is the broker's error code (errors.Is works on it) with its
// message.
func DescribeConfigs(ctx context.Context, cl *kgo.Client, typ kmsg.ConfigResourceType, name string, keys []string) ([]kmsg.DescribeConfigsResponseResourceConfig, error) {
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.IncludeSynonyms, req.IncludeDocumentation = true, true
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = typ, name
	if len(keys) > 0 {
		rr.ConfigNames = keys
	}
	req.Resources = append(req.Resources, rr)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	if len(resp.Resources) != 1 {
		return nil, fmt.Errorf("the broker answered for %d resources", len(resp.Resources))
	}
	res := resp.Resources[0]
	if err := kerr.ErrorForCode(res.ErrorCode); err != nil {
		if res.ErrorMessage != nil && *res.ErrorMessage != "" {
			return nil, fmt.Errorf("%w (%s)", err, *res.ErrorMessage)
		}
		return nil, err
	}
	configs := res.Configs
	slices.SortFunc(configs, func(a, b kmsg.DescribeConfigsResponseResourceConfig) int { return strings.Compare(a.Name, b.Name) })
	return configs, nil
}

// ConfigSource names where a config's value comes from, as the CLI and the
// REST API show it.
func ConfigSource(s kmsg.ConfigSource) string {
	switch s {
	case kmsg.ConfigSourceDynamicTopicConfig:
		return "dynamic_topic"
	case kmsg.ConfigSourceDynamicBrokerConfig:
		return "dynamic_broker"
	case kmsg.ConfigSourceDynamicDefaultBrokerConfig:
		return "dynamic_default_broker"
	case kmsg.ConfigSourceStaticBrokerConfig:
		return "static_broker"
	case kmsg.ConfigSourceDefaultConfig:
		return "default"
	}
	return strings.ToLower(s.String())
}
