package kafka

import (
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik-streaming/chronik/internal/group"
)

// groupCodes maps the group coordinator's errors to Kafka codes.
var groupCodes = map[error]int16{
	group.ErrUnknownMemberID:           kerr.UnknownMemberID.Code,
	group.ErrIllegalGeneration:         kerr.IllegalGeneration.Code,
	group.ErrRebalanceInProgress:       kerr.RebalanceInProgress.Code,
	group.ErrInconsistentGroupProtocol: kerr.InconsistentGroupProtocol.Code,
	group.ErrInvalidSessionTimeout:     kerr.InvalidSessionTimeout.Code,
	group.ErrMemberIDRequired:          kerr.MemberIDRequired.Code,
	group.ErrFencedInstanceID:          kerr.FencedInstanceID.Code,
	group.ErrGroupIDNotFound:           kerr.GroupIDNotFound.Code,
	group.ErrNonEmptyGroup:             kerr.NonEmptyGroup.Code,
	group.ErrInvalidGroupID:            kerr.InvalidGroupID.Code,
	group.ErrGroupMaxSizeReached:       kerr.GroupMaxSizeReached.Code,
	group.ErrCoordinatorNotAvailable:   kerr.CoordinatorNotAvailable.Code,
	group.ErrUnknownServerError:        kerr.UnknownServerError.Code,
}
