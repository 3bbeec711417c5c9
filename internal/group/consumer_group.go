package group

// The consumer group protocol (KIP-848): ConsumerGroupHeartbeat with
// server-side assignment, as Kafka 4's GroupMetadataManager
// (consumerGroupHeartbeat), ConsumerGroup, ConsumerGroupMember and
// CurrentAssignmentBuilder. A group id names either a classic group (the
// rest of this package) or a consumer group, never both; the Coordinator's
// List, Describe, Delete, IsEmpty, EmptySince and commit validation see both.
//
// Per heartbeat, as Kafka:
//  1. the member is created or updated; the group epoch is bumped when a
//     member joins, changes its subscription, or the subscribed topics'
//     metadata (ids, partition counts, regex matches) changed;
//  2. when the group epoch is ahead of the target assignment epoch, the
//     assignor computes a new target assignment for every member;
//  3. the member is reconciled towards its target: partitions it must give
//     up are revoked first (UNREVOKED_PARTITIONS, epoch unchanged) and a
//     partition is handed to its new owner only once no other member holds
//     it (UNRELEASED_PARTITIONS until then).
//
// With a MetadataStore, a heartbeat that changes the group is persisted
// before it is answered (persist.go), so members carry on across a
// restart; without one, members rejoin after a restart (their heartbeats
// get UNKNOWN_MEMBER_ID) and resume from committed offsets.

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// Errors of the consumer group protocol, named after the Kafka errors the
// handlers answer with:
//
//	ErrFencedMemberEpoch         FENCED_MEMBER_EPOCH (110)
//	ErrUnreleasedInstanceID      UNRELEASED_INSTANCE_ID (111)
//	ErrUnsupportedAssignor       UNSUPPORTED_ASSIGNOR (112)
//	ErrStaleMemberEpoch          STALE_MEMBER_EPOCH (113)
//	ErrInvalidRegularExpression  INVALID_REGULAR_EXPRESSION (128)
//	ErrInvalidRequest            INVALID_REQUEST (42)
//	ErrUnsupportedVersion        UNSUPPORTED_VERSION (35)
//
// Returned errors wrap these with Kafka's message; match with errors.Is.
var (
	ErrFencedMemberEpoch        = errors.New("the member epoch is fenced by the group coordinator")
	ErrUnreleasedInstanceID     = errors.New("the instance id is still used by another member in the consumer group")
	ErrUnsupportedAssignor      = errors.New("the assignor is not supported by the consumer group")
	ErrStaleMemberEpoch         = errors.New("the member epoch is stale")
	ErrInvalidRegularExpression = errors.New("the regular expression is not valid")
	ErrInvalidRequest           = errors.New("invalid request")
	ErrUnsupportedVersion       = errors.New("unsupported version")
)

// Consumer group states (Kafka's ConsumerGroupState); Empty, Stable and Dead
// are spelled as the classic ones.
const (
	StateAssigning   = "Assigning"
	StateReconciling = "Reconciling"
)

// TypeConsumer is the group type of consumer-protocol groups (ListGroups v5).
const TypeConsumer = "consumer"

// Kafka's defaults for the consumer group protocol.
const (
	// DefaultConsumerSessionTimeout is group.consumer.session.timeout.ms.
	DefaultConsumerSessionTimeout = 45 * time.Second
	// DefaultConsumerHeartbeatInterval is group.consumer.heartbeat.interval.ms.
	DefaultConsumerHeartbeatInterval = 5 * time.Second
)

// Member epochs with a meaning of their own.
const (
	leaveGroupMemberEpoch       = -1
	leaveGroupStaticMemberEpoch = -2
)

// TopicInfo is a topic as the consumer group protocol sees it.
type TopicInfo struct {
	Name       string
	ID         [16]byte
	Partitions int32
}

// TopicLookup lists the broker's topics; the consumer group coordinator
// resolves subscriptions (names and regexes) and assigns partitions with
// it. It is called on every heartbeat and must be cheap and safe for
// concurrent use.
type TopicLookup interface {
	Topics() []TopicInfo
}

// SetTopicLookup gives the coordinator the broker's topics. Until it is set,
// consumer groups see no topics (members join with empty assignments).
func (c *Coordinator) SetTopicLookup(l TopicLookup) {
	c.topicLookup.Store(&l)
}

// topicsNow lists the topics; it takes no coordinator or group lock, so it
// may be called under either.
func (c *Coordinator) topicsNow() []TopicInfo {
	l := c.topicLookup.Load()
	if l == nil || *l == nil {
		return nil
	}
	return (*l).Topics()
}

// TopicPartitions is a topic's partitions in a heartbeat or description;
// Name is only filled in descriptions.
type TopicPartitions struct {
	TopicID    [16]byte
	Name       string
	Partitions []int32
}

// ConsumerHeartbeatRequest is a ConsumerGroupHeartbeat request. Nil fields
// mean "unchanged since the last heartbeat", as on the wire.
type ConsumerHeartbeatRequest struct {
	GroupID     string
	MemberID    string
	MemberEpoch int32
	InstanceID  *string
	RackID      *string
	// RebalanceTimeoutMs is -1 when unchanged.
	RebalanceTimeoutMs   int32
	SubscribedTopicNames []string
	SubscribedTopicRegex *string
	ServerAssignor       *string
	// Topics are the partitions the member owns; nil when unchanged.
	Topics     []TopicPartitions
	ClientID   string
	ClientHost string
	// RequireMemberID is set from ConsumerGroupHeartbeat v1, where the
	// client generates its member id; v0 lets the coordinator pick one on
	// the first heartbeat.
	RequireMemberID bool
}

// ConsumerHeartbeatResult is a ConsumerGroupHeartbeat response. Assignment
// is nil when the response carries none (the member's assignment did not
// change and the request was not a full one).
type ConsumerHeartbeatResult struct {
	Err               error
	MemberID          string
	MemberEpoch       int32
	HeartbeatInterval time.Duration
	Assignment        []TopicPartitions
}

// memberState is a member's reconciliation state (Kafka's MemberState).
type memberState int8

const (
	mStable memberState = iota
	mUnrevoked
	mUnreleased
)

func (s memberState) String() string {
	switch s {
	case mUnrevoked:
		return "UNREVOKED_PARTITIONS"
	case mUnreleased:
		return "UNRELEASED_PARTITIONS"
	default:
		return "STABLE"
	}
}

// epochSet is a member's partitions with the epoch at which each was
// assigned to it (KIP-1251 assignment epochs, used to validate commits).
type epochSet map[TopicID]map[int32]int32

func (e epochSet) clone() epochSet {
	out := make(epochSet, len(e))
	for t, ps := range e {
		out[t] = maps.Clone(ps)
	}
	return out
}

func (e epochSet) partitions() partitionSet {
	out := make(partitionSet, len(e))
	for t, ps := range e {
		out[t] = slices.Sorted(maps.Keys(ps))
	}
	return out
}

func (e epochSet) add(t TopicID, p, epoch int32) {
	if e[t] == nil {
		e[t] = map[int32]int32{}
	}
	e[t][p] = epoch
}

// cmember is Kafka's ConsumerGroupMember.
type cmember struct {
	id               string
	instanceID       *string
	rackID           *string
	clientID         string
	clientHost       string
	rebalanceTimeout time.Duration
	subscribed       []string // sorted
	regex            string
	assignor         string // "" = none

	epoch     int32
	prevEpoch int32
	state     memberState
	assigned  epochSet
	revoking  epochSet

	sessionTimer   *time.Timer
	sessionSeq     uint64
	rebalanceTimer *time.Timer
	rebalanceSeq   uint64
}

func (m *cmember) isReconciledTo(epoch int32) bool {
	return m.state == mStable && m.epoch == epoch
}

func (m *cmember) stopTimers() {
	if m.sessionTimer != nil {
		m.sessionTimer.Stop()
		m.sessionTimer = nil
	}
	m.sessionSeq++
	m.cancelRebalanceTimer()
}

func (m *cmember) cancelRebalanceTimer() {
	if m.rebalanceTimer != nil {
		m.rebalanceTimer.Stop()
		m.rebalanceTimer = nil
	}
	m.rebalanceSeq++
}

// topicMeta is a subscribed topic as last seen (Kafka's subscription
// metadata): a change bumps the group epoch.
type topicMeta struct {
	id         TopicID
	partitions int32
}

// consumerGroup is Kafka's ConsumerGroup plus the coordinator logic that
// runs under its lock. Every method requires g.mu held unless noted.
type consumerGroup struct {
	c  *Coordinator
	mu sync.Mutex

	id              string
	dead            bool
	groupEpoch      int32
	assignmentEpoch int32
	members         map[string]*cmember
	static          map[string]string // instance id -> member id
	target          map[string]partitionSet
	owner           map[tp]string // partition -> member holding it (assigned or revoking)
	subscription    map[string]topicMeta
	resolved        map[string][]string // regex -> matching topic names (sorted)
	compiled        map[string]*regexp.Regexp
	emptySince      time.Time
	// writes are the metadata writes queued under mu, done by unlock.
	writes []*persistWrite
}

func newConsumerGroup(c *Coordinator, id string) *consumerGroup {
	return &consumerGroup{
		c: c, id: id,
		members: map[string]*cmember{}, static: map[string]string{},
		target: map[string]partitionSet{}, owner: map[tp]string{},
		subscription: map[string]topicMeta{}, resolved: map[string][]string{},
		compiled:   map[string]*regexp.Regexp{},
		emptySince: c.cfg.Now(),
	}
}

// state is Kafka's maybeUpdateGroupState, computed on demand.
func (g *consumerGroup) state() string {
	switch {
	case g.dead:
		return StateDead
	case len(g.members) == 0:
		return StateEmpty
	case g.groupEpoch > g.assignmentEpoch:
		return StateAssigning
	}
	for _, m := range g.members {
		if !m.isReconciledTo(g.assignmentEpoch) {
			return StateReconciling
		}
	}
	return StateStable
}

// getOrCreateConsumerGroup returns the consumer group, creating it when
// create is set. An Empty classic group of the same id is replaced (Kafka
// converts it); a non-empty classic group makes the id unusable here
// (ErrGroupIDNotFound, as Kafka with online migration disabled).
func (c *Coordinator) getOrCreateConsumerGroup(id string, create bool) (*consumerGroup, error) {
	var ws []*persistWrite
	defer func() { c.flushWrites(ws) }() // after the locks are released
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrCoordinatorNotAvailable
	}
	if g := c.cgroups[id]; g != nil {
		return g, nil
	}
	if cg := c.groups[id]; cg != nil {
		cg.mu.Lock()
		isEmpty := cg.state == empty || cg.state == dead
		if isEmpty && create {
			cg.shutdown(ErrCoordinatorNotAvailable)
			cg.storeDelete()
			ws = cg.takeWrites()
			delete(c.groups, id)
			c.log.Info("converted the empty classic group to a consumer group", "group", id)
		}
		cg.mu.Unlock()
		if !isEmpty {
			return nil, fmt.Errorf("%w: group %s is not a consumer group", ErrGroupIDNotFound, id)
		}
		if !create {
			return nil, nil
		}
	} else if !create {
		return nil, nil
	}
	g := newConsumerGroup(c, id)
	c.cgroups[id] = g
	return g, nil
}

func (c *Coordinator) getConsumerGroup(id string) *consumerGroup {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cgroups[id]
}

func (c *Coordinator) sessionTimeout() time.Duration    { return c.cfg.ConsumerSessionTimeout }
func (c *Coordinator) heartbeatInterval() time.Duration { return c.cfg.ConsumerHeartbeatInterval }

// validateHeartbeat is Kafka's throwIfConsumerGroupHeartbeatRequestIsInvalid.
func validateHeartbeat(req *ConsumerHeartbeatRequest) error {
	invalid := func(msg string) error { return fmt.Errorf("%w: %s", ErrInvalidRequest, msg) }
	blank := func(s *string) bool { return s != nil && strings.TrimSpace(*s) == "" }
	if (req.RequireMemberID || req.MemberEpoch > 0 || req.MemberEpoch == leaveGroupMemberEpoch) &&
		strings.TrimSpace(req.MemberID) == "" {
		return invalid("MemberId can't be empty.")
	}
	if strings.TrimSpace(req.GroupID) == "" {
		return fmt.Errorf("%w: GroupId can't be empty.", ErrInvalidRequest)
	}
	if blank(req.InstanceID) {
		return invalid("InstanceId can't be empty.")
	}
	if blank(req.RackID) {
		return invalid("RackId can't be empty.")
	}
	switch {
	case req.MemberEpoch == 0:
		if req.RebalanceTimeoutMs == -1 {
			return invalid("RebalanceTimeoutMs must be provided in first request.")
		}
		if req.Topics == nil || len(req.Topics) > 0 {
			return invalid("TopicPartitions must be empty when (re-)joining.")
		}
		if req.SubscribedTopicNames == nil && req.SubscribedTopicRegex == nil {
			return invalid("Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining.")
		}
	case req.MemberEpoch == leaveGroupStaticMemberEpoch:
		if req.InstanceID == nil {
			return invalid("InstanceId can't be null.")
		}
	case req.MemberEpoch < leaveGroupStaticMemberEpoch:
		return invalid("MemberEpoch is invalid.")
	}
	if req.ServerAssignor != nil && !supportedAssignor(*req.ServerAssignor) {
		return fmt.Errorf("%w: ServerAssignor %s is not supported. Supported assignors: %s.",
			ErrUnsupportedAssignor, *req.ServerAssignor, strings.Join(assignors, ", "))
	}
	return nil
}

// ConsumerHeartbeat handles ConsumerGroupHeartbeat (KIP-848): join (epoch
// 0), heartbeat, leave (epoch -1) and static temporary leave (epoch -2).
// See the file comment for the steps; errors as Kafka: ErrInvalidRequest,
// ErrUnsupportedAssignor, ErrInvalidRegularExpression, ErrUnknownMemberID,
// ErrFencedMemberEpoch, ErrFencedInstanceID, ErrUnreleasedInstanceID,
// ErrGroupIDNotFound (the id is a non-empty classic group),
// ErrGroupMaxSizeReached, ErrCoordinatorNotAvailable.
func (c *Coordinator) ConsumerHeartbeat(req ConsumerHeartbeatRequest) ConsumerHeartbeatResult {
	if err := validateHeartbeat(&req); err != nil {
		return ConsumerHeartbeatResult{Err: err}
	}
	if req.MemberEpoch == leaveGroupMemberEpoch || req.MemberEpoch == leaveGroupStaticMemberEpoch {
		return c.consumerLeave(&req)
	}
	if req.MemberID == "" {
		req.MemberID = newUUIDString() // v0: the coordinator picks the id
	}
	g, err := c.getOrCreateConsumerGroup(req.GroupID, req.MemberEpoch == 0)
	if err != nil {
		return ConsumerHeartbeatResult{Err: err}
	}
	if g == nil {
		// Kafka answers GROUP_ID_NOT_FOUND for an unknown group. A member
		// of a group the coordinator does not know (lost across a restart:
		// no metadata store, or its write failed) is told what Kafka tells
		// a member it has expired, and rejoins.
		return ConsumerHeartbeatResult{Err: fmt.Errorf("%w: member %s is not a member of group %s",
			ErrUnknownMemberID, req.MemberID, req.GroupID)}
	}
	topics := c.topicsNow()
	g.mu.Lock()
	defer g.unlock()
	if g.dead {
		return ConsumerHeartbeatResult{Err: ErrCoordinatorNotAvailable}
	}
	return g.heartbeat(&req, topics)
}

func (g *consumerGroup) heartbeat(req *ConsumerHeartbeatRequest, topics []TopicInfo) ConsumerHeartbeatResult {
	fail := func(err error) ConsumerHeartbeatResult { return ConsumerHeartbeatResult{Err: err} }
	create := req.MemberEpoch == 0
	if maxSize := g.c.cfg.MaxGroupSize; maxSize > 0 && len(g.members) >= maxSize {
		if _, ok := g.members[req.MemberID]; !ok {
			return fail(fmt.Errorf("%w: the consumer group has reached its maximum capacity of %d members",
				ErrGroupMaxSizeReached, maxSize))
		}
	}

	// Get or create the member (getOrMaybeSubscribe{Dynamic,Static}ConsumerGroupMember).
	var m *cmember
	var replaced *cmember // the static member this one replaces
	isNew := false
	if req.InstanceID == nil {
		m = g.members[req.MemberID]
		if m == nil {
			if !create {
				return fail(fmt.Errorf("%w: member %s is not a member of group %s", ErrUnknownMemberID, req.MemberID, g.id))
			}
			m, isNew = &cmember{id: req.MemberID}, true
		} else if err := validateMemberEpoch(m, req.MemberEpoch, req.Topics); err != nil {
			return fail(err)
		}
	} else {
		inst := *req.InstanceID
		existing := g.members[g.static[inst]]
		switch {
		case create && existing == nil:
			if m = g.members[req.MemberID]; m == nil {
				m, isNew = &cmember{id: req.MemberID}, true
			}
		case create:
			if existing.epoch != leaveGroupStaticMemberEpoch {
				return fail(fmt.Errorf("%w: static member %s with instance id %s cannot join the group because the instance id is owned by %s member",
					ErrUnreleasedInstanceID, req.MemberID, inst, existing.id))
			}
			// The new incarnation takes over the old one's assignment.
			m = &cmember{
				id: req.MemberID, instanceID: existing.instanceID, rackID: existing.rackID,
				rebalanceTimeout: existing.rebalanceTimeout, subscribed: existing.subscribed,
				regex: existing.regex, assignor: existing.assignor,
				state: existing.state, assigned: existing.assigned.clone(), revoking: existing.revoking.clone(),
			}
			replaced, isNew = existing, true
		default:
			if existing == nil {
				return fail(fmt.Errorf("%w: instance id %s is unknown", ErrUnknownMemberID, inst))
			}
			if existing.id != req.MemberID {
				return fail(fmt.Errorf("%w: static member %s with instance id %s was fenced by member %s",
					ErrFencedInstanceID, req.MemberID, inst, existing.id))
			}
			if err := validateMemberEpoch(existing, req.MemberEpoch, req.Topics); err != nil {
				return fail(err)
			}
			m = existing
		}
	}

	// What is persisted of the member, to tell whether this heartbeat
	// changed the group (maps and slices are replaced, never modified).
	before := *m

	// Validate what could still fail before changing anything.
	newRegex := m.regex
	if req.SubscribedTopicRegex != nil {
		newRegex = *req.SubscribedTopicRegex
	}
	if newRegex != m.regex && newRegex != "" {
		if _, err := compileRegex(newRegex); err != nil {
			return fail(fmt.Errorf("%w: SubscribedTopicRegex `%s` is not a valid regular expression: %v",
				ErrInvalidRegularExpression, newRegex, err))
		}
	}

	// 1. Update the member.
	oldAssigned := m.assigned.partitions()
	if isNew && m.assigned == nil {
		m.assigned, m.revoking = epochSet{}, epochSet{}
	}
	bump := g.groupEpoch == 0
	if req.InstanceID != nil {
		m.instanceID = cloneString(req.InstanceID)
	}
	if req.RackID != nil {
		m.rackID = cloneString(req.RackID)
	}
	if req.RebalanceTimeoutMs != -1 {
		m.rebalanceTimeout = time.Duration(req.RebalanceTimeoutMs) * time.Millisecond
	}
	if req.ServerAssignor != nil {
		m.assignor = *req.ServerAssignor
	}
	if req.SubscribedTopicNames != nil {
		names := slices.Clone(req.SubscribedTopicNames)
		slices.Sort(names)
		names = slices.Compact(names)
		if !slices.Equal(names, m.subscribed) {
			bump = true
		}
		m.subscribed = names
	}
	if newRegex != m.regex {
		bump = true
		m.regex = newRegex
	}
	m.clientID, m.clientHost = req.ClientID, req.ClientHost
	if replaced != nil {
		g.c.log.Info("static member rejoined the consumer group, replacing the previous member", "group", g.id,
			"instance", *req.InstanceID, "member", m.id, "replaced", replaced.id)
		g.target[m.id] = g.target[replaced.id]
		g.removeMember(replaced)
	}
	if isNew {
		g.c.log.Info("member joined the consumer group", "group", g.id, "member", m.id)
		g.members[m.id] = m
		if m.instanceID != nil {
			g.static[*m.instanceID] = m.id
		}
		g.setOwnership(m, nil, nil)
	}

	// Subscription metadata: the subscribed topics as they are now.
	if g.refreshSubscription(topics) {
		bump = true
	}
	if bump {
		g.groupEpoch++
		g.c.log.Info("bumped consumer group epoch", "group", g.id, "epoch", g.groupEpoch)
	}

	// 2. A new target assignment when the group epoch moved on.
	if g.groupEpoch > g.assignmentEpoch {
		g.computeTargetAssignment()
	}

	// 3. Reconcile the member towards its target.
	g.reconcile(m, req.Topics)
	g.scheduleSession(m)
	if isNew || bump || memberChanged(&before, m) {
		g.store()
	}

	res := ConsumerHeartbeatResult{MemberID: m.id, MemberEpoch: m.epoch, HeartbeatInterval: g.c.heartbeatInterval()}
	full := req.MemberEpoch == 0 || (req.RebalanceTimeoutMs != -1 &&
		(req.SubscribedTopicNames != nil || req.SubscribedTopicRegex != nil) && req.Topics != nil)
	if cur := m.assigned.partitions(); full || !cur.equal(oldAssigned) {
		res.Assignment = toTopicPartitions(cur, nil)
		if res.Assignment == nil {
			res.Assignment = []TopicPartitions{}
		}
	}
	return res
}

// validateMemberEpoch is Kafka's throwIfConsumerGroupMemberEpochIsInvalid,
// with KAFKA-19233: epoch 0 always rejoins (a fenced member keeps its id).
func validateMemberEpoch(m *cmember, received int32, owned []TopicPartitions) error {
	switch {
	case received == 0:
		return nil
	case received > m.epoch:
		return fmt.Errorf("%w: the consumer group member has a greater member epoch (%d) than the one known by the group coordinator (%d). The member must abandon all its partitions and rejoin",
			ErrFencedMemberEpoch, received, m.epoch)
	case received < m.epoch:
		// The previous epoch with a subset of the current assignment is
		// accepted: the response that bumped the epoch may have been lost.
		if received != m.prevEpoch || !isSubset(owned, m.assigned) {
			return fmt.Errorf("%w: the consumer group member has a smaller member epoch (%d) than the one known by the group coordinator (%d). The member must abandon all its partitions and rejoin",
				ErrFencedMemberEpoch, received, m.epoch)
		}
	}
	return nil
}

func isSubset(owned []TopicPartitions, assigned epochSet) bool {
	if owned == nil {
		return false
	}
	for _, t := range owned {
		ps, ok := assigned[t.TopicID]
		if !ok {
			return false
		}
		for _, p := range t.Partitions {
			if _, ok := ps[p]; !ok {
				return false
			}
		}
	}
	return true
}

// compileRegex compiles a SubscribedTopicRegex. Kafka uses RE2/J syntax
// matched against the whole topic name; Go's regexp is RE2 syntax, so the
// two agree on everything but a few Java-only escapes.
func compileRegex(re string) (*regexp.Regexp, error) {
	return regexp.Compile(`^(?:` + re + `)$`)
}

// subscribedNames is every topic name the member subscribes to, by name or
// through its regex as last resolved.
func (g *consumerGroup) subscribedNames(m *cmember) []string {
	names := slices.Clone(m.subscribed)
	if m.regex != "" {
		names = append(names, g.resolved[m.regex]...)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// memberTopicIDs is the member's subscription as ids of existing topics.
func (g *consumerGroup) memberTopicIDs(m *cmember) []TopicID {
	var ids []TopicID
	for _, n := range g.subscribedNames(m) {
		if tm, ok := g.subscription[n]; ok {
			ids = append(ids, tm.id)
		}
	}
	return ids
}

// refreshSubscription resolves the members' regexes against the current
// topics and recomputes the subscription metadata; it reports whether
// either changed (which bumps the group epoch).
func (g *consumerGroup) refreshSubscription(topics []TopicInfo) bool {
	changed := false
	regexes := map[string]bool{}
	for _, m := range g.members {
		if m.regex != "" {
			regexes[m.regex] = true
		}
	}
	for re := range g.resolved {
		if !regexes[re] {
			delete(g.resolved, re)
			delete(g.compiled, re)
		}
	}
	for re := range regexes {
		var matched []string
		cre, ok := g.compiled[re]
		if !ok {
			cre, _ = compileRegex(re) // validated when the member sent it
			g.compiled[re] = cre
		}
		if cre != nil {
			for _, t := range topics {
				if cre.MatchString(t.Name) {
					matched = append(matched, t.Name)
				}
			}
		}
		slices.Sort(matched)
		if old, ok := g.resolved[re]; !ok || !slices.Equal(old, matched) {
			changed = true
		}
		g.resolved[re] = matched
	}
	wanted := map[string]bool{}
	for _, m := range g.members {
		for _, n := range g.subscribedNames(m) {
			wanted[n] = true
		}
	}
	sub := map[string]topicMeta{}
	for _, t := range topics {
		if wanted[t.Name] {
			sub[t.Name] = topicMeta{id: t.ID, partitions: t.Partitions}
		}
	}
	if !maps.Equal(sub, g.subscription) {
		changed = true
		g.subscription = sub
	}
	return changed
}

// preferredAssignor is the assignor most members name, else the default
// (Kafka's computePreferredServerAssignor); ties go to the first in name
// order.
func (g *consumerGroup) preferredAssignor() string {
	counts := map[string]int{}
	for _, m := range g.members {
		if m.assignor != "" {
			counts[m.assignor]++
		}
	}
	best, n := assignors[0], 0
	for _, name := range slices.Sorted(maps.Keys(counts)) {
		if counts[name] > n {
			best, n = name, counts[name]
		}
	}
	return best
}

// computeTargetAssignment runs the assignor for every member and moves the
// target assignment epoch to the group epoch.
func (g *consumerGroup) computeTargetAssignment() {
	spec := assignSpec{members: map[string][]TopicID{}, partitions: map[TopicID]int32{}, current: g.target}
	for _, tm := range g.subscription {
		spec.partitions[tm.id] = tm.partitions
	}
	for id, m := range g.members {
		spec.members[id] = g.memberTopicIDs(m)
	}
	name := g.preferredAssignor()
	g.target = assign(name, spec)
	g.assignmentEpoch = g.groupEpoch
	g.c.log.Info("computed a new target assignment", "group", g.id, "epoch", g.groupEpoch, "assignor", name, "members", len(g.members))
}

// ownsAny reports whether owned (the partitions the member reports)
// includes any of set; an unknown owned list (nil) counts as owning all
// (Kafka's ownsRevokedPartitions).
func ownsAny(owned []TopicPartitions, set epochSet) bool {
	if owned == nil {
		return true
	}
	for _, t := range owned {
		ps := set[t.TopicID]
		for _, p := range t.Partitions {
			if _, ok := ps[p]; ok {
				return true
			}
		}
	}
	return false
}

// reconcile is Kafka's maybeReconcile with CurrentAssignmentBuilder: it
// moves the member towards its target assignment, revoking before
// assigning, and never assigns a partition another member still holds.
func (g *consumerGroup) reconcile(m *cmember, owned []TopicPartitions) {
	if m.isReconciledTo(g.assignmentEpoch) {
		return
	}
	switch m.state {
	case mUnrevoked:
		if ownsAny(owned, m.revoking) {
			return // still holds partitions it must give up
		}
		g.nextAssignment(m, owned)
	default:
		g.nextAssignment(m, owned)
	}
	if m.state == mUnrevoked {
		g.scheduleRebalanceTimeout(m)
	} else {
		m.cancelRebalanceTimer()
	}
}

// nextAssignment is CurrentAssignmentBuilder.computeNextAssignment.
func (g *consumerGroup) nextAssignment(m *cmember, owned []TopicPartitions) {
	targetEpoch := g.assignmentEpoch
	target := g.target[m.id]
	subscribed := map[TopicID]bool{}
	for _, id := range g.memberTopicIDs(m) {
		subscribed[id] = true
	}
	newAssigned, newRevoking := epochSet{}, epochSet{}
	pending := map[TopicID][]int32{}
	unreleased := false
	topics := map[TopicID]bool{}
	for t := range target {
		topics[t] = true
	}
	for t := range m.assigned {
		topics[t] = true
	}
	for t := range topics {
		var want []int32
		if subscribed[t] {
			want = target[t]
		}
		for p, e := range m.assigned[t] {
			if slices.Contains(want, p) {
				newAssigned.add(t, p, e)
			} else {
				newRevoking.add(t, p, e)
			}
		}
		for _, p := range want {
			if _, kept := newAssigned[t][p]; kept {
				continue
			}
			if holder, held := g.owner[tp{t, p}]; held && holder != m.id {
				unreleased = true // the previous owner has not released it yet
				continue
			}
			pending[t] = append(pending[t], p)
		}
	}
	prevAssigned, prevRevoking := m.assigned, m.revoking
	switch {
	case len(newRevoking) > 0 && ownsAny(owned, newRevoking):
		// Revoke first; the epoch stays until the member confirms.
		m.state = mUnrevoked
		m.prevEpoch = m.epoch
		m.assigned, m.revoking = newAssigned, newRevoking
	default:
		for t, ps := range pending {
			for _, p := range ps {
				newAssigned.add(t, p, targetEpoch)
			}
		}
		m.state = mStable
		if unreleased {
			m.state = mUnreleased
		}
		m.prevEpoch, m.epoch = m.epoch, targetEpoch
		m.assigned, m.revoking = newAssigned, epochSet{}
	}
	g.setOwnership(m, prevAssigned, prevRevoking)
}

// setOwnership replaces the member's entries in the partition owner map.
func (g *consumerGroup) setOwnership(m *cmember, prevAssigned, prevRevoking epochSet) {
	for _, set := range []epochSet{prevAssigned, prevRevoking} {
		for t, ps := range set {
			for p := range ps {
				if g.owner[tp{t, p}] == m.id {
					delete(g.owner, tp{t, p})
				}
			}
		}
	}
	for _, set := range []epochSet{m.assigned, m.revoking} {
		for t, ps := range set {
			for p := range ps {
				g.owner[tp{t, p}] = m.id
			}
		}
	}
}

// removeMember drops a member and what it holds, without bumping the epoch.
func (g *consumerGroup) removeMember(m *cmember) {
	m.stopTimers()
	g.setOwnership(&cmember{id: m.id}, m.assigned, m.revoking)
	delete(g.members, m.id)
	delete(g.target, m.id)
	if m.instanceID != nil && g.static[*m.instanceID] == m.id {
		delete(g.static, *m.instanceID)
	}
	if len(g.members) == 0 {
		g.emptySince = g.c.cfg.Now()
	}
}

// fenceMember removes a member and bumps the group epoch so that the
// others are reassigned its partitions (Kafka's consumerGroupFenceMember).
func (g *consumerGroup) fenceMember(m *cmember, reason string) {
	g.c.log.Info("member removed from the consumer group", "group", g.id, "member", m.id, "reason", reason)
	g.removeMember(m)
	g.refreshSubscription(g.c.topicsNow())
	g.groupEpoch++
	g.store()
}

func (g *consumerGroup) scheduleSession(m *cmember) {
	if m.sessionTimer != nil {
		m.sessionTimer.Stop()
	}
	m.sessionSeq++
	seq := m.sessionSeq
	m.sessionTimer = time.AfterFunc(g.c.sessionTimeout(), func() {
		g.mu.Lock()
		defer g.unlock()
		if g.dead || g.members[m.id] != m || m.sessionSeq != seq {
			return
		}
		g.fenceMember(m, "the member session expired")
	})
}

func (g *consumerGroup) scheduleRebalanceTimeout(m *cmember) {
	if m.rebalanceTimer != nil {
		return // already running for this epoch
	}
	m.rebalanceSeq++
	seq, epoch := m.rebalanceSeq, m.epoch
	timeout := m.rebalanceTimeout
	if timeout <= 0 {
		timeout = g.c.sessionTimeout()
	}
	m.rebalanceTimer = time.AfterFunc(timeout, func() {
		g.mu.Lock()
		defer g.unlock()
		if g.dead || g.members[m.id] != m || m.rebalanceSeq != seq || m.epoch != epoch {
			return
		}
		g.fenceMember(m, fmt.Sprintf("it failed to transition from epoch %d within %v", epoch, timeout))
	})
}

// consumerLeave is Kafka's consumerGroupLeave: epoch -1 removes the member
// (dynamic, or static by instance id); -2 marks a static member as
// temporarily gone: it keeps its partitions until it rejoins with the same
// instance id or its session expires.
func (c *Coordinator) consumerLeave(req *ConsumerHeartbeatRequest) ConsumerHeartbeatResult {
	g := c.getConsumerGroup(req.GroupID)
	if g == nil {
		if c.isClosed() {
			return ConsumerHeartbeatResult{Err: ErrCoordinatorNotAvailable}
		}
		return ConsumerHeartbeatResult{Err: fmt.Errorf("%w: consumer group %s not found", ErrGroupIDNotFound, req.GroupID)}
	}
	g.mu.Lock()
	defer g.unlock()
	if g.dead {
		return ConsumerHeartbeatResult{Err: ErrCoordinatorNotAvailable}
	}
	res := ConsumerHeartbeatResult{MemberID: req.MemberID, MemberEpoch: req.MemberEpoch}
	if req.InstanceID == nil {
		m := g.members[req.MemberID]
		if m == nil {
			return ConsumerHeartbeatResult{Err: fmt.Errorf("%w: member %s is not a member of group %s", ErrUnknownMemberID, req.MemberID, g.id)}
		}
		g.fenceMember(m, "the member left the group")
		return res
	}
	inst := *req.InstanceID
	m := g.members[g.static[inst]]
	if m == nil {
		return ConsumerHeartbeatResult{Err: fmt.Errorf("%w: instance id %s is unknown", ErrUnknownMemberID, inst)}
	}
	if m.id != req.MemberID {
		return ConsumerHeartbeatResult{Err: fmt.Errorf("%w: static member %s with instance id %s was fenced by member %s",
			ErrFencedInstanceID, req.MemberID, inst, m.id)}
	}
	if req.MemberEpoch == leaveGroupStaticMemberEpoch {
		g.c.log.Info("static member temporarily left the consumer group", "group", g.id, "member", m.id, "instance", inst)
		prevAssigned, prevRevoking := m.assigned, m.revoking
		m.prevEpoch, m.epoch = m.epoch, leaveGroupStaticMemberEpoch
		m.revoking = epochSet{}
		m.cancelRebalanceTimer()
		g.setOwnership(m, prevAssigned, prevRevoking)
		g.store()
		res.MemberID = m.id
		return res
	}
	g.fenceMember(m, "the static member left the group")
	return res
}

// toTopicPartitions lists a partition set sorted by topic id, with names
// from byID when given.
func toTopicPartitions(ps partitionSet, byID map[TopicID]string) []TopicPartitions {
	var out []TopicPartitions
	for _, t := range slices.SortedFunc(maps.Keys(ps), compareIDs) {
		out = append(out, TopicPartitions{TopicID: t, Name: byID[t], Partitions: sortedCopy(ps[t])})
	}
	return out
}

// newUUIDString is a random UUID in Java's form (a v0 member id).
func newUUIDString() string {
	id := newMemberID("x")
	return id[2:]
}

// ConsumerMemberDescription is a member in a ConsumerGroupDescribe response.
type ConsumerMemberDescription struct {
	MemberID             string
	InstanceID           *string
	RackID               *string
	MemberEpoch          int32
	ClientID             string
	ClientHost           string
	SubscribedTopicNames []string
	SubscribedTopicRegex *string
	Assignment           []TopicPartitions
	TargetAssignment     []TopicPartitions
}

// ConsumerGroupDescription is a ConsumerGroupDescribe result. Err is
// ErrGroupIDNotFound for an unknown group or one that is not a consumer
// group, ErrCoordinatorNotAvailable after Close.
type ConsumerGroupDescription struct {
	GroupID         string
	Err             error
	State           string
	Epoch           int32
	AssignmentEpoch int32
	AssignorName    string
	Members         []ConsumerMemberDescription
}

// DescribeConsumerGroup handles ConsumerGroupDescribe for one group
// (Kafka's ConsumerGroup.asDescribedGroup). Members are sorted by id.
func (c *Coordinator) DescribeConsumerGroup(groupID string) ConsumerGroupDescription {
	d := ConsumerGroupDescription{GroupID: groupID}
	if c.isClosed() {
		d.Err = ErrCoordinatorNotAvailable
		return d
	}
	g := c.getConsumerGroup(groupID)
	if g == nil {
		if c.getGroup(groupID) != nil {
			d.Err = fmt.Errorf("%w: group %s is not a consumer group", ErrGroupIDNotFound, groupID)
		} else {
			d.Err = fmt.Errorf("%w: group %s not found", ErrGroupIDNotFound, groupID)
		}
		return d
	}
	byID := map[TopicID]string{}
	for _, t := range c.topicsNow() {
		byID[t.ID] = t.Name
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.dead {
		d.Err = fmt.Errorf("%w: group %s not found", ErrGroupIDNotFound, groupID)
		return d
	}
	d.State, d.Epoch, d.AssignmentEpoch, d.AssignorName = g.state(), g.groupEpoch, g.assignmentEpoch, g.preferredAssignor()
	for _, id := range slices.Sorted(maps.Keys(g.members)) {
		m := g.members[id]
		md := ConsumerMemberDescription{
			MemberID: m.id, InstanceID: cloneString(m.instanceID), RackID: cloneString(m.rackID),
			MemberEpoch: m.epoch, ClientID: m.clientID, ClientHost: m.clientHost,
			SubscribedTopicNames: slices.Clone(m.subscribed),
			Assignment:           toTopicPartitions(m.assigned.partitions(), byID),
			TargetAssignment:     toTopicPartitions(g.target[m.id], byID),
		}
		if md.SubscribedTopicNames == nil {
			md.SubscribedTopicNames = []string{}
		}
		if m.regex != "" {
			re := m.regex
			md.SubscribedTopicRegex = &re
		}
		d.Members = append(d.Members, md)
	}
	return d
}

// CommitRequest is an OffsetCommit (or TxnOffsetCommit) to validate.
type CommitRequest struct {
	GroupID    string
	MemberID   string
	InstanceID *string
	// Epoch is the generation (classic) or member epoch (consumer).
	Epoch int32
	// Version is the OffsetCommit version (TxnOffsetCommit: ignored).
	Version int16
}

// PartitionValidator checks one partition of a commit the group accepted as
// a whole: with KIP-1251 a consumer-protocol member may commit with an
// epoch older than its current one for partitions assigned to it at or
// before that epoch; other partitions get ErrStaleMemberEpoch. Nil means
// every partition is accepted.
type PartitionValidator func(topicID [16]byte, partition int32) error

// ValidateOffsetCommit validates an OffsetCommit against classic or consumer
// groups, as Kafka 4's OffsetMetadataManager.validateOffsetCommit:
//   - unknown group: epoch < 0 creates a (classic, Empty) group and accepts;
//     otherwise ErrGroupIDNotFound from OffsetCommit v9, ErrIllegalGeneration
//     before.
//   - classic group: ValidateCommit's rules.
//   - consumer group: epoch < 0 on a group without members is accepted;
//     otherwise the member must exist (ErrUnknownMemberID), use OffsetCommit
//     v9+ (ErrUnsupportedVersion), and commit with an epoch no newer than its
//     own (ErrStaleMemberEpoch); an older epoch is checked per partition.
func (c *Coordinator) ValidateOffsetCommit(req CommitRequest) (PartitionValidator, error) {
	if g := c.getConsumerGroup(req.GroupID); g != nil {
		return g.validateCommit(&req, false)
	}
	if req.Epoch >= 0 && req.Version >= 9 && c.getGroup(req.GroupID) == nil && !c.isClosed() {
		return nil, fmt.Errorf("%w: group %s not found", ErrGroupIDNotFound, req.GroupID)
	}
	return nil, c.validateCommit(req.GroupID, req.MemberID, req.InstanceID, req.Epoch, false)
}

func (g *consumerGroup) validateCommit(req *CommitRequest, txn bool) (PartitionValidator, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.dead {
		return nil, ErrCoordinatorNotAvailable
	}
	if req.Epoch < 0 && len(g.members) == 0 {
		return nil, nil
	}
	if txn && req.Epoch < 0 && req.MemberID == "" && req.InstanceID == nil {
		return nil, nil
	}
	m := g.members[req.MemberID]
	if m == nil {
		return nil, fmt.Errorf("%w: member %s is not a member of group %s", ErrUnknownMemberID, req.MemberID, g.id)
	}
	if !txn && req.Version < 9 {
		return nil, fmt.Errorf("%w: OffsetCommit version 9 or above must be used by members using the consumer group protocol", ErrUnsupportedVersion)
	}
	stale := func() error {
		return fmt.Errorf("%w: the received member epoch %d does not match the expected member epoch %d",
			ErrStaleMemberEpoch, req.Epoch, m.epoch)
	}
	switch {
	case req.Epoch == m.epoch:
		return nil, nil
	case req.Epoch > m.epoch || req.Epoch < 0:
		return nil, stale()
	}
	// KIP-1251: assignment epoch <= commit epoch <= member epoch.
	assigned, revoking, epoch := m.assigned.clone(), m.revoking.clone(), req.Epoch
	return func(topicID [16]byte, partition int32) error {
		e, ok := assigned[topicID][partition]
		if !ok {
			e, ok = revoking[topicID][partition]
		}
		if !ok || e > epoch {
			return stale()
		}
		return nil
	}, nil
}

// ValidateOffsetFetch checks OffsetFetch v9+'s member id and epoch, as
// Kafka's ConsumerGroup.validateOffsetFetch: without a member id and with a
// negative epoch anything goes; otherwise, for a consumer group, the member
// must exist (ErrUnknownMemberID) and the epoch be its current one
// (ErrStaleMemberEpoch). Classic and unknown groups are not checked here.
func (c *Coordinator) ValidateOffsetFetch(groupID string, memberID *string, epoch int32) error {
	if memberID == nil && epoch < 0 {
		return nil
	}
	g := c.getConsumerGroup(groupID)
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.dead {
		return nil
	}
	id := ""
	if memberID != nil {
		id = *memberID
	}
	m := g.members[id]
	if m == nil {
		return fmt.Errorf("%w: member %s is not a member of group %s", ErrUnknownMemberID, id, groupID)
	}
	if epoch != m.epoch {
		return fmt.Errorf("%w: the received member epoch %d does not match the expected member epoch %d",
			ErrStaleMemberEpoch, epoch, m.epoch)
	}
	return nil
}

// subscribedTopics is the union of the members' subscribed topic names
// (regexes resolved).
func (g *consumerGroup) subscribedTopics() []string {
	var out []string
	for _, m := range g.members {
		out = append(out, g.subscribedNames(m)...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// shutdown marks the group dead and stops its timers.
func (g *consumerGroup) shutdown() {
	g.dead = true
	for _, m := range g.members {
		m.stopTimers()
	}
}

// SetTopicLookupIfUnset sets the topic lookup unless one is set already
// (the Kafka handlers install theirs on first use when the broker did not).
func (c *Coordinator) SetTopicLookupIfUnset(l TopicLookup) {
	c.topicLookup.CompareAndSwap(nil, &l)
}

// memberChanged reports whether a heartbeat changed what is persisted of a
// member (before is a copy taken before the heartbeat changed it).
func memberChanged(before, m *cmember) bool {
	return before.epoch != m.epoch || before.prevEpoch != m.prevEpoch || before.state != m.state ||
		before.rebalanceTimeout != m.rebalanceTimeout || before.regex != m.regex || before.assignor != m.assignor ||
		before.clientID != m.clientID || before.clientHost != m.clientHost ||
		!equalStrPtr(before.instanceID, m.instanceID) || !equalStrPtr(before.rackID, m.rackID) ||
		!slices.Equal(before.subscribed, m.subscribed) ||
		!equalEpochs(before.assigned, m.assigned) || !equalEpochs(before.revoking, m.revoking)
}

func equalStrPtr(a, b *string) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

func equalEpochs(a, b epochSet) bool {
	if len(a) != len(b) {
		return false
	}
	for t, ps := range a {
		qs, ok := b[t]
		if !ok || !maps.Equal(ps, qs) {
			return false
		}
	}
	return true
}
