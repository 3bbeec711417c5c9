package group

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"sync"
	"time"
)

// gstate is a classic group state (Kafka's GroupState).
type gstate int8

const (
	empty gstate = iota
	preparingRebalance
	completingRebalance
	stable
	dead
)

func (s gstate) String() string {
	switch s {
	case empty:
		return StateEmpty
	case preparingRebalance:
		return StatePreparingRebalance
	case completingRebalance:
		return StateCompletingRebalance
	case stable:
		return StateStable
	default:
		return StateDead
	}
}

// member is Kafka's MemberMetadata.
type member struct {
	id               string
	instanceID       *string
	clientID         string
	clientHost       string
	rebalanceTimeout time.Duration
	sessionTimeout   time.Duration
	protocolType     string
	protocols        []Protocol
	assignment       []byte

	// joinCh / syncCh are the parked JoinGroup / SyncGroup responses (Kafka's
	// awaitingJoinCallback / awaitingSyncCallback); nil when none. Buffered
	// (1) and sent to exactly once, so sends never block.
	joinCh chan JoinResult
	syncCh chan SyncResult

	// isNew: joined but has not yet received a JoinGroup response; such a
	// member expires after NewMemberJoinTimeout even while awaiting join.
	isNew bool
	// seq orders members by arrival (stable listings and leader choice).
	seq uint64

	hbTimer *time.Timer
	hbSeq   uint64
}

func (m *member) awaitingJoin() bool { return m.joinCh != nil }
func (m *member) awaitingSync() bool { return m.syncCh != nil }

// hasSatisfiedHeartbeat is evaluated when the member's heartbeat deadline
// passes: a new member is expired; a known member parked in JoinGroup or
// SyncGroup is kept; any other member is expired.
func (m *member) hasSatisfiedHeartbeat() bool {
	if m.isNew {
		return false
	}
	return m.awaitingJoin() || m.awaitingSync()
}

// metadata is the member's metadata for protocol (nil if unsupported).
func (m *member) metadata(protocol string) []byte {
	for _, p := range m.protocols {
		if p.Name == protocol {
			return p.Metadata
		}
	}
	return nil
}

// matches reports whether protocols equals the stored list, in order and
// byte for byte.
func (m *member) matches(protocols []Protocol) bool {
	if len(protocols) != len(m.protocols) {
		return false
	}
	for i := range protocols {
		if protocols[i].Name != m.protocols[i].Name || !bytes.Equal(protocols[i].Metadata, m.protocols[i].Metadata) {
			return false
		}
	}
	return true
}

// vote is the member's most preferred protocol among candidates.
func (m *member) vote(candidates map[string]bool) (string, bool) {
	for _, p := range m.protocols {
		if candidates[p.Name] {
			return p.Name, true
		}
	}
	return "", false
}

func (m *member) stopHeartbeat() {
	if m.hbTimer != nil {
		m.hbTimer.Stop()
		m.hbTimer = nil
	}
	m.hbSeq++
}

type pendingMember struct {
	timer *time.Timer
}

// group is Kafka's GroupMetadata plus the coordinator logic that runs under
// its lock. Every method requires g.mu held unless noted.
type group struct {
	c  *Coordinator
	mu sync.Mutex

	id         string
	state      gstate
	prevState  gstate
	stateSince time.Time

	protocolType string // "" = none yet
	protocolName string
	hasProtocol  bool
	generation   int32
	leader       string // "" = none

	members     map[string]*member
	static      map[string]string // group.instance.id -> member id
	pending     map[string]*pendingMember
	supported   map[string]int // protocol name -> members supporting it
	pendingSync map[string]struct{}
	nextSeq     uint64

	// newMemberAdded extends the initial delayed join (InitialDelayedJoin).
	newMemberAdded bool
	// initialJoin: the current PreparingRebalance is the initial delayed
	// join, which only completes on its timer (Kafka's
	// InitialDelayedJoin.tryComplete is false).
	initialJoin bool
	joinTimer   *time.Timer
	joinSeq     uint64
	syncTimer   *time.Timer
	syncSeq     uint64

	// stored is the group's record as last queued for the metadata store
	// (nil: none); writes are the writes queued under g.mu, done by unlock;
	// syncing is the leader assignment being stored (persist.go).
	stored  *classicRecord
	writes  []*persistWrite
	syncing *syncCompletion
}

func newGroup(c *Coordinator, id string) *group {
	return &group{
		c:           c,
		id:          id,
		state:       empty,
		prevState:   empty,
		stateSince:  c.cfg.Now(),
		members:     map[string]*member{},
		static:      map[string]string{},
		pending:     map[string]*pendingMember{},
		supported:   map[string]int{},
		pendingSync: map[string]struct{}{},
	}
}

func (g *group) transitionTo(s gstate) {
	g.prevState = g.state
	g.state = s
	g.stateSince = g.c.cfg.Now()
}

// canRebalance: PreparingRebalance may be entered from Stable,
// CompletingRebalance and Empty.
func (g *group) canRebalance() bool {
	return g.state == stable || g.state == completingRebalance || g.state == empty
}

// sortedMembers lists members in arrival order.
func (g *group) sortedMembers() []*member {
	ms := make([]*member, 0, len(g.members))
	for _, m := range g.members {
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b *member) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
	return ms
}

func (g *group) numAwaiting() int {
	n := 0
	for _, m := range g.members {
		if m.awaitingJoin() {
			n++
		}
	}
	return n
}

func (g *group) hasAllMembersJoined() bool {
	return len(g.pending) == 0 && g.numAwaiting() == len(g.members)
}

// rebalanceTimeout is the largest rebalance timeout of the members.
func (g *group) rebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

func protocolNames(ps []Protocol) []string {
	names := make([]string, 0, len(ps))
	for _, p := range ps {
		if !slices.Contains(names, p.Name) {
			names = append(names, p.Name)
		}
	}
	return names
}

func (g *group) incSupported(m *member) {
	for _, n := range protocolNames(m.protocols) {
		g.supported[n]++
	}
}

func (g *group) decSupported(m *member) {
	for _, n := range protocolNames(m.protocols) {
		if g.supported[n]--; g.supported[n] <= 0 {
			delete(g.supported, n)
		}
	}
}

// supportsProtocols: an Empty group takes any non-empty protocol type and
// list; otherwise the type must match and at least one of the protocols must
// be supported by every current member.
func (g *group) supportsProtocols(protocolType string, protocols []Protocol) bool {
	if g.state == empty {
		return protocolType != "" && len(protocols) > 0
	}
	if g.protocolType != protocolType {
		return false
	}
	for _, p := range protocols {
		if g.supported[p.Name] == len(g.members) {
			return true
		}
	}
	return false
}

// selectProtocol is Kafka's vote: among the protocols every member
// supports, each member votes for its most preferred one and the most voted
// wins (ties go to the protocol first voted for in arrival order).
func (g *group) selectProtocol() (string, bool) {
	candidates := map[string]bool{}
	for name, n := range g.supported {
		if n == len(g.members) {
			candidates[name] = true
		}
	}
	votes := map[string]int{}
	var order []string
	for _, m := range g.sortedMembers() {
		if p, ok := m.vote(candidates); ok {
			if votes[p] == 0 {
				order = append(order, p)
			}
			votes[p]++
		}
	}
	best, bestVotes := "", 0
	for _, p := range order {
		if votes[p] > bestVotes {
			best, bestVotes = p, votes[p]
		}
	}
	return best, bestVotes > 0
}

// add adds a member, parking its JoinGroup response on ch.
func (g *group) add(m *member, ch chan JoinResult) {
	if m.instanceID != nil {
		g.static[*m.instanceID] = m.id
	}
	if len(g.members) == 0 {
		g.protocolType = m.protocolType
	}
	if g.leader == "" {
		g.leader = m.id
	}
	g.nextSeq++
	m.seq = g.nextSeq
	g.members[m.id] = m
	g.incSupported(m)
	m.joinCh = ch
	g.removePending(m.id)
}

// remove drops a member (or pending member) without triggering anything. A
// parked request of the member is answered with ErrUnknownMemberID so that
// no caller is left blocked.
func (g *group) remove(id string) {
	if m, ok := g.members[id]; ok {
		delete(g.members, id)
		g.decSupported(m)
		if m.instanceID != nil && g.static[*m.instanceID] == id {
			delete(g.static, *m.instanceID)
		}
		m.stopHeartbeat()
		g.invokeJoin(m, joinError("", ErrUnknownMemberID))
		g.invokeSync(m, SyncResult{Err: ErrUnknownMemberID})
		g.storeRemoved(id)
	}
	if id != "" && g.leader == id {
		g.leader = ""
		if ms := g.sortedMembers(); len(ms) > 0 {
			g.leader = ms[0].id
		}
	}
	g.removePending(id)
	delete(g.pendingSync, id)
}

func (g *group) removePending(id string) {
	if p, ok := g.pending[id]; ok {
		p.timer.Stop()
		delete(g.pending, id)
	}
}

// updateMember replaces a member's protocols and timeouts and parks its
// JoinGroup response on ch. A JoinGroup of the same member still parked
// (the client gave up on it and retried) is answered with
// ErrRebalanceInProgress.
func (g *group) updateMember(m *member, protocols []Protocol, rebalanceTimeout, sessionTimeout time.Duration, ch chan JoinResult) {
	g.decSupported(m)
	m.protocols = protocols
	g.incSupported(m)
	m.rebalanceTimeout = rebalanceTimeout
	m.sessionTimeout = sessionTimeout
	if m.joinCh != nil && m.joinCh != ch {
		g.invokeJoin(m, joinError(m.id, ErrRebalanceInProgress))
	}
	m.joinCh = ch
}

// replaceStaticMember gives a static member a new member id; the old
// incarnation's parked requests are fenced.
func (g *group) replaceStaticMember(instanceID, oldID, newID string) *member {
	m := g.members[oldID]
	delete(g.members, oldID)
	g.invokeJoin(m, joinError(oldID, ErrFencedInstanceID))
	g.invokeSync(m, SyncResult{Err: ErrFencedInstanceID})
	m.id = newID
	g.members[newID] = m
	if g.leader == oldID {
		g.leader = newID
	}
	g.static[instanceID] = newID
	g.storeReplaced(oldID, newID)
	// Kafka leaves the old id in the pending-sync set, which then can only
	// expire into a rebalance; expect the sync from the new id instead.
	if _, ok := g.pendingSync[oldID]; ok {
		delete(g.pendingSync, oldID)
		g.pendingSync[newID] = struct{}{}
	}
	return m
}

func (g *group) invokeJoin(m *member, r JoinResult) bool {
	if m.joinCh == nil {
		return false
	}
	m.joinCh <- r // buffered, never sent to twice
	m.joinCh = nil
	return true
}

func (g *group) invokeSync(m *member, r SyncResult) bool {
	if m.syncCh == nil {
		return false
	}
	m.syncCh <- r
	m.syncCh = nil
	return true
}

// currentMemberMetadata lists the members for the leader's JoinGroup
// response.
func (g *group) currentMemberMetadata() []JoinMember {
	ms := g.sortedMembers()
	out := make([]JoinMember, 0, len(ms))
	for _, m := range ms {
		out = append(out, JoinMember{MemberID: m.id, InstanceID: m.instanceID, Metadata: m.metadata(g.protocolName)})
	}
	return out
}

// validateCurrentMember: a given instance id must be known and mapped to
// memberID (else FENCED_INSTANCE_ID, or UNKNOWN_MEMBER_ID when unknown), and
// memberID must be a member.
func (g *group) validateCurrentMember(memberID string, instanceID *string) error {
	if instanceID != nil {
		cur, ok := g.static[*instanceID]
		if !ok {
			return ErrUnknownMemberID
		}
		if cur != memberID {
			return ErrFencedInstanceID
		}
	}
	if _, ok := g.members[memberID]; !ok {
		return ErrUnknownMemberID
	}
	return nil
}

// acceptJoiningMember applies group.max.size (GroupCoordinator's
// acceptJoiningMember).
func (g *group) acceptJoiningMember(memberID string) bool {
	maxSize := g.c.cfg.MaxGroupSize
	if maxSize <= 0 {
		return true
	}
	switch g.state {
	case empty, dead:
		return true
	case preparingRebalance:
		if m, ok := g.members[memberID]; ok && m.awaitingJoin() {
			return true
		}
		return g.numAwaiting() < maxSize
	default:
		_, ok := g.members[memberID]
		return ok || len(g.members) < maxSize
	}
}

// shutdown marks the group Dead, stops its timers and answers every parked
// request with err.
func (g *group) shutdown(err error) {
	g.transitionTo(dead)
	g.stopJoinTimer()
	g.stopSyncTimer()
	for _, m := range g.members {
		m.stopHeartbeat()
		g.invokeJoin(m, joinError(m.id, err))
		g.invokeSync(m, SyncResult{Err: err})
	}
	for id := range g.pending {
		g.removePending(id)
	}
}

func (g *group) stopJoinTimer() {
	if g.joinTimer != nil {
		g.joinTimer.Stop()
		g.joinTimer = nil
	}
	g.joinSeq++
}

func (g *group) stopSyncTimer() {
	if g.syncTimer != nil {
		g.syncTimer.Stop()
		g.syncTimer = nil
	}
	g.syncSeq++
}

func joinError(memberID string, err error) JoinResult {
	return JoinResult{Err: err, GenerationID: -1, MemberID: memberID}
}

// newMemberID is prefix + "-" + a random (version 4) UUID in Java's
// UUID.toString form, as Kafka's generateMemberId.
func newMemberID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], b[10:16])
	return prefix + "-" + string(s[:])
}

func cloneProtocols(ps []Protocol) []Protocol {
	out := make([]Protocol, len(ps))
	for i, p := range ps {
		out[i] = Protocol{Name: p.Name, Metadata: bytes.Clone(p.Metadata)}
	}
	return out
}

func cloneString(s *string) *string {
	if s == nil {
		return nil
	}
	v := *s
	return &v
}
