package kafka

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/server"
)

// DescribeCluster endpoint types (KIP-919).
const (
	endpointBrokers     = 1
	endpointControllers = 2
)

// handleDescribeCluster describes the one-node cluster: its id, this node
// as the only broker and as the controller. As on a Kafka broker, asking
// for controllers is MISMATCHED_ENDPOINT_TYPE (v1+; INVALID_REQUEST in v0),
// and an unknown endpoint type UNSUPPORTED_ENDPOINT_TYPE.
func handleDescribeCluster(h *Handler, _ context.Context, req *server.Request) (server.Reply, error) {
	r := req.Body.(*kmsg.DescribeClusterRequest)
	resp := r.ResponseKind().(*kmsg.DescribeClusterResponse)
	fail := func(code *kerr.Error, err error) (server.Reply, error) {
		resp.ErrorCode = code.Code
		if r.Version == 0 {
			resp.ErrorCode = kerr.InvalidRequest.Code
		}
		resp.ErrorMessage = errorMessage(err)
		return server.Respond(resp), nil
	}
	switch r.EndpointType {
	case endpointBrokers:
	case endpointControllers:
		return fail(kerr.MismatchedEndpointType, fmt.Errorf("the request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER"))
	default:
		return fail(kerr.UnsupportedEndpointType, fmt.Errorf("unsupported endpoint type %d", r.EndpointType))
	}
	resp.EndpointType = endpointBrokers
	resp.ClusterID = h.broker.ClusterID
	resp.ControllerID = h.broker.NodeID
	b := kmsg.NewDescribeClusterResponseBroker()
	b.NodeID, b.Host, b.Port = h.broker.NodeID, h.broker.Host, h.broker.Port
	resp.Brokers = []kmsg.DescribeClusterResponseBroker{b}
	resp.ClusterAuthorizedOperations = authorizedOpsNotRequested
	if r.IncludeClusterAuthorizedOperations {
		resp.ClusterAuthorizedOperations = clusterAllOps
	}
	return server.Respond(resp), nil
}
