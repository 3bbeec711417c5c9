// Package group is Chronik's classic consumer group coordinator: Kafka's
// JoinGroup / SyncGroup / Heartbeat / LeaveGroup state machine (the "classic"
// rebalance protocol, KIP-62, KIP-345 static membership, KIP-394
// MEMBER_ID_REQUIRED, KIP-814 skip assignment) for a single node, with no
// wire code. The broker is oblivious of what members put in their protocol
// metadata and assignments: every client-side assignor (range, roundrobin,
// sticky, cooperative-sticky) works as long as generations are run
// correctly.
//
// States (Kafka's): Empty -> PreparingRebalance -> CompletingRebalance ->
// Stable, back to PreparingRebalance on any membership change, to Empty when
// the last member leaves, and Dead when deleted or when the coordinator is
// closed. Each group has its own mutex; Join and Sync block until the phase
// completes, the context ends, or the coordinator closes.
package group

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Coordinator manages every classic group of this node.
type Coordinator struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	groups map[string]*group
	// cgroups are the consumer-protocol groups (consumer_group.go); an id
	// is in at most one of groups and cgroups.
	cgroups     map[string]*consumerGroup
	topicLookup atomic.Pointer[TopicLookup]
	closed      bool
	done        chan struct{}

	// Group metadata persistence (persist.go).
	store         atomic.Pointer[MetadataStore]
	persist       persister
	persistMu     sync.RWMutex // held shared by writes, exclusively by Close
	persistClosed bool
}

// NewCoordinator returns a coordinator; zero Config fields take Kafka's
// defaults as documented on Config.
func NewCoordinator(cfg Config, logger *slog.Logger) *Coordinator {
	return &Coordinator{
		cfg:     cfg.withDefaults(),
		log:     discardLogger(logger).With("component", "group-coordinator"),
		groups:  map[string]*group{},
		cgroups: map[string]*consumerGroup{},
		done:    make(chan struct{}),
	}
}

// Close marks every group Dead, stops all timers, and answers every parked
// Join and Sync with ErrCoordinatorNotAvailable. Every later call fails with
// ErrCoordinatorNotAvailable. Close is idempotent.
func (c *Coordinator) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	close(c.done)
	groups, cgroups := c.groups, c.cgroups
	c.groups, c.cgroups = map[string]*group{}, map[string]*consumerGroup{}
	c.mu.Unlock()

	for _, g := range groups {
		g.mu.Lock()
		g.shutdown(ErrCoordinatorNotAvailable)
		g.mu.Unlock()
	}
	for _, g := range cgroups {
		g.mu.Lock()
		g.shutdown()
		g.mu.Unlock()
	}
	// Writes in flight finish; nothing is written about the shutdown, so
	// the stored groups come back as they were.
	c.closePersistence()
}

func (c *Coordinator) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

func (c *Coordinator) getGroup(id string) *group {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.groups[id]
}

// getOrMaybeCreate returns the group, creating it (Empty) if create is set.
// It returns ErrCoordinatorNotAvailable after Close.
func (c *Coordinator) getOrMaybeCreate(id string, create bool) (*group, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrCoordinatorNotAvailable
	}
	if c.cgroups[id] != nil {
		// A consumer-protocol group: classic requests see no such group.
		return nil, nil
	}
	g := c.groups[id]
	if g == nil && create {
		g = newGroup(c, id)
		c.groups[id] = g
	}
	return g, nil
}

// Join handles JoinGroup. It blocks until the join phase completes (or the
// request is answered at once: errors, MEMBER_ID_REQUIRED, a follower
// rejoining a stable group unchanged, ...). If ctx ends first, it returns an
// error matching both ErrRebalanceInProgress and ctx.Err(); the member stays
// in the rebalance, as in Kafka, where a response to a closed connection is
// simply lost.
//
// Behaviour, as Kafka's GroupCoordinator.handleJoinGroup:
//   - empty group id: ErrInvalidGroupID; session timeout outside
//     [MinSessionTimeout, MaxSessionTimeout]: ErrInvalidSessionTimeout.
//   - unknown group with a member id: ErrUnknownMemberID; unknown group
//     without one creates it.
//   - group.max.size exceeded: ErrGroupMaxSizeReached.
//   - protocol type differs from the group's, or no protocol shared by all
//     members (or, for the first member, empty type or list):
//     ErrInconsistentGroupProtocol.
//   - new dynamic member with RequireKnownMemberID: ErrMemberIDRequired with
//     a MemberID (clientID-UUID) to join with; it is pending until it joins,
//     and dropped after its session timeout otherwise.
//   - new static member whose instance id is known: replaces the old member
//     (whose parked requests, and later requests, get ErrFencedInstanceID);
//     a Stable group does not rebalance unless the selected protocol would
//     change.
//   - a known member joining: rebalance, except a follower with unchanged
//     metadata in a Stable group, or any member with unchanged metadata in
//     CompletingRebalance, which get the current generation back at once.
//   - ErrCoordinatorNotAvailable after Close or for a group being deleted.
func (c *Coordinator) Join(ctx context.Context, req JoinRequest) JoinResult {
	if req.GroupID == "" {
		return joinError(req.MemberID, ErrInvalidGroupID)
	}
	if c.isClosed() {
		return joinError(req.MemberID, ErrCoordinatorNotAvailable)
	}
	if req.SessionTimeout < c.cfg.MinSessionTimeout || req.SessionTimeout > c.cfg.MaxSessionTimeout {
		return joinError(req.MemberID, ErrInvalidSessionTimeout)
	}
	if req.RebalanceTimeout <= 0 {
		req.RebalanceTimeout = req.SessionTimeout
	}
	if err := c.claimForClassic(req.GroupID); err != nil {
		return joinError(req.MemberID, err)
	}
	protocols := cloneProtocols(req.Protocols)
	isUnknown := req.MemberID == ""
	g, err := c.getOrMaybeCreate(req.GroupID, isUnknown)
	if err != nil {
		return joinError(req.MemberID, err)
	}
	if g == nil {
		return joinError(req.MemberID, ErrUnknownMemberID)
	}

	ch := make(chan JoinResult, 1)
	g.mu.Lock()
	switch {
	case !g.acceptJoiningMember(req.MemberID):
		g.remove(req.MemberID)
		ch <- joinError("", ErrGroupMaxSizeReached)
	case isUnknown:
		g.doNewMemberJoin(&req, protocols, ch)
	default:
		g.doCurrentMemberJoin(&req, protocols, ch)
	}
	g.tryCompleteJoin()
	g.unlock()

	select {
	case r := <-ch:
		return r
	default:
	}
	select {
	case r := <-ch:
		return r
	case <-ctx.Done():
		return joinError(req.MemberID, fmt.Errorf("%w: %w", ErrRebalanceInProgress, ctx.Err()))
	case <-c.done:
		select {
		case r := <-ch:
			return r
		default:
			return joinError(req.MemberID, ErrCoordinatorNotAvailable)
		}
	}
}

func (g *group) doNewMemberJoin(req *JoinRequest, protocols []Protocol, ch chan JoinResult) {
	if g.state == dead {
		ch <- joinError("", ErrCoordinatorNotAvailable)
		return
	}
	if !g.supportsProtocols(req.ProtocolType, protocols) {
		ch <- joinError("", ErrInconsistentGroupProtocol)
		return
	}
	if req.InstanceID != nil {
		newID := newMemberID(*req.InstanceID)
		if oldID, ok := g.static[*req.InstanceID]; ok {
			g.c.log.Info("static member with unknown member id joins; replacing the previous member",
				"group", g.id, "instance", *req.InstanceID, "old", oldID, "new", newID, "state", g.state.String())
			g.updateStaticMemberAndRebalance(req, oldID, newID, protocols, ch)
			return
		}
		g.addMemberAndRebalance(req, newID, protocols, ch)
		return
	}
	newID := newMemberID(req.ClientID)
	if req.RequireKnownMemberID {
		g.addPendingMember(newID, req.SessionTimeout)
		ch <- joinError(newID, ErrMemberIDRequired)
		return
	}
	g.addMemberAndRebalance(req, newID, protocols, ch)
}

func (g *group) doCurrentMemberJoin(req *JoinRequest, protocols []Protocol, ch chan JoinResult) {
	memberID := req.MemberID
	if g.state == dead {
		ch <- joinError(memberID, ErrCoordinatorNotAvailable)
		return
	}
	if !g.supportsProtocols(req.ProtocolType, protocols) {
		ch <- joinError(memberID, ErrInconsistentGroupProtocol)
		return
	}
	if _, ok := g.pending[memberID]; ok {
		if req.InstanceID != nil {
			// Kafka: IllegalStateException (pending members are dynamic).
			ch <- joinError(memberID, ErrUnknownServerError)
			return
		}
		g.addMemberAndRebalance(req, memberID, protocols, ch)
		return
	}
	if err := g.validateCurrentMember(memberID, req.InstanceID); err != nil {
		ch <- joinError(memberID, err)
		return
	}
	m := g.members[memberID]
	current := func() JoinResult {
		return JoinResult{
			GenerationID: g.generation, ProtocolType: g.protocolType, ProtocolName: g.protocolName,
			LeaderID: g.leader, MemberID: memberID,
		}
	}
	switch g.state {
	case preparingRebalance:
		g.updateMemberAndRebalance(m, req, protocols, ch, "member "+memberID+" joining group during PreparingRebalance; client reason: "+req.Reason)
	case completingRebalance:
		if m.matches(protocols) {
			// It probably missed its JoinGroup response: send it again.
			r := current()
			if memberID == g.leader {
				r.Members = g.currentMemberMetadata()
			}
			ch <- r
			return
		}
		g.updateMemberAndRebalance(m, req, protocols, ch, "updating metadata for member "+memberID+" during CompletingRebalance; client reason: "+req.Reason)
	case stable:
		switch {
		case memberID == g.leader:
			// The leader rejoins to have topic metadata changes reassigned.
			g.updateMemberAndRebalance(m, req, protocols, ch, "leader "+memberID+" re-joining group during Stable; client reason: "+req.Reason)
		case !m.matches(protocols):
			g.updateMemberAndRebalance(m, req, protocols, ch, "updating metadata for member "+memberID+" during Stable; client reason: "+req.Reason)
		default:
			ch <- current()
		}
	default:
		ch <- joinError(memberID, ErrUnknownMemberID)
	}
}

// Sync handles SyncGroup. The leader's call stores the assignment and
// answers every member; a follower's call waits for it. In a Stable group
// the member's current assignment is returned at once. If ctx ends first it
// returns an error matching both ErrRebalanceInProgress and ctx.Err().
//
// Errors: ErrInvalidGroupID, ErrUnknownMemberID (unknown group or member,
// Empty group), ErrFencedInstanceID, ErrIllegalGeneration,
// ErrInconsistentGroupProtocol (protocol type/name differ from the group's),
// ErrRebalanceInProgress (PreparingRebalance, or a rebalance started while
// waiting), ErrCoordinatorNotAvailable.
func (c *Coordinator) Sync(ctx context.Context, req SyncRequest) SyncResult {
	if req.GroupID == "" {
		return SyncResult{Err: ErrInvalidGroupID}
	}
	g, err := c.getOrMaybeCreate(req.GroupID, false)
	if err != nil {
		return SyncResult{Err: err}
	}
	if g == nil {
		return SyncResult{Err: ErrUnknownMemberID}
	}

	ch := make(chan SyncResult, 1)
	g.mu.Lock()
	done := g.doSync(&req, ch)
	g.unlock()
	if done != nil {
		// The generation's record is durable: hand out the assignments.
		g.mu.Lock()
		g.completeSync(done)
		g.unlock()
	}

	select {
	case r := <-ch:
		return r
	default:
	}
	select {
	case r := <-ch:
		return r
	case <-ctx.Done():
		return SyncResult{Err: fmt.Errorf("%w: %w", ErrRebalanceInProgress, ctx.Err())}
	case <-c.done:
		select {
		case r := <-ch:
			return r
		default:
			return SyncResult{Err: ErrCoordinatorNotAvailable}
		}
	}
}

// syncCompletion is a leader's SyncGroup whose assignment is being stored;
// it is applied once the write is done (Kafka's storeGroup callback).
type syncCompletion struct {
	generation  int32
	assignments map[string][]byte
}

// completeSync applies a stored leader assignment, unless the group moved
// on meanwhile (a rebalance started, which answered the parked syncs).
func (g *group) completeSync(s *syncCompletion) {
	if g.syncing != s || g.state != completingRebalance || g.generation != s.generation {
		return
	}
	g.syncing = nil
	g.setAndPropagateAssignment(s.assignments)
	g.transitionTo(stable)
}

// doSync handles a SyncGroup under the group lock. With a metadata store,
// the leader's assignment is returned to be applied (completeSync) once
// its record has been written.
func (g *group) doSync(req *SyncRequest, ch chan SyncResult) *syncCompletion {
	if g.state == dead {
		ch <- SyncResult{Err: ErrCoordinatorNotAvailable}
		return nil
	}
	if err := g.validateCurrentMember(req.MemberID, req.InstanceID); err != nil {
		ch <- SyncResult{Err: err}
		return nil
	}
	if req.GenerationID != g.generation {
		ch <- SyncResult{Err: ErrIllegalGeneration}
		return nil
	}
	if req.ProtocolType != nil && g.protocolType != "" && *req.ProtocolType != g.protocolType ||
		req.ProtocolName != nil && g.hasProtocol && *req.ProtocolName != g.protocolName {
		ch <- SyncResult{Err: ErrInconsistentGroupProtocol}
		return nil
	}
	m := g.members[req.MemberID]
	switch g.state {
	case empty:
		ch <- SyncResult{Err: ErrUnknownMemberID}
	case preparingRebalance:
		ch <- SyncResult{Err: ErrRebalanceInProgress}
	case completingRebalance:
		if m.syncCh != nil {
			g.invokeSync(m, SyncResult{Err: ErrRebalanceInProgress}) // superseded
		}
		m.syncCh = ch
		g.removePendingSyncMember(m.id)
		if m.id == g.leader {
			g.c.log.Info("assignment received from leader", "group", g.id, "leader", m.id,
				"generation", g.generation, "members", len(g.members))
			if g.c.metadataStore() == nil {
				g.setAndPropagateAssignment(req.Assignments)
				g.transitionTo(stable)
				return nil
			}
			// As Kafka: the group is stored before any member gets its
			// assignment; meanwhile it stays CompletingRebalance.
			done := &syncCompletion{generation: g.generation, assignments: map[string][]byte{}}
			for id, a := range req.Assignments {
				done.assignments[id] = bytes.Clone(a)
			}
			g.syncing = done
			g.storeRecord(g.stableRecord(done.assignments))
			return done
		}
	case stable:
		g.removePendingSyncMember(m.id)
		ch <- SyncResult{ProtocolType: g.protocolType, ProtocolName: g.protocolName, Assignment: m.assignment}
		g.rescheduleHeartbeat(m, m.sessionTimeout)
	}
	return nil
}

// Heartbeat handles Heartbeat: nil in Stable and CompletingRebalance,
// ErrRebalanceInProgress in PreparingRebalance (the member must rejoin);
// each accepted heartbeat restarts the member's session timeout. Errors:
// ErrInvalidGroupID, ErrUnknownMemberID, ErrFencedInstanceID,
// ErrIllegalGeneration, ErrCoordinatorNotAvailable.
func (c *Coordinator) Heartbeat(groupID, memberID string, instanceID *string, generation int32) error {
	if groupID == "" {
		return ErrInvalidGroupID
	}
	g, err := c.getOrMaybeCreate(groupID, false)
	if err != nil {
		return err
	}
	if g == nil {
		return ErrUnknownMemberID
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state == dead {
		return ErrCoordinatorNotAvailable
	}
	if err := g.validateCurrentMember(memberID, instanceID); err != nil {
		return err
	}
	if generation != g.generation {
		return ErrIllegalGeneration
	}
	m := g.members[memberID]
	switch g.state {
	case completingRebalance, stable:
		g.rescheduleHeartbeat(m, m.sessionTimeout)
		return nil
	case preparingRebalance:
		g.rescheduleHeartbeat(m, m.sessionTimeout)
		return ErrRebalanceInProgress
	default:
		return ErrUnknownMemberID
	}
}

// Leave handles LeaveGroup. perMember has one error per member, in order
// (nil when removed). A member is named by MemberID (validated against
// InstanceID when given), or, with an empty MemberID, by InstanceID alone
// (admin removal of a static member). Pending members (MEMBER_ID_REQUIRED)
// may leave too. An unknown group gives ErrUnknownMemberID for every member
// and err nil (Kafka 3.x); err is ErrInvalidGroupID or
// ErrCoordinatorNotAvailable when the whole request fails.
func (c *Coordinator) Leave(groupID string, members []LeaveMember) (perMember []error, err error) {
	if groupID == "" {
		return nil, ErrInvalidGroupID
	}
	g, err := c.getOrMaybeCreate(groupID, false)
	if err != nil {
		return nil, err
	}
	perMember = make([]error, len(members))
	if g == nil {
		for i := range perMember {
			perMember[i] = ErrUnknownMemberID
		}
		return perMember, nil
	}
	g.mu.Lock()
	defer g.unlock()
	if g.state == dead {
		return nil, ErrCoordinatorNotAvailable
	}
	for i, lm := range members {
		perMember[i] = g.leaveOne(lm)
	}
	return perMember, nil
}

func (g *group) leaveOne(lm LeaveMember) error {
	reason := lm.Reason
	if reason == "" {
		reason = "not provided"
	}
	removeCurrent := func(id string) {
		m := g.members[id]
		g.c.log.Info("member left the group", "group", g.id, "member", id, "reason", reason)
		g.removeMemberAndUpdateGroup(m, "removing member "+id+" on LeaveGroup; client reason: "+reason)
	}
	if lm.MemberID == "" {
		if lm.InstanceID == nil {
			return ErrUnknownMemberID
		}
		id, ok := g.static[*lm.InstanceID]
		if !ok {
			return ErrUnknownMemberID
		}
		removeCurrent(id)
		return nil
	}
	if _, ok := g.pending[lm.MemberID]; ok {
		g.c.log.Info("pending member left the group", "group", g.id, "member", lm.MemberID)
		g.removePendingMemberAndUpdateGroup(lm.MemberID)
		return nil
	}
	if err := g.validateCurrentMember(lm.MemberID, lm.InstanceID); err != nil {
		return err
	}
	removeCurrent(lm.MemberID)
	return nil
}

// ValidateCommit checks whether an OffsetCommit may be applied, with
// Kafka's rules:
//   - no such group: generation < 0 creates the group (Empty) and allows the
//     commit (a standalone consumer); otherwise ErrIllegalGeneration.
//   - generation < 0 on an Empty group: allowed.
//   - a generation >= 0, a member id or an instance id: the member must be
//     current (ErrUnknownMemberID, ErrFencedInstanceID) and the generation
//     the group's (ErrIllegalGeneration).
//   - otherwise (no member, generation < 0) on a group with members:
//     ErrUnknownMemberID.
//   - CompletingRebalance: ErrRebalanceInProgress.
//
// An accepted commit from a member counts as its heartbeat. After Close, or
// for a group being deleted: ErrCoordinatorNotAvailable. The empty group id
// is valid here, as in Kafka.
//
// For a consumer-protocol group the consumer group rules apply
// (ValidateOffsetCommit, strictly: an older member epoch is
// ErrStaleMemberEpoch).
func (c *Coordinator) ValidateCommit(groupID, memberID string, instanceID *string, generation int32) error {
	if g := c.getConsumerGroup(groupID); g != nil {
		v, err := g.validateCommit(&CommitRequest{GroupID: groupID, MemberID: memberID, InstanceID: instanceID, Epoch: generation, Version: 9}, false)
		if err == nil && v != nil {
			err = fmt.Errorf("%w: the received member epoch %d is not the member's current one", ErrStaleMemberEpoch, generation)
		}
		return err
	}
	return c.validateCommit(groupID, memberID, instanceID, generation, false)
}

// ValidateTxnCommit is ValidateCommit for TxnOffsetCommit, which Kafka
// validates slightly differently: the group is always created when missing;
// a request without member and generation is accepted whatever the group's
// state (old TxnOffsetCommit versions carry neither); and
// CompletingRebalance is not refused. It does not count as a heartbeat.
//
// For a consumer-protocol group, as Kafka: the member must exist and the
// epoch be current, a stale epoch being ErrIllegalGeneration.
func (c *Coordinator) ValidateTxnCommit(groupID, memberID string, instanceID *string, generation int32) error {
	if g := c.getConsumerGroup(groupID); g != nil {
		v, err := g.validateCommit(&CommitRequest{GroupID: groupID, MemberID: memberID, InstanceID: instanceID, Epoch: generation}, true)
		if errors.Is(err, ErrStaleMemberEpoch) || (err == nil && v != nil) {
			err = ErrIllegalGeneration
		}
		return err
	}
	return c.validateCommit(groupID, memberID, instanceID, generation, true)
}

func (c *Coordinator) validateCommit(groupID, memberID string, instanceID *string, generation int32, txn bool) error {
	g, err := c.getOrMaybeCreate(groupID, txn || generation < 0)
	if err != nil {
		return err
	}
	if g == nil {
		return ErrIllegalGeneration
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state == dead {
		return ErrCoordinatorNotAvailable
	}
	if generation < 0 && g.state == empty {
		return nil
	}
	if generation >= 0 || memberID != "" || instanceID != nil {
		if err := g.validateCurrentMember(memberID, instanceID); err != nil {
			return err
		}
		if generation != g.generation {
			return ErrIllegalGeneration
		}
	} else if !txn && g.state != empty {
		return ErrUnknownMemberID
	}
	if txn {
		return nil
	}
	switch g.state {
	case completingRebalance:
		return ErrRebalanceInProgress
	case stable, preparingRebalance:
		// Kafka accepts commits while preparing: the heartbeat response tells
		// the member to rejoin.
		if m := g.members[memberID]; m != nil {
			g.rescheduleHeartbeat(m, m.sessionTimeout)
		}
	}
	return nil
}

// Describe handles DescribeGroups for one group. An unknown group is
// described as Dead with no members and no error (Exists false); the handler
// answers GROUP_ID_NOT_FOUND for it in v6+. Protocol, and members' metadata
// and assignments, are only given for a Stable group, as Kafka does.
func (c *Coordinator) Describe(groupID string) Description {
	d := Description{GroupID: groupID, State: StateDead}
	if c.isClosed() {
		d.Err = ErrCoordinatorNotAvailable
		return d
	}
	if cg := c.getConsumerGroup(groupID); cg != nil {
		cg.mu.Lock()
		defer cg.mu.Unlock()
		d.Type, d.Exists, d.ProtocolType = TypeConsumer, !cg.dead, TypeConsumer
		d.SubscribedTopics = cg.subscribedTopics()
		return d
	}
	g := c.getGroup(groupID)
	if g == nil {
		return d
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	d.Type = TypeClassic
	d.State = g.state.String()
	d.ProtocolType = g.protocolType
	d.Exists = g.state != dead
	isStable := g.state == stable
	if isStable {
		d.Protocol = g.protocolName
	}
	for _, m := range g.sortedMembers() {
		md := MemberDescription{
			MemberID: m.id, InstanceID: m.instanceID, ClientID: m.clientID, ClientHost: m.clientHost,
			Metadata: []byte{}, Assignment: []byte{},
		}
		if isStable {
			if meta := m.metadata(g.protocolName); meta != nil {
				md.Metadata = meta
			}
			md.Assignment = m.assignment
		}
		d.Members = append(d.Members, md)
	}
	return d
}

// List handles ListGroups, sorted by group id. states filters on state
// names and types on group types, both case-insensitively; an empty filter
// matches everything. Classic groups are of type "classic", consumer
// protocol groups of type "consumer" (protocol type "consumer", states
// Empty, Assigning, Reconciling, Stable). After Close it lists nothing.
func (c *Coordinator) List(states, types []string) []Listing {
	wantType := func(t string) bool {
		return len(types) == 0 || slices.ContainsFunc(types, func(s string) bool { return strings.EqualFold(s, t) })
	}
	c.mu.Lock()
	groups := make([]*group, 0, len(c.groups))
	for _, g := range c.groups {
		groups = append(groups, g)
	}
	cgroups := make([]*consumerGroup, 0, len(c.cgroups))
	for _, g := range c.cgroups {
		cgroups = append(cgroups, g)
	}
	c.mu.Unlock()

	var all []Listing
	if wantType(TypeClassic) {
		for _, g := range groups {
			g.mu.Lock()
			all = append(all, Listing{GroupID: g.id, ProtocolType: g.protocolType, State: g.state.String(), Type: TypeClassic})
			g.mu.Unlock()
		}
	}
	if wantType(TypeConsumer) {
		for _, g := range cgroups {
			g.mu.Lock()
			if !g.dead {
				all = append(all, Listing{GroupID: g.id, ProtocolType: TypeConsumer, State: g.state(), Type: TypeConsumer})
			}
			g.mu.Unlock()
		}
	}
	var out []Listing
	for _, l := range all {
		if len(states) > 0 && !slices.ContainsFunc(states, func(s string) bool { return strings.EqualFold(s, l.State) }) {
			continue
		}
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b Listing) int { return strings.Compare(a.GroupID, b.GroupID) })
	return out
}

// Delete handles DeleteGroups for one group: an Empty group becomes Dead and
// is forgotten (the caller then deletes its offsets). ErrGroupIDNotFound if
// unknown, ErrNonEmptyGroup if it has members or is rebalancing. The lead's
// offset expiry should also Delete an Empty group once its last offset
// expires, as Kafka does.
func (c *Coordinator) Delete(groupID string) error {
	var ws []*persistWrite
	defer func() { c.flushWrites(ws) }() // after the locks are released
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrCoordinatorNotAvailable
	}
	if cg := c.cgroups[groupID]; cg != nil {
		cg.mu.Lock()
		defer cg.mu.Unlock()
		if len(cg.members) > 0 {
			return ErrNonEmptyGroup
		}
		cg.shutdown()
		cg.storeDelete()
		ws = cg.writes
		cg.writes = nil
		delete(c.cgroups, groupID)
		c.log.Info("consumer group deleted", "group", groupID)
		return nil
	}
	g := c.groups[groupID]
	if g == nil {
		return ErrGroupIDNotFound
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch g.state {
	case dead:
		delete(c.groups, groupID)
		return ErrGroupIDNotFound
	case empty:
		g.shutdown(ErrCoordinatorNotAvailable)
		g.storeDelete()
		ws = g.takeWrites()
		delete(c.groups, groupID)
		c.log.Info("group deleted", "group", groupID)
		return nil
	default:
		return ErrNonEmptyGroup
	}
}

// Touch makes the group exist (Empty) if it does not; the broker calls it
// for groups that have committed offsets (at load and on commit), so that
// ListGroups and DescribeGroups show them.
func (c *Coordinator) Touch(groupID string) {
	_, _ = c.getOrMaybeCreate(groupID, true)
}

// IsEmpty reports whether the group has no members: it is unknown or in the
// Empty state. Offset expiry uses it.
func (c *Coordinator) IsEmpty(groupID string) bool {
	if cg := c.getConsumerGroup(groupID); cg != nil {
		cg.mu.Lock()
		defer cg.mu.Unlock()
		return len(cg.members) == 0 || cg.dead
	}
	g := c.getGroup(groupID)
	if g == nil {
		return true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.state == empty || g.state == dead
}

// EmptySince returns when the group last became Empty (Kafka's
// currentStateTimestamp, which offset expiry of empty groups counts from);
// ok is false if the group is unknown or not Empty.
func (c *Coordinator) EmptySince(groupID string) (since time.Time, ok bool) {
	if cg := c.getConsumerGroup(groupID); cg != nil {
		cg.mu.Lock()
		defer cg.mu.Unlock()
		if len(cg.members) > 0 || cg.dead {
			return time.Time{}, false
		}
		return cg.emptySince, true
	}
	g := c.getGroup(groupID)
	if g == nil {
		return time.Time{}, false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state != empty {
		return time.Time{}, false
	}
	return g.stateSince, true
}

// claimForClassic prepares a JoinGroup on groupID: an Empty consumer group
// of that id is dropped so that a classic group can take its place, as
// Kafka does; a consumer group with members refuses classic members
// (ErrInconsistentGroupProtocol: Chronik does not run mixed groups).
func (c *Coordinator) claimForClassic(groupID string) error {
	var ws []*persistWrite
	defer func() { c.flushWrites(ws) }() // after the locks are released
	c.mu.Lock()
	defer c.mu.Unlock()
	cg := c.cgroups[groupID]
	if cg == nil {
		return nil
	}
	cg.mu.Lock()
	defer cg.mu.Unlock()
	if len(cg.members) > 0 {
		return fmt.Errorf("%w: group %s is a consumer group with members using the consumer protocol", ErrInconsistentGroupProtocol, groupID)
	}
	cg.shutdown()
	cg.storeDelete()
	ws = cg.writes
	cg.writes = nil
	delete(c.cgroups, groupID)
	c.log.Info("converted the empty consumer group to a classic group", "group", groupID)
	return nil
}
