package txn

import (
	"errors"
)

// Error is a transaction coordinator error carrying its Kafka error code.
// Compare with errors.Is against the sentinels below; errors returned by the
// coordinator may wrap a sentinel with more context.
type Error struct {
	Name string // Kafka's name, e.g. "PRODUCER_FENCED"
	Code int16  // Kafka's error code
}

func (e *Error) Error() string { return e.Name }

// The coordinator's errors, named after Kafka's. Where each is returned
// follows Kafka's TransactionCoordinator (see the method docs).
var (
	// ErrCoordinatorLoadInProgress is COORDINATOR_LOAD_IN_PROGRESS (14).
	// OpenCoordinator loads all state before it returns, so the coordinator
	// itself never answers it; handlers answer it for transactional requests
	// that arrive before OpenCoordinator has returned.
	ErrCoordinatorLoadInProgress = &Error{"COORDINATOR_LOAD_IN_PROGRESS", 14}
	// ErrCoordinatorNotAvailable is COORDINATOR_NOT_AVAILABLE (15): the
	// coordinator is closed, or a state change could not be made durable
	// (the wrapped error says why). Retriable.
	ErrCoordinatorNotAvailable = &Error{"COORDINATOR_NOT_AVAILABLE", 15}
	// ErrInvalidRequest is INVALID_REQUEST (42): empty transactional id, or
	// an InitProducerId with exactly one of producer id/epoch set to -1.
	ErrInvalidRequest = &Error{"INVALID_REQUEST", 42}
	// ErrInvalidProducerEpoch is INVALID_PRODUCER_EPOCH (47). The coordinator
	// answers ErrProducerFenced; ErrorCode turns that into 47 for the request
	// versions that predate PRODUCER_FENCED (KIP-588) and for Produce.
	ErrInvalidProducerEpoch = &Error{"INVALID_PRODUCER_EPOCH", 47}
	// ErrInvalidTxnState is INVALID_TXN_STATE (48): EndTxn whose outcome does
	// not fit the state (commit of an Empty transaction, abort after a commit
	// completed, commit while PrepareAbort...), or a TxnOffsetCommit for a
	// group not added with AddOffsets.
	ErrInvalidTxnState = &Error{"INVALID_TXN_STATE", 48}
	// ErrInvalidProducerIDMapping is INVALID_PRODUCER_ID_MAPPING (49): the
	// transactional id is unknown (never initialised or expired), or the
	// producer id is not the one it currently maps to.
	ErrInvalidProducerIDMapping = &Error{"INVALID_PRODUCER_ID_MAPPING", 49}
	// ErrInvalidTransactionTimeout is INVALID_TRANSACTION_TIMEOUT (50): the
	// timeout is not positive or exceeds Config.MaxTimeout.
	ErrInvalidTransactionTimeout = &Error{"INVALID_TRANSACTION_TIMEOUT", 50}
	// ErrConcurrentTransactions is CONCURRENT_TRANSACTIONS (51): the previous
	// transaction is still completing (PrepareCommit/PrepareAbort, its
	// markers are being written). Retriable: clients back off and retry.
	ErrConcurrentTransactions = &Error{"CONCURRENT_TRANSACTIONS", 51}
	// ErrProducerFenced is PRODUCER_FENCED (90): the request's epoch is not
	// the current one (a newer producer with the same transactional id
	// initialised, or the coordinator aborted a timed-out transaction).
	ErrProducerFenced = &Error{"PRODUCER_FENCED", 90}
	// ErrTransactionalIDNotFound is TRANSACTIONAL_ID_NOT_FOUND (105), for
	// DescribeTransactions of an unknown transactional id.
	ErrTransactionalIDNotFound = &Error{"TRANSACTIONAL_ID_NOT_FOUND", 105}
)

// Kafka API keys whose error codes depend on the request version.
const (
	apiProduce           = 0
	apiInitProducerID    = 22
	apiAddPartitionsToTx = 24
	apiAddOffsetsToTxn   = 25
	apiEndTxn            = 26
	apiTxnOffsetCommit   = 28
)

// ErrorCode returns the Kafka error code to answer for err in a response to
// request apiKey at version. nil is 0 (NONE); an error that is not one of
// the sentinels is -1 (UNKNOWN_SERVER_ERROR).
//
// Version rules, as Kafka's KafkaApis applies them:
//   - PRODUCER_FENCED (90) exists since KIP-588; older versions get
//     INVALID_PRODUCER_EPOCH (47): InitProducerId < v4, AddPartitionsToTxn < v2,
//     AddOffsetsToTxn < v2, EndTxn < v2, TxnOffsetCommit < v3.
//   - Produce (apiKey 0, the KIP-890 implicit AddPartitions) always gets
//     INVALID_PRODUCER_EPOCH for a fenced producer, and the retriable
//     coordinator errors (CONCURRENT_TRANSACTIONS, COORDINATOR_NOT_AVAILABLE,
//     COORDINATOR_LOAD_IN_PROGRESS) become NOT_ENOUGH_REPLICAS (19), which
//     every client retries without refreshing metadata.
func ErrorCode(err error, apiKey, version int16) int16 {
	if err == nil {
		return 0
	}
	var e *Error
	if !errors.As(err, &e) {
		return -1
	}
	switch apiKey {
	case apiProduce:
		switch e {
		case ErrProducerFenced:
			return ErrInvalidProducerEpoch.Code
		case ErrConcurrentTransactions, ErrCoordinatorNotAvailable, ErrCoordinatorLoadInProgress:
			return 19 // NOT_ENOUGH_REPLICAS
		}
	case apiInitProducerID, apiAddPartitionsToTx, apiAddOffsetsToTxn, apiEndTxn, apiTxnOffsetCommit:
		if e == ErrProducerFenced && version < firstFencedVersion(apiKey) {
			return ErrInvalidProducerEpoch.Code
		}
	}
	return e.Code
}

func firstFencedVersion(apiKey int16) int16 {
	switch apiKey {
	case apiInitProducerID:
		return 4
	case apiTxnOffsetCommit:
		return 3
	default:
		return 2
	}
}
