package kafka

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	plog "github.com/chronik-streaming/chronik/internal/log"
	"github.com/chronik-streaming/chronik/internal/topics"
)

// errorCode maps a domain error to the Kafka error code clients act on.
func errorCode(err error) int16 {
	if err == nil {
		return 0
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	for _, m := range []struct {
		err  error
		code *kerr.Error
	}{
		{topics.ErrUnknownTopic, kerr.UnknownTopicOrPartition},
		{topics.ErrTopicExists, kerr.TopicAlreadyExists},
		{topics.ErrInvalidTopic, kerr.InvalidTopicException},
		{topics.ErrInvalidPartitions, kerr.InvalidPartitions},
		{topics.ErrInvalidReplication, kerr.InvalidReplicationFactor},
		{topics.ErrInvalidConfig, kerr.InvalidConfig},
		{plog.ErrCorruptMessage, kerr.CorruptMessage},
		{plog.ErrMessageTooLarge, kerr.MessageTooLarge},
		{plog.ErrInvalidRecord, kerr.InvalidRecord},
		{plog.ErrOffsetOutOfRange, kerr.OffsetOutOfRange},
		{plog.ErrOutOfOrderSequence, kerr.OutOfOrderSequenceNumber},
		{plog.ErrInvalidProducerEpoch, kerr.InvalidProducerEpoch},
		{plog.ErrInvalidTxnState, kerr.InvalidTxnState},
		{plog.ErrTransactionCoordinatorFenced, kerr.TransactionCoordinatorFenced},
		{plog.ErrStorage, kerr.KafkaStorageError},
		{topics.ErrRemoteUnavailable, kerr.KafkaStorageError},
		{plog.ErrClosed, kerr.UnknownTopicOrPartition},
	} {
		if errors.Is(err, m.err) {
			return m.code.Code
		}
	}
	return kerr.UnknownServerError.Code
}

// errorMessage is the text sent along with an error code, where the
// protocol has room for one.
func errorMessage(err error) *string {
	if err == nil {
		return nil
	}
	s := err.Error()
	return &s
}
