package group

import (
	"bytes"
	"time"
)

// This file holds the rebalance protocol: Kafka's GroupCoordinator methods
// that run under the group lock. All methods require g.mu held.

// rescheduleHeartbeat (re)arms the member's session deadline.
func (g *group) rescheduleHeartbeat(m *member, timeout time.Duration) {
	m.stopHeartbeat()
	seq := m.hbSeq
	m.hbTimer = time.AfterFunc(timeout, func() { g.expireHeartbeat(m, seq) })
}

// expireHeartbeat runs when a member's deadline passes without a heartbeat.
func (g *group) expireHeartbeat(m *member, seq uint64) {
	g.mu.Lock()
	defer g.unlock()
	if g.state == dead || m.hbSeq != seq || g.members[m.id] != m {
		return
	}
	m.hbTimer = nil
	if m.hasSatisfiedHeartbeat() {
		return
	}
	g.c.log.Info("member failed, removing it from the group", "group", g.id, "member", m.id)
	g.removeMemberAndUpdateGroup(m, "removing member "+m.id+" on heartbeat expiration")
}

// addPendingMember registers a member id handed out with
// MEMBER_ID_REQUIRED; it is dropped if it does not join within timeout.
func (g *group) addPendingMember(id string, timeout time.Duration) {
	p := &pendingMember{}
	p.timer = time.AfterFunc(timeout, func() {
		g.mu.Lock()
		defer g.unlock()
		if g.pending[id] != p || g.state == dead {
			return
		}
		g.c.log.Info("pending member removed after session timeout expiration", "group", g.id, "member", id)
		g.removePendingMemberAndUpdateGroup(id)
	})
	g.pending[id] = p
}

func (g *group) removePendingMemberAndUpdateGroup(id string) {
	g.remove(id)
	if g.state == preparingRebalance {
		g.tryCompleteJoin()
	}
}

// removeMemberAndUpdateGroup removes a failed or leaving member. A parked
// JoinGroup gets UNKNOWN_MEMBER_ID so that a live client joins again.
func (g *group) removeMemberAndUpdateGroup(m *member, reason string) {
	g.invokeJoin(m, joinError("", ErrUnknownMemberID))
	g.remove(m.id)
	switch g.state {
	case stable, completingRebalance:
		g.maybePrepareRebalance(reason)
	case preparingRebalance:
		g.tryCompleteJoin()
	}
}

func (g *group) addMemberAndRebalance(req *JoinRequest, memberID string, protocols []Protocol, ch chan JoinResult) {
	m := &member{
		id:               memberID,
		instanceID:       cloneString(req.InstanceID),
		clientID:         req.ClientID,
		clientHost:       req.ClientHost,
		rebalanceTimeout: req.RebalanceTimeout,
		sessionTimeout:   req.SessionTimeout,
		protocolType:     req.ProtocolType,
		protocols:        protocols,
		assignment:       []byte{},
		isNew:            true,
	}
	// A member joining the initial rebalance extends its delay.
	if g.state == preparingRebalance && g.prevState == empty {
		g.newMemberAdded = true
	}
	g.add(m, ch)
	// A new member cannot heartbeat (it has no id yet) and a parked JoinGroup
	// cannot tell a disconnect: bound its wait instead of the session.
	g.rescheduleHeartbeat(m, g.c.cfg.NewMemberJoinTimeout)
	g.maybePrepareRebalance("adding new member " + memberID + "; client reason: " + req.Reason)
}

func (g *group) updateMemberAndRebalance(m *member, req *JoinRequest, protocols []Protocol, ch chan JoinResult, reason string) {
	g.updateMember(m, protocols, req.RebalanceTimeout, req.SessionTimeout, ch)
	g.maybePrepareRebalance(reason)
}

// updateStaticMemberAndRebalance handles a known group.instance.id joining
// with an unknown member id: the new incarnation replaces the old one.
func (g *group) updateStaticMemberAndRebalance(req *JoinRequest, oldID, newID string, protocols []Protocol, ch chan JoinResult) {
	instanceID := *req.InstanceID
	currentLeader := g.leader
	m := g.replaceStaticMember(instanceID, oldID, newID)
	g.rescheduleHeartbeat(m, m.sessionTimeout)
	g.updateMember(m, protocols, req.RebalanceTimeout, req.SessionTimeout, ch)

	switch g.state {
	case stable:
		// No rebalance unless the group's protocol would change.
		if p, ok := g.selectProtocol(); ok && g.hasProtocol && p == g.protocolName {
			g.c.log.Info("static member rejoined a stable group without changing its protocol; no rebalance",
				"group", g.id, "instance", instanceID, "member", newID)
			if req.SupportSkippingAssignment {
				isLeader := g.leader == newID
				var members []JoinMember
				if isLeader {
					members = g.currentMemberMetadata()
				}
				g.invokeJoin(m, JoinResult{
					GenerationID: g.generation, ProtocolType: g.protocolType, ProtocolName: g.protocolName,
					LeaderID: g.leader, MemberID: newID, Members: members, SkipAssignment: isLeader,
				})
			} else {
				// Answer with the old leader id so that a rejoining leader does
				// not run an assignment the stable group would ignore.
				g.invokeJoin(m, JoinResult{
					GenerationID: g.generation, ProtocolType: g.protocolType, ProtocolName: g.protocolName,
					LeaderID: currentLeader, MemberID: newID,
				})
			}
		} else {
			g.maybePrepareRebalance("group's selected protocol will change because static member " + newID +
				" with instance id " + instanceID + " joined with change of protocol; client reason: " + req.Reason)
		}
	case completingRebalance:
		// The leader may already be assigning to the old member id.
		g.prepareRebalance("updating metadata for static member " + newID + " with instance id " + instanceID +
			"; client reason: " + req.Reason)
	case preparingRebalance:
		// It is now awaiting join like the others.
	default:
		g.invokeJoin(m, joinError(newID, ErrUnknownServerError))
	}
}

func (g *group) maybePrepareRebalance(reason string) {
	if g.canRebalance() {
		g.prepareRebalance(reason)
	}
}

// prepareRebalance moves the group to PreparingRebalance. From Empty the
// join phase is the initial delayed join; otherwise it completes as soon as
// every member has rejoined, or after the rebalance timeout.
func (g *group) prepareRebalance(reason string) {
	if g.state == completingRebalance {
		g.resetAndPropagateAssignmentError(ErrRebalanceInProgress)
	}
	g.removeSyncExpiration()

	initial := g.state == empty
	g.transitionTo(preparingRebalance)
	g.c.log.Info("preparing to rebalance group", "group", g.id, "generation", g.generation, "reason", reason)

	if initial {
		delay := g.c.cfg.InitialRebalanceDelay
		remaining := max(g.rebalanceTimeout()-delay, 0)
		g.initialJoin = true
		g.scheduleInitialJoin(delay, remaining)
		return
	}
	if g.hasAllMembersJoined() {
		g.completeJoin()
		return
	}
	g.scheduleJoin(g.rebalanceTimeout())
}

// tryCompleteJoin completes the join phase once every known member (and
// every pending member) has joined. The initial delayed join only completes
// on its timer.
func (g *group) tryCompleteJoin() {
	if g.state == preparingRebalance && !g.initialJoin && g.hasAllMembersJoined() {
		g.completeJoin()
	}
}

func (g *group) scheduleJoin(d time.Duration) {
	g.stopJoinTimer()
	seq := g.joinSeq
	g.joinTimer = time.AfterFunc(d, func() {
		g.mu.Lock()
		defer g.unlock()
		if g.joinSeq != seq || g.state != preparingRebalance {
			return
		}
		g.joinTimer = nil
		g.completeJoin()
	})
}

// scheduleInitialJoin is Kafka's InitialDelayedJoin: wait delay; if new
// members arrived meanwhile and rebalance time remains, wait again (at most
// InitialRebalanceDelay, at most the remaining time).
func (g *group) scheduleInitialJoin(delay, remaining time.Duration) {
	g.stopJoinTimer()
	seq := g.joinSeq
	g.joinTimer = time.AfterFunc(delay, func() {
		g.mu.Lock()
		defer g.unlock()
		if g.joinSeq != seq || g.state != preparingRebalance {
			return
		}
		g.joinTimer = nil
		if g.newMemberAdded && remaining != 0 {
			g.newMemberAdded = false
			g.scheduleInitialJoin(min(g.c.cfg.InitialRebalanceDelay, remaining), max(remaining-delay, 0))
			return
		}
		g.completeJoin()
	})
}

// completeJoin ends the join phase: dynamic members that did not rejoin are
// dropped, the generation is bumped, and the parked JoinGroup requests are
// answered (the leader gets the member list).
func (g *group) completeJoin() {
	g.stopJoinTimer()
	g.initialJoin = false
	g.newMemberAdded = false

	for _, m := range g.sortedMembers() {
		if !m.awaitingJoin() && m.instanceID == nil {
			g.c.log.Info("removing member that did not rejoin", "group", g.id, "member", m.id)
			g.remove(m.id)
		}
	}
	if g.state == dead {
		return
	}
	if !g.maybeElectNewJoinedLeader() && len(g.members) > 0 {
		// Only static members that have not rejoined remain: wait another
		// rebalance timeout; their sessions expire meanwhile if they are gone.
		g.c.log.Error("group could not complete rebalance because no members rejoined", "group", g.id)
		g.scheduleJoin(g.rebalanceTimeout())
		return
	}

	g.initNextGeneration()
	if g.state == empty {
		g.c.log.Info("group is now empty", "group", g.id, "generation", g.generation)
		return
	}
	g.c.log.Info("stabilized group", "group", g.id, "generation", g.generation,
		"protocol", g.protocolName, "members", len(g.members), "leader", g.leader)
	for _, m := range g.sortedMembers() {
		r := JoinResult{
			GenerationID: g.generation,
			ProtocolType: g.protocolType,
			ProtocolName: g.protocolName,
			LeaderID:     g.leader,
			MemberID:     m.id,
		}
		if m.id == g.leader {
			r.Members = g.currentMemberMetadata()
		}
		g.invokeJoin(m, r)
		g.rescheduleHeartbeat(m, m.sessionTimeout)
		m.isNew = false
		g.pendingSync[m.id] = struct{}{}
	}
	g.schedulePendingSync()
}

// maybeElectNewJoinedLeader keeps the leader if it rejoined, else elects a
// member that did; false if there is no leader or nobody rejoined.
func (g *group) maybeElectNewJoinedLeader() bool {
	if g.leader == "" {
		return false
	}
	if l, ok := g.members[g.leader]; ok && l.awaitingJoin() {
		return true
	}
	for _, m := range g.sortedMembers() {
		if m.awaitingJoin() {
			g.c.log.Info("group leader failed to join before the rebalance timeout; electing a new leader",
				"group", g.id, "old", g.leader, "new", m.id)
			g.leader = m.id
			return true
		}
	}
	return false
}

func (g *group) initNextGeneration() {
	g.generation++
	if len(g.members) > 0 {
		g.protocolName, g.hasProtocol = g.selectProtocol()
		g.transitionTo(completingRebalance)
	} else {
		g.protocolName, g.hasProtocol = "", false
		g.transitionTo(empty)
		g.storeEmpty()
	}
	clear(g.pendingSync)
}

// schedulePendingSync removes the members that have not sent SyncGroup
// within the rebalance timeout, and rebalances.
func (g *group) schedulePendingSync() {
	g.stopSyncTimer()
	seq, generation := g.syncSeq, g.generation
	g.syncTimer = time.AfterFunc(g.rebalanceTimeout(), func() {
		g.mu.Lock()
		defer g.unlock()
		if g.syncSeq != seq {
			return
		}
		g.syncTimer = nil
		g.expirePendingSync(generation)
	})
}

func (g *group) expirePendingSync(generation int32) {
	if generation != g.generation {
		return
	}
	if g.state != completingRebalance && g.state != stable {
		return
	}
	if len(g.pendingSync) == 0 {
		return
	}
	var ids []string
	for id := range g.pendingSync {
		ids = append(ids, id)
	}
	for _, id := range ids {
		g.remove(id)
	}
	g.c.log.Info("removed members that did not send SyncGroup in time", "group", g.id, "members", ids)
	g.prepareRebalance("removing members on pending sync request expiration")
}

func (g *group) removePendingSyncMember(id string) {
	delete(g.pendingSync, id)
	if len(g.pendingSync) == 0 {
		g.stopSyncTimer()
	}
}

func (g *group) removeSyncExpiration() {
	clear(g.pendingSync)
	g.stopSyncTimer()
}

// setAndPropagateAssignment stores the leader's assignment and answers the
// parked SyncGroup requests.
func (g *group) setAndPropagateAssignment(assignments map[string][]byte) {
	for _, m := range g.members {
		if a, ok := assignments[m.id]; ok && a != nil {
			m.assignment = bytes.Clone(a)
		} else {
			m.assignment = []byte{}
		}
	}
	g.propagateAssignment(nil)
}

func (g *group) resetAndPropagateAssignmentError(err error) {
	for _, m := range g.members {
		m.assignment = []byte{}
	}
	g.propagateAssignment(err)
}

func (g *group) propagateAssignment(err error) {
	for _, m := range g.sortedMembers() {
		r := SyncResult{Err: err, Assignment: m.assignment}
		if err == nil {
			r.ProtocolType, r.ProtocolName = g.protocolType, g.protocolName
		}
		if g.invokeSync(m, r) {
			// Its session may have run out while it was parked.
			g.rescheduleHeartbeat(m, m.sessionTimeout)
		}
	}
}
