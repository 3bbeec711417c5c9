package kafka

import (
	"context"
	"regexp"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/server"
)

// KIP-511: client software name and version must match this from v3.
var clientSoftwareRE = regexp.MustCompile(`^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$`)

func handleApiVersions(h *Handler, _ context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.ApiVersionsRequest)
	resp := r.ResponseKind().(*kmsg.ApiVersionsResponse)
	if r.Version >= 3 && (!clientSoftwareRE.MatchString(r.ClientSoftwareName) || !clientSoftwareRE.MatchString(r.ClientSoftwareVersion)) {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return server.Respond(resp), nil
	}
	resp.ApiKeys = supportedAPIs()
	if r.Version >= 3 {
		resp.SupportedFeatures, resp.FinalizedFeaturesEpoch, resp.FinalizedFeatures = features()
	}
	return server.Respond(resp), nil
}

// transactionVersion is the finalized transaction.version feature (KIP-890,
// KIP-1022): 2 switches clients that know it to transactions V2. Clients
// that do not (librdkafka 2.0, sarama, the Java client before 4.0) keep
// speaking V1, and the broker serves both at once.
const transactionVersion = 2

// features answers the KIP-584 feature fields. Features are finalized for
// the whole (single-node) cluster once, so their epoch never changes.
func features() ([]kmsg.ApiVersionsResponseSupportedFeature, int64, []kmsg.ApiVersionsResponseFinalizedFeature) {
	sup := kmsg.NewApiVersionsResponseSupportedFeature()
	sup.Name, sup.MinVersion, sup.MaxVersion = "transaction.version", 0, transactionVersion
	fin := kmsg.NewApiVersionsResponseFinalizedFeature()
	fin.Name, fin.MinVersionLevel, fin.MaxVersionLevel = "transaction.version", transactionVersion, transactionVersion
	return []kmsg.ApiVersionsResponseSupportedFeature{sup}, 1, []kmsg.ApiVersionsResponseFinalizedFeature{fin}
}
