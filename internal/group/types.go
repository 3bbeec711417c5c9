package group

import (
	"log/slog"
	"time"
)

// Group states, spelled as Kafka spells them in DescribeGroups and
// ListGroups.
const (
	StateEmpty               = "Empty"
	StatePreparingRebalance  = "PreparingRebalance"
	StateCompletingRebalance = "CompletingRebalance"
	StateStable              = "Stable"
	StateDead                = "Dead"
)

// TypeClassic is the group type of classic-protocol groups (ListGroups v5+,
// KIP-848); consumer-protocol groups are TypeConsumer.
const TypeClassic = "classic"

// Kafka's defaults for the group coordinator settings.
const (
	DefaultMinSessionTimeout     = 6 * time.Second
	DefaultMaxSessionTimeout     = 30 * time.Minute
	DefaultInitialRebalanceDelay = 3 * time.Second
	// DefaultNewMemberJoinTimeout is how long a new member may sit in a
	// pending JoinGroup before it is dropped (Kafka's NewMemberJoinTimeoutMs).
	DefaultNewMemberJoinTimeout = 5 * time.Minute
)

// Config configures a Coordinator.
type Config struct {
	// InitialRebalanceDelay is group.initial.rebalance.delay.ms: how long the
	// first rebalance of a group leaving the Empty state waits for more
	// members. Kafka's default is 3s (DefaultInitialRebalanceDelay); zero
	// means no delay.
	InitialRebalanceDelay time.Duration
	// MinSessionTimeout and MaxSessionTimeout are
	// group.min.session.timeout.ms and group.max.session.timeout.ms. Zero
	// selects Kafka's defaults (6s and 30min).
	MinSessionTimeout, MaxSessionTimeout time.Duration
	// MaxGroupSize is group.max.size; 0 means unlimited.
	MaxGroupSize int
	// NewMemberJoinTimeout bounds how long a brand new member's JoinGroup may
	// stay parked; zero selects Kafka's 5 minutes.
	NewMemberJoinTimeout time.Duration
	// Now returns the current time (state timestamps only; timeouts use real
	// timers). Optional.
	Now func() time.Time

	// ConsumerSessionTimeout is group.consumer.session.timeout.ms: a
	// consumer-protocol member (KIP-848) that does not heartbeat for this
	// long is removed. Zero selects Kafka's 45s.
	ConsumerSessionTimeout time.Duration
	// ConsumerHeartbeatInterval is group.consumer.heartbeat.interval.ms,
	// sent to consumer-protocol members. Zero selects Kafka's 5s.
	ConsumerHeartbeatInterval time.Duration
}

func (cfg Config) withDefaults() Config {
	if cfg.MinSessionTimeout <= 0 {
		cfg.MinSessionTimeout = DefaultMinSessionTimeout
	}
	if cfg.MaxSessionTimeout <= 0 {
		cfg.MaxSessionTimeout = DefaultMaxSessionTimeout
	}
	if cfg.InitialRebalanceDelay < 0 {
		cfg.InitialRebalanceDelay = 0
	}
	if cfg.NewMemberJoinTimeout <= 0 {
		cfg.NewMemberJoinTimeout = DefaultNewMemberJoinTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ConsumerSessionTimeout <= 0 {
		cfg.ConsumerSessionTimeout = DefaultConsumerSessionTimeout
	}
	if cfg.ConsumerHeartbeatInterval <= 0 {
		cfg.ConsumerHeartbeatInterval = DefaultConsumerHeartbeatInterval
	}
	return cfg
}

// Protocol is one entry of a JoinGroup request's protocol list: an
// assignment strategy name ("range", "cooperative-sticky", ...) and the
// opaque member metadata for it. The list is in the member's order of
// preference.
type Protocol struct {
	Name     string
	Metadata []byte
}

// JoinRequest is a JoinGroup request.
type JoinRequest struct {
	GroupID string
	// MemberID is "" for a member joining for the first time.
	MemberID string
	// InstanceID is group.instance.id (static membership, JoinGroup v5+).
	InstanceID *string
	ClientID   string
	ClientHost string
	// SessionTimeout must lie within [MinSessionTimeout, MaxSessionTimeout].
	SessionTimeout time.Duration
	// RebalanceTimeout is JoinGroup v1+'s rebalance timeout; the handler
	// passes SessionTimeout for v0. Zero or negative is treated as
	// SessionTimeout.
	RebalanceTimeout time.Duration
	ProtocolType     string
	Protocols        []Protocol
	// RequireKnownMemberID is true for JoinGroup v4+: a new dynamic member
	// first gets ErrMemberIDRequired with MemberID assigned, and must join
	// again with it.
	RequireKnownMemberID bool
	// SupportSkippingAssignment is true for JoinGroup v9+ (KIP-814): a static
	// leader rejoining a Stable group unchanged is told it is the leader with
	// SkipAssignment set. Older versions are given the old leader id instead,
	// so that the new member does not run an assignment that would be ignored.
	SupportSkippingAssignment bool
	// Reason is JoinGroup v8+'s reason (logged only).
	Reason string
}

// JoinMember is a member as listed to the leader in a JoinGroup response.
type JoinMember struct {
	MemberID   string
	InstanceID *string
	Metadata   []byte
}

// JoinResult is a JoinGroup response. On error GenerationID is -1 and
// MemberID is the id the response must carry (the assigned id for
// ErrMemberIDRequired; "" or the request's id otherwise, as Kafka). Byte
// slices are shared with the coordinator: do not modify them.
type JoinResult struct {
	Err          error
	GenerationID int32
	ProtocolType string
	ProtocolName string
	LeaderID     string
	MemberID     string
	// Members is only given to the leader.
	Members []JoinMember
	// SkipAssignment: static leader rejoining a stable group without changes
	// (KIP-814, JoinGroup v9).
	SkipAssignment bool
}

// SyncRequest is a SyncGroup request.
type SyncRequest struct {
	GroupID      string
	MemberID     string
	InstanceID   *string
	GenerationID int32
	// ProtocolType and ProtocolName (SyncGroup v5+) must match the group's
	// when given.
	ProtocolType, ProtocolName *string
	// Assignments is the leader's assignment by member id; members it leaves
	// out get an empty assignment, unknown ids are ignored.
	Assignments map[string][]byte
}

// SyncResult is a SyncGroup response. ProtocolType and ProtocolName are set
// on success only. Assignment is shared with the coordinator: do not modify.
type SyncResult struct {
	Err          error
	ProtocolType string
	ProtocolName string
	Assignment   []byte
}

// LeaveMember is one member of a LeaveGroup request. v0-v2 carry one member
// with MemberID only; v3+ may remove a static member by InstanceID with an
// empty MemberID.
type LeaveMember struct {
	MemberID   string
	InstanceID *string
	Reason     string
}

// MemberDescription is a member in a DescribeGroups response. Metadata and
// Assignment are only filled in for a Stable group, as Kafka does.
type MemberDescription struct {
	MemberID   string
	InstanceID *string
	ClientID   string
	ClientHost string
	Metadata   []byte
	Assignment []byte
}

// Description is a DescribeGroups result. Protocol is only set for a Stable
// group, as Kafka does.
type Description struct {
	GroupID      string
	State        string
	ProtocolType string
	Protocol     string
	Members      []MemberDescription
	// Err is ErrCoordinatorNotAvailable after Close, else nil.
	Err error
	// Exists is false for an unknown group (State "Dead"); DescribeGroups
	// v6+ answers GROUP_ID_NOT_FOUND for it, older versions no error.
	Exists bool
	// Type is TypeClassic, or TypeConsumer for a consumer-protocol group,
	// which Kafka's DescribeGroups does not describe (it answers as for an
	// unknown group, "Group X is not a classic group."). Then State is Dead,
	// Exists is true, and SubscribedTopics lists what its members subscribe
	// to (OffsetDelete's GROUP_SUBSCRIBED_TO_TOPIC).
	Type             string
	SubscribedTopics []string
}

// Listing is a ListGroups entry.
type Listing struct {
	GroupID      string
	ProtocolType string
	State        string
	Type         string
}

func discardLogger(l *slog.Logger) *slog.Logger {
	if l != nil {
		return l
	}
	return slog.New(slog.DiscardHandler)
}
