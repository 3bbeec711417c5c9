package group

// Persistence of group membership, as Kafka's GroupMetadataManager keeps
// GroupMetadata records in __consumer_offsets: a group's members, generation
// and assignments survive a coordinator restart, so members of a Stable
// group keep heartbeating with their member id and generation.
//
// What is written, and when (never on JoinGroup or Heartbeat of a member
// whose state does not change):
//   - classic groups: the leader's SyncGroup completing a generation writes
//     the whole group (Stable, generation, protocol, leader, members with
//     their metadata and assignments) before any member gets its
//     assignment, as Kafka's storeGroup; a member leaving or expiring
//     removes it from the stored record and marks it as needing a
//     rebalance; a static member replaced by a new member id updates it; a
//     group becoming Empty writes an Empty record; deletion removes it.
//   - consumer groups (KIP-848): a heartbeat, leave or expiry that changes
//     the group (epochs, members, subscriptions, assignments) writes the
//     whole group.
//
// Writes happen outside the group lock, after the state change, and are
// ordered per group id by a sequence number taken under the lock: a write
// overtaken by a newer one of the same group is skipped. A failed write is
// logged and the group goes on in memory (membership is then only as
// durable as before this feature: members rejoin after a restart).
//
// On load (RestoreGroups), every member gets a fresh session deadline, as
// Kafka does: a member that heartbeats within its session timeout carries
// on without a rebalance; one that never comes back expires and triggers
// one. A classic group stored while a member had left comes back Stable and
// rebalances at once.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// MetadataStore durably stores groups' metadata records (the offsets store
// implements it). Calls for the same group are never concurrent.
type MetadataStore interface {
	PutGroupMetadata(group string, data []byte) error
	DeleteGroupMetadata(group string) error
}

// SetMetadataStore makes the coordinator persist group metadata to s from
// now on. Call it before serving requests; nil disables persistence.
func (c *Coordinator) SetMetadataStore(s MetadataStore) {
	if s == nil {
		c.store.Store(nil)
		return
	}
	c.store.Store(&s)
}

func (c *Coordinator) metadataStore() MetadataStore {
	if p := c.store.Load(); p != nil {
		return *p
	}
	return nil
}

// persistWrite is one queued write: data, or a deletion when del is set.
type persistWrite struct {
	id   string
	seq  uint64
	data []byte
	del  bool
}

// persister orders the writes of each group id.
type persister struct {
	mu  sync.Mutex
	seq uint64
	ids map[string]*idWrites
}

type idWrites struct {
	mu      sync.Mutex // held across the store write
	written uint64     // the sequence of the last write done
	refs    int        // reserved writes not yet done
}

// reserve takes the next sequence number for a write of id. The caller
// holds the lock of the group the write describes, so sequence numbers
// follow the group's state changes; every reservation must be done.
func (p *persister) reserve(id string) uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ids == nil {
		p.ids = map[string]*idWrites{}
	}
	st := p.ids[id]
	if st == nil {
		st = &idWrites{}
		p.ids[id] = st
	}
	st.refs++
	p.seq++
	return p.seq
}

// do runs write unless a newer write of the same id was done already.
func (p *persister) do(w persistWrite, write func() error) error {
	p.mu.Lock()
	st := p.ids[w.id]
	p.mu.Unlock()
	st.mu.Lock()
	var err error
	if w.seq > st.written {
		err = write()
		st.written = w.seq
	}
	st.mu.Unlock()
	p.mu.Lock()
	if st.refs--; st.refs == 0 {
		delete(p.ids, w.id)
	}
	p.mu.Unlock()
	return err
}

// queueWrite reserves a write of data (nil data: a deletion) for group id;
// the caller holds the group's lock and runs the returned write with
// flushWrites after releasing it. Without a store it returns nil.
func (c *Coordinator) queueWrite(id string, data []byte, del bool) *persistWrite {
	if c.metadataStore() == nil {
		return nil
	}
	return &persistWrite{id: id, seq: c.persist.reserve(id), data: data, del: del}
}

// flushWrites performs queued writes in order. It must not be called with a
// group lock held.
func (c *Coordinator) flushWrites(ws []*persistWrite) {
	for _, w := range ws {
		if w == nil {
			continue
		}
		c.persistMu.RLock()
		s := c.metadataStore()
		err := c.persist.do(*w, func() error {
			if s == nil || c.persistClosed {
				return nil
			}
			if w.del {
				return s.DeleteGroupMetadata(w.id)
			}
			return s.PutGroupMetadata(w.id, w.data)
		})
		c.persistMu.RUnlock()
		if err != nil {
			c.log.Warn("persisting group metadata failed; the group carries on in memory", "group", w.id, "err", err)
		}
	}
}

// closePersistence waits for writes in flight and stops later ones (Close).
func (c *Coordinator) closePersistence() {
	c.persistMu.Lock()
	c.persistClosed = true
	c.persistMu.Unlock()
}

// ---- classic groups ----

// classicRecord is what is stored of a classic group: its last completed
// generation (or Empty).
type classicRecord struct {
	state        gstate // stable or empty
	generation   int32
	protocolType string
	protocolName string
	hasProtocol  bool
	leader       string
	// rebalance: members left since the generation completed; the group
	// rebalances when loaded.
	rebalance bool
	members   []memberRecord
}

type memberRecord struct {
	id               string
	instanceID       *string
	clientID         string
	clientHost       string
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	protocols        []Protocol
	assignment       []byte
}

// stableRecord is the record of the current generation with the leader's
// assignments (at the leader's SyncGroup).
func (g *group) stableRecord(assignments map[string][]byte) *classicRecord {
	r := &classicRecord{
		state: stable, generation: g.generation, protocolType: g.protocolType,
		protocolName: g.protocolName, hasProtocol: g.hasProtocol, leader: g.leader,
	}
	for _, m := range g.sortedMembers() {
		a := assignments[m.id]
		if a == nil {
			a = []byte{}
		}
		r.members = append(r.members, memberRecord{
			id: m.id, instanceID: cloneString(m.instanceID), clientID: m.clientID, clientHost: m.clientHost,
			sessionTimeout: m.sessionTimeout, rebalanceTimeout: m.rebalanceTimeout,
			protocols: cloneProtocols(m.protocols), assignment: slices.Clone(a),
		})
	}
	return r
}

// storeRecord makes r the group's stored record and queues its write.
func (g *group) storeRecord(r *classicRecord) {
	g.stored = r
	if w := g.c.queueWrite(g.id, encodeClassic(r), false); w != nil {
		g.writes = append(g.writes, w)
	}
}

// storeEmpty stores the group as Empty (it has no members left).
func (g *group) storeEmpty() {
	if g.c.metadataStore() == nil {
		return
	}
	g.storeRecord(&classicRecord{state: empty, generation: g.generation, protocolType: g.protocolType})
}

// storeRemoved drops a removed member from the stored record, which then
// needs a rebalance.
func (g *group) storeRemoved(id string) {
	r := g.stored
	if r == nil {
		return
	}
	i := slices.IndexFunc(r.members, func(m memberRecord) bool { return m.id == id })
	if i < 0 {
		return
	}
	nr := *r
	nr.members = slices.Delete(slices.Clone(r.members), i, i+1)
	nr.rebalance = true
	if nr.leader == id {
		nr.leader = ""
		if len(nr.members) > 0 {
			nr.leader = nr.members[0].id
		}
	}
	if len(nr.members) == 0 {
		nr = classicRecord{state: empty, generation: r.generation, protocolType: r.protocolType}
	}
	g.storeRecord(&nr)
}

// storeReplaced renames a static member in the stored record.
func (g *group) storeReplaced(oldID, newID string) {
	r := g.stored
	if r == nil {
		return
	}
	i := slices.IndexFunc(r.members, func(m memberRecord) bool { return m.id == oldID })
	if i < 0 {
		return
	}
	nr := *r
	nr.members = slices.Clone(r.members)
	nr.members[i].id = newID
	if nr.leader == oldID {
		nr.leader = newID
	}
	g.storeRecord(&nr)
}

// storeDelete queues the deletion of the group's record.
func (g *group) storeDelete() {
	g.stored = nil
	if w := g.c.queueWrite(g.id, nil, true); w != nil {
		g.writes = append(g.writes, w)
	}
}

// takeWrites returns and clears the group's queued writes (g.mu held).
func (g *group) takeWrites() []*persistWrite {
	ws := g.writes
	g.writes = nil
	return ws
}

// unlock releases g.mu and then performs the writes queued under it.
func (g *group) unlock() {
	ws := g.takeWrites()
	g.mu.Unlock()
	g.c.flushWrites(ws)
}

// restoreClassic rebuilds a group from its record (the coordinator is not
// serving yet). Members get a fresh session deadline.
func (c *Coordinator) restoreClassic(id string, r *classicRecord) *group {
	g := newGroup(c, id)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.generation = r.generation
	g.protocolType = r.protocolType
	if r.state != stable || len(r.members) == 0 {
		return g // Empty
	}
	g.protocolName, g.hasProtocol = r.protocolName, r.hasProtocol
	for _, mr := range r.members {
		m := &member{
			id: mr.id, instanceID: cloneString(mr.instanceID), clientID: mr.clientID, clientHost: mr.clientHost,
			sessionTimeout: mr.sessionTimeout, rebalanceTimeout: mr.rebalanceTimeout,
			protocolType: r.protocolType, protocols: cloneProtocols(mr.protocols), assignment: slices.Clone(mr.assignment),
		}
		if m.assignment == nil {
			m.assignment = []byte{}
		}
		if m.instanceID != nil {
			g.static[*m.instanceID] = m.id
		}
		g.nextSeq++
		m.seq = g.nextSeq
		g.members[m.id] = m
		g.incSupported(m)
		g.rescheduleHeartbeat(m, m.sessionTimeout)
	}
	g.leader = r.leader
	if _, ok := g.members[g.leader]; !ok {
		g.leader = g.sortedMembers()[0].id
	}
	g.transitionTo(stable)
	g.prevState = stable
	g.stored = r
	if r.rebalance {
		g.prepareRebalance("members left the group before the coordinator restarted")
	}
	return g
}

// RestoreGroups loads groups from their stored records (from
// MetadataStore), before the coordinator serves requests. Records that
// cannot be decoded are logged and skipped. It returns how many groups were
// restored.
func (c *Coordinator) RestoreGroups(records map[string][]byte) int {
	n := 0
	topics := c.topicsNow()
	for _, id := range slices.Sorted(maps.Keys(records)) {
		data := records[id]
		if id == "" || len(data) < 2 {
			c.log.Warn("ignoring a malformed stored group record", "group", id)
			continue
		}
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return n
		}
		exists := c.groups[id] != nil || c.cgroups[id] != nil
		c.mu.Unlock()
		if exists {
			continue
		}
		var err error
		switch data[1] {
		case kindClassic:
			var r *classicRecord
			if r, err = decodeClassic(data); err == nil {
				g := c.restoreClassic(id, r)
				c.mu.Lock()
				c.groups[id] = g
				c.mu.Unlock()
				c.log.Info("restored group", "group", id, "state", g.state.String(), "generation", r.generation, "members", len(r.members))
			}
		case kindConsumer:
			var r *consumerRecord
			if r, err = decodeConsumer(data); err == nil {
				g := c.restoreConsumer(id, r, topics)
				c.mu.Lock()
				c.cgroups[id] = g
				c.mu.Unlock()
				c.log.Info("restored consumer group", "group", id, "epoch", r.groupEpoch, "members", len(r.members))
			}
		default:
			err = fmt.Errorf("unknown record kind %d", data[1])
		}
		if err != nil {
			c.log.Warn("ignoring a stored group record that cannot be decoded", "group", id, "err", err)
			continue
		}
		n++
	}
	return n
}

// ---- consumer groups (KIP-848) ----

type consumerRecord struct {
	groupEpoch      int32
	assignmentEpoch int32
	members         []cmemberRecord
	target          map[string]partitionSet
	subscription    map[string]topicMeta
	resolved        map[string][]string
}

type cmemberRecord struct {
	id               string
	instanceID       *string
	rackID           *string
	clientID         string
	clientHost       string
	rebalanceTimeout time.Duration
	subscribed       []string
	regex            string
	assignor         string
	epoch            int32
	prevEpoch        int32
	state            memberState
	assigned         epochSet
	revoking         epochSet
}

func (g *consumerGroup) record() *consumerRecord {
	r := &consumerRecord{
		groupEpoch: g.groupEpoch, assignmentEpoch: g.assignmentEpoch,
		target: map[string]partitionSet{}, subscription: maps.Clone(g.subscription), resolved: map[string][]string{},
	}
	for id, ps := range g.target {
		r.target[id] = ps.clone()
	}
	for re, names := range g.resolved {
		r.resolved[re] = slices.Clone(names)
	}
	for _, id := range slices.Sorted(maps.Keys(g.members)) {
		m := g.members[id]
		r.members = append(r.members, cmemberRecord{
			id: m.id, instanceID: cloneString(m.instanceID), rackID: cloneString(m.rackID),
			clientID: m.clientID, clientHost: m.clientHost, rebalanceTimeout: m.rebalanceTimeout,
			subscribed: slices.Clone(m.subscribed), regex: m.regex, assignor: m.assignor,
			epoch: m.epoch, prevEpoch: m.prevEpoch, state: m.state,
			assigned: m.assigned.clone(), revoking: m.revoking.clone(),
		})
	}
	return r
}

// store queues a write of the whole group (g.mu held).
func (g *consumerGroup) store() {
	if g.c.metadataStore() == nil {
		return
	}
	if w := g.c.queueWrite(g.id, encodeConsumer(g.record()), false); w != nil {
		g.writes = append(g.writes, w)
	}
}

func (g *consumerGroup) storeDelete() {
	if w := g.c.queueWrite(g.id, nil, true); w != nil {
		g.writes = append(g.writes, w)
	}
}

// unlock releases g.mu and then performs the writes queued under it.
func (g *consumerGroup) unlock() {
	ws := g.writes
	g.writes = nil
	g.mu.Unlock()
	g.c.flushWrites(ws)
}

func (c *Coordinator) restoreConsumer(id string, r *consumerRecord, topics []TopicInfo) *consumerGroup {
	g := newConsumerGroup(c, id)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.groupEpoch, g.assignmentEpoch = r.groupEpoch, r.assignmentEpoch
	g.target = r.target
	if g.target == nil {
		g.target = map[string]partitionSet{}
	}
	if r.subscription != nil {
		g.subscription = r.subscription
	}
	if r.resolved != nil {
		g.resolved = r.resolved
	}
	for re := range g.resolved {
		if cre, err := compileRegex(re); err == nil {
			g.compiled[re] = cre
		}
	}
	for _, mr := range r.members {
		m := &cmember{
			id: mr.id, instanceID: cloneString(mr.instanceID), rackID: cloneString(mr.rackID),
			clientID: mr.clientID, clientHost: mr.clientHost, rebalanceTimeout: mr.rebalanceTimeout,
			subscribed: mr.subscribed, regex: mr.regex, assignor: mr.assignor,
			epoch: mr.epoch, prevEpoch: mr.prevEpoch, state: mr.state,
			assigned: mr.assigned, revoking: mr.revoking,
		}
		if m.assigned == nil {
			m.assigned = epochSet{}
		}
		if m.revoking == nil {
			m.revoking = epochSet{}
		}
		g.members[m.id] = m
		if m.instanceID != nil {
			g.static[*m.instanceID] = m.id
		}
		g.setOwnership(m, nil, nil)
		g.scheduleSession(m)
		if m.state == mUnrevoked {
			g.scheduleRebalanceTimeout(m)
		}
	}
	_ = topics // subscriptions are compared with the topics on the next heartbeat
	return g
}

// ---- encoding ----

// Record format, version 1: a version byte, a kind byte, then the fields
// in order; strings and byte slices are uvarint-length prefixed, integers
// varints, optional strings a presence byte then the string. Readers reject
// versions they do not know.
const (
	recordVersion = 1
	kindClassic   = 'C'
	kindConsumer  = 'K'
)

type encoder struct{ b []byte }

func (e *encoder) u8(v uint8)     { e.b = append(e.b, v) }
func (e *encoder) vi(v int64)     { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) uv(v uint64)    { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) bytes(v []byte) { e.uv(uint64(len(v))); e.b = append(e.b, v...) }
func (e *encoder) str(v string)   { e.uv(uint64(len(v))); e.b = append(e.b, v...) }
func (e *encoder) bool(v bool) {
	if v {
		e.u8(1)
	} else {
		e.u8(0)
	}
}
func (e *encoder) optStr(v *string) {
	e.bool(v != nil)
	if v != nil {
		e.str(*v)
	}
}
func (e *encoder) dur(d time.Duration) { e.vi(int64(d)) }
func (e *encoder) strs(v []string) {
	e.uv(uint64(len(v)))
	for _, s := range v {
		e.str(s)
	}
}
func (e *encoder) partitions(ps partitionSet) {
	ids := slices.SortedFunc(maps.Keys(ps), compareIDs)
	e.uv(uint64(len(ids)))
	for _, t := range ids {
		e.b = append(e.b, t[:]...)
		e.uv(uint64(len(ps[t])))
		for _, p := range ps[t] {
			e.vi(int64(p))
		}
	}
}
func (e *encoder) epochs(es epochSet) {
	ids := slices.SortedFunc(maps.Keys(es), compareIDs)
	e.uv(uint64(len(ids)))
	for _, t := range ids {
		e.b = append(e.b, t[:]...)
		ps := slices.Sorted(maps.Keys(es[t]))
		e.uv(uint64(len(ps)))
		for _, p := range ps {
			e.vi(int64(p))
			e.vi(int64(es[t][p]))
		}
	}
}

var errShort = errors.New("truncated record")

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}
func (d *decoder) u8() uint8 {
	if len(d.b) < 1 {
		d.fail(errShort)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}
func (d *decoder) vi() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(errShort)
		return 0
	}
	d.b = d.b[n:]
	return v
}
func (d *decoder) uv() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(errShort)
		return 0
	}
	d.b = d.b[n:]
	return v
}
func (d *decoder) i32() int32 {
	v := d.vi()
	if int64(int32(v)) != v {
		d.fail(errors.New("int32 out of range"))
	}
	return int32(v)
}

// count reads a length, bounded by the bytes left (each item takes one
// byte at least), so a corrupt record cannot make huge allocations.
func (d *decoder) count() int {
	n := d.uv()
	if n > uint64(len(d.b)) {
		d.fail(errShort)
		return 0
	}
	return int(n)
}
func (d *decoder) bytes() []byte {
	n := d.count()
	v := slices.Clone(d.b[:n])
	d.b = d.b[n:]
	return v
}
func (d *decoder) str() string        { return string(d.bytes()) }
func (d *decoder) bool() bool         { return d.u8() != 0 }
func (d *decoder) dur() time.Duration { return time.Duration(d.vi()) }
func (d *decoder) optStr() *string {
	if !d.bool() {
		return nil
	}
	s := d.str()
	return &s
}
func (d *decoder) strs() []string {
	n := d.count()
	out := make([]string, 0, n)
	for range n {
		out = append(out, d.str())
	}
	return out
}
func (d *decoder) topicID() TopicID {
	var t TopicID
	if len(d.b) < len(t) {
		d.fail(errShort)
		return t
	}
	copy(t[:], d.b)
	d.b = d.b[len(t):]
	return t
}
func (d *decoder) partitions() partitionSet {
	n := d.count()
	ps := make(partitionSet, n)
	for range n {
		t := d.topicID()
		k := d.count()
		list := make([]int32, 0, k)
		for range k {
			list = append(list, d.i32())
		}
		ps[t] = list
	}
	return ps
}
func (d *decoder) epochs() epochSet {
	n := d.count()
	es := make(epochSet, n)
	for range n {
		t := d.topicID()
		k := d.count()
		m := make(map[int32]int32, k)
		for range k {
			p := d.i32()
			m[p] = d.i32()
		}
		es[t] = m
	}
	return es
}

func (d *decoder) header(kind uint8) {
	if v := d.u8(); d.err == nil && v != recordVersion {
		d.fail(fmt.Errorf("unknown record version %d", v))
	}
	if k := d.u8(); d.err == nil && k != kind {
		d.fail(fmt.Errorf("record kind %d, want %d", k, kind))
	}
}

func (d *decoder) done() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b))
	}
	return d.err
}

func encodeClassic(r *classicRecord) []byte {
	e := &encoder{b: make([]byte, 0, 64+len(r.members)*128)}
	e.u8(recordVersion)
	e.u8(kindClassic)
	e.u8(uint8(r.state))
	e.vi(int64(r.generation))
	e.str(r.protocolType)
	e.str(r.protocolName)
	e.bool(r.hasProtocol)
	e.str(r.leader)
	e.bool(r.rebalance)
	e.uv(uint64(len(r.members)))
	for _, m := range r.members {
		e.str(m.id)
		e.optStr(m.instanceID)
		e.str(m.clientID)
		e.str(m.clientHost)
		e.dur(m.sessionTimeout)
		e.dur(m.rebalanceTimeout)
		e.uv(uint64(len(m.protocols)))
		for _, p := range m.protocols {
			e.str(p.Name)
			e.bytes(p.Metadata)
		}
		e.bytes(m.assignment)
	}
	return e.b
}

func decodeClassic(b []byte) (*classicRecord, error) {
	d := &decoder{b: b}
	d.header(kindClassic)
	r := &classicRecord{}
	r.state = gstate(d.u8())
	r.generation = d.i32()
	r.protocolType = d.str()
	r.protocolName = d.str()
	r.hasProtocol = d.bool()
	r.leader = d.str()
	r.rebalance = d.bool()
	n := d.count()
	for range n {
		m := memberRecord{}
		m.id = d.str()
		m.instanceID = d.optStr()
		m.clientID = d.str()
		m.clientHost = d.str()
		m.sessionTimeout = d.dur()
		m.rebalanceTimeout = d.dur()
		k := d.count()
		for range k {
			name := d.str()
			m.protocols = append(m.protocols, Protocol{Name: name, Metadata: d.bytes()})
		}
		m.assignment = d.bytes()
		r.members = append(r.members, m)
	}
	if err := d.done(); err != nil {
		return nil, err
	}
	if r.state != stable && r.state != empty {
		return nil, fmt.Errorf("unexpected stored state %d", r.state)
	}
	return r, nil
}

func encodeConsumer(r *consumerRecord) []byte {
	e := &encoder{b: make([]byte, 0, 64+len(r.members)*128)}
	e.u8(recordVersion)
	e.u8(kindConsumer)
	e.vi(int64(r.groupEpoch))
	e.vi(int64(r.assignmentEpoch))
	e.uv(uint64(len(r.members)))
	for _, m := range r.members {
		e.str(m.id)
		e.optStr(m.instanceID)
		e.optStr(m.rackID)
		e.str(m.clientID)
		e.str(m.clientHost)
		e.dur(m.rebalanceTimeout)
		e.strs(m.subscribed)
		e.str(m.regex)
		e.str(m.assignor)
		e.vi(int64(m.epoch))
		e.vi(int64(m.prevEpoch))
		e.u8(uint8(m.state))
		e.epochs(m.assigned)
		e.epochs(m.revoking)
	}
	ids := slices.Sorted(maps.Keys(r.target))
	e.uv(uint64(len(ids)))
	for _, id := range ids {
		e.str(id)
		e.partitions(r.target[id])
	}
	names := slices.Sorted(maps.Keys(r.subscription))
	e.uv(uint64(len(names)))
	for _, n := range names {
		e.str(n)
		tm := r.subscription[n]
		e.b = append(e.b, tm.id[:]...)
		e.vi(int64(tm.partitions))
	}
	res := slices.Sorted(maps.Keys(r.resolved))
	e.uv(uint64(len(res)))
	for _, re := range res {
		e.str(re)
		e.strs(r.resolved[re])
	}
	return e.b
}

func decodeConsumer(b []byte) (*consumerRecord, error) {
	d := &decoder{b: b}
	d.header(kindConsumer)
	r := &consumerRecord{target: map[string]partitionSet{}, subscription: map[string]topicMeta{}, resolved: map[string][]string{}}
	r.groupEpoch = d.i32()
	r.assignmentEpoch = d.i32()
	n := d.count()
	for range n {
		m := cmemberRecord{}
		m.id = d.str()
		m.instanceID = d.optStr()
		m.rackID = d.optStr()
		m.clientID = d.str()
		m.clientHost = d.str()
		m.rebalanceTimeout = d.dur()
		m.subscribed = d.strs()
		if len(m.subscribed) == 0 {
			m.subscribed = nil
		}
		m.regex = d.str()
		m.assignor = d.str()
		m.epoch = d.i32()
		m.prevEpoch = d.i32()
		m.state = memberState(d.u8())
		m.assigned = d.epochs()
		m.revoking = d.epochs()
		r.members = append(r.members, m)
	}
	n = d.count()
	for range n {
		id := d.str()
		r.target[id] = d.partitions()
	}
	n = d.count()
	for range n {
		name := d.str()
		id := d.topicID()
		r.subscription[name] = topicMeta{id: id, partitions: d.i32()}
	}
	n = d.count()
	for range n {
		re := d.str()
		r.resolved[re] = d.strs()
	}
	if err := d.done(); err != nil {
		return nil, err
	}
	return r, nil
}
