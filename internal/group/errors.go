package group

import "errors"

// Sentinel errors returned by the Coordinator. Each is named after the Kafka
// error the wire handlers must answer with:
//
//	ErrUnknownMemberID           UNKNOWN_MEMBER_ID (25)
//	ErrIllegalGeneration         ILLEGAL_GENERATION (22)
//	ErrRebalanceInProgress       REBALANCE_IN_PROGRESS (27)
//	ErrInconsistentGroupProtocol INCONSISTENT_GROUP_PROTOCOL (23)
//	ErrInvalidSessionTimeout     INVALID_SESSION_TIMEOUT (26)
//	ErrMemberIDRequired          MEMBER_ID_REQUIRED (79)
//	ErrFencedInstanceID          FENCED_INSTANCE_ID (82)
//	ErrGroupIDNotFound           GROUP_ID_NOT_FOUND (69)
//	ErrNonEmptyGroup             NON_EMPTY_GROUP (68)
//	ErrInvalidGroupID            INVALID_GROUP_ID (24)
//	ErrGroupMaxSizeReached       GROUP_MAX_SIZE_REACHED (81)
//	ErrCoordinatorNotAvailable   COORDINATOR_NOT_AVAILABLE (15)
//	ErrUnknownServerError        UNKNOWN_SERVER_ERROR (-1)
//
// Errors may be wrapped (a Join or Sync whose context ended returns an error
// that is both ErrRebalanceInProgress and the context's error), so map them
// with errors.Is.
var (
	ErrUnknownMemberID           = errors.New("the coordinator is not aware of this member")
	ErrIllegalGeneration         = errors.New("the generation id provided in the request is not the current generation")
	ErrRebalanceInProgress       = errors.New("the group is rebalancing, so a rejoin is needed")
	ErrInconsistentGroupProtocol = errors.New("the group member's supported protocols are incompatible with those of existing members or first group member tried to join with empty protocol type or empty protocol list")
	ErrInvalidSessionTimeout     = errors.New("the session timeout is not within the range allowed by the broker (as configured by group.min.session.timeout.ms and group.max.session.timeout.ms)")
	ErrMemberIDRequired          = errors.New("the group member needs to have a valid member id before actually entering a consumer group")
	ErrFencedInstanceID          = errors.New("the broker rejected this static consumer since another consumer with the same group.instance.id has registered with a different member.id")
	ErrGroupIDNotFound           = errors.New("the group id does not exist")
	ErrNonEmptyGroup             = errors.New("the group is not empty")
	ErrInvalidGroupID            = errors.New("the configured groupId is invalid")
	ErrGroupMaxSizeReached       = errors.New("the consumer group has reached its max size")
	ErrCoordinatorNotAvailable   = errors.New("the coordinator is not available")
	ErrUnknownServerError        = errors.New("the server experienced an unexpected error when processing the request")
)
