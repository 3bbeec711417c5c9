package kafka

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/server"
)

// Quota entity types and match types.
const (
	quotaEntityUser     = "user"
	quotaEntityClientID = "client-id"
	quotaEntityIP       = "ip"

	quotaMatchExact     = 0
	quotaMatchDefault   = 1
	quotaMatchSpecified = 2
)

// handleDescribeClientQuotas: Chronik enforces no client quotas and none
// can be set, so every valid filter matches nothing. The filter is checked
// as Kafka's ClientQuotasImage.describe checks it.
func handleDescribeClientQuotas(_ *Handler, _ context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.DescribeClientQuotasRequest)
	resp := r.ResponseKind().(*kmsg.DescribeClientQuotasResponse)
	if code, err := checkQuotaFilter(r.Components); err != nil {
		resp.ErrorCode = code.Code
		resp.ErrorMessage = errorMessage(err)
		return server.Respond(resp), nil
	}
	resp.Entries = []kmsg.DescribeClientQuotasResponseEntry{}
	return server.Respond(resp), nil
}

func checkQuotaFilter(components []kmsg.DescribeClientQuotasRequestComponent) (*kerr.Error, error) {
	seen := map[string]bool{}
	for _, c := range components {
		switch {
		case c.EntityType == "":
			return kerr.InvalidRequest, fmt.Errorf("invalid empty entity type")
		case seen[c.EntityType]:
			return kerr.InvalidRequest, fmt.Errorf("entity type %s cannot appear more than once in the filter", c.EntityType)
		case c.EntityType != quotaEntityUser && c.EntityType != quotaEntityClientID && c.EntityType != quotaEntityIP:
			return kerr.UnsupportedVersion, fmt.Errorf("unsupported entity type %s", c.EntityType)
		}
		seen[c.EntityType] = true
		switch c.MatchType {
		case quotaMatchExact:
			if c.Match == nil {
				return kerr.InvalidRequest, fmt.Errorf("request specified MATCH_TYPE_EXACT, but set match string to null")
			}
		case quotaMatchDefault:
			if c.Match != nil {
				return kerr.InvalidRequest, fmt.Errorf("request specified MATCH_TYPE_DEFAULT, but also specified a match string")
			}
		case quotaMatchSpecified:
			if c.Match != nil {
				return kerr.InvalidRequest, fmt.Errorf("request specified MATCH_TYPE_SPECIFIED, but also specified a match string")
			}
		default:
			return kerr.InvalidRequest, fmt.Errorf("unknown match type %d", c.MatchType)
		}
	}
	if seen[quotaEntityIP] && (seen[quotaEntityUser] || seen[quotaEntityClientID]) {
		return kerr.InvalidRequest, fmt.Errorf("invalid entity filter component combination: an ip filter component cannot be used with user or client-id filter components")
	}
	return nil, nil
}
