package admin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-streaming/chronik/internal/clientops"
)

// kafkaClient is the REST API's connection to its own broker. The REST API
// is a Kafka client, as Redpanda Console and Kafka UI are: a topic created
// or a group reset over HTTP goes through the same validation and error
// codes as one made with kadm or kafka-topics.sh.
type kafkaClient struct {
	addr string // the broker's bound Kafka listener

	once sync.Once
	cl   *kgo.Client
	adm  *kadm.Client
	err  error
}

// opts are the client options every connection to the broker uses. Every
// dial goes to the bound listener: the advertised address may be a name
// only clients elsewhere can resolve.
func (k *kafkaClient) opts(extra ...kgo.Opt) []kgo.Opt {
	addr := k.addr
	if host, port, err := net.SplitHostPort(addr); err == nil {
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			addr = net.JoinHostPort("127.0.0.1", port)
		}
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	return append([]kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.ClientID("chronik-admin-api"),
		kgo.Dialer(func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		}),
		kgo.RetryTimeout(5 * time.Second),
	}, extra...)
}

func (k *kafkaClient) admin() (*kadm.Client, error) {
	k.once.Do(func() {
		k.cl, k.err = kgo.NewClient(k.opts()...)
		if k.err == nil {
			k.adm = kadm.NewClient(k.cl)
			k.adm.SetTimeoutMillis(10_000)
		}
	})
	return k.adm, k.err
}

func (k *kafkaClient) close() {
	if k.cl != nil {
		k.cl.Close()
	}
}

// apiError is an error with the HTTP status it answers with and, for bad
// input, the field at fault.
type apiError struct {
	status int
	field  string
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(field, format string, args ...any) error {
	return &apiError{status: http.StatusBadRequest, field: field, msg: field + ": " + fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &apiError{status: http.StatusNotFound, msg: fmt.Sprintf(format, args...)}
}

func conflict(format string, args ...any) error {
	return &apiError{status: http.StatusConflict, msg: fmt.Sprintf(format, args...)}
}

// fromKafka maps a Kafka error code to the HTTP answer a user expects;
// field names the input a validation error is about.
func fromKafka(err error, field, msg string) error {
	if err == nil {
		return nil
	}
	var ke *kerr.Error
	if !errors.As(err, &ke) {
		return err
	}
	// The broker's own message says why; the code's generic text does not.
	text := err.Error()
	if msg != "" {
		text = ke.Message + ": " + msg
	}
	switch ke {
	case kerr.UnknownTopicOrPartition, kerr.UnknownTopicID, kerr.GroupIDNotFound:
		return &apiError{status: http.StatusNotFound, msg: text}
	case kerr.TopicAlreadyExists, kerr.NonEmptyGroup, kerr.ConcurrentTransactions:
		return &apiError{status: http.StatusConflict, msg: text}
	case kerr.InvalidConfig, kerr.InvalidTopicException, kerr.InvalidPartitions, kerr.InvalidReplicationFactor,
		kerr.PolicyViolation, kerr.InvalidRequest, kerr.InvalidRecord, kerr.MessageTooLarge, kerr.RecordListTooLarge,
		kerr.InvalidGroupID, kerr.InvalidReplicaAssignment:
		return &apiError{status: http.StatusBadRequest, field: field, msg: text}
	case kerr.KafkaStorageError, kerr.NotEnoughReplicas, kerr.RequestTimedOut, kerr.CoordinatorNotAvailable,
		kerr.CoordinatorLoadInProgress, kerr.NotCoordinator, kerr.LeaderNotAvailable:
		return &apiError{status: http.StatusServiceUnavailable, msg: text}
	}
	return err
}

// fromReset maps clientops.ResetOffsets errors.
func fromReset(err error) error {
	switch {
	case errors.Is(err, clientops.ErrGroupActive):
		return conflict("%v", err)
	case errors.Is(err, clientops.ErrUnknownTopic):
		return notFound("%v", err)
	case errors.Is(err, clientops.ErrNothingToReset):
		return badRequest("topics", "%v", err)
	}
	return fromKafka(err, "", "")
}
