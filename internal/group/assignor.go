package group

import (
	"cmp"
	"slices"
)

// Server-side assignors of the consumer group protocol (KIP-848). Kafka 4
// ships "uniform" (the default) and "range"; a member naming another one
// gets UNSUPPORTED_ASSIGNOR.
const (
	AssignorUniform = "uniform"
	AssignorRange   = "range"
)

// assignors lists the supported assignors; the first is the default.
var assignors = []string{AssignorUniform, AssignorRange}

func supportedAssignor(name string) bool { return slices.Contains(assignors, name) }

// TopicID is a topic's UUID.
type TopicID = [16]byte

// partitionSet is a member's partitions by topic id.
type partitionSet map[TopicID][]int32

func (ps partitionSet) clone() partitionSet {
	out := make(partitionSet, len(ps))
	for t, p := range ps {
		out[t] = slices.Clone(p)
	}
	return out
}

func (ps partitionSet) has(t TopicID, p int32) bool { return slices.Contains(ps[t], p) }

func (ps partitionSet) count() int {
	n := 0
	for _, p := range ps {
		n += len(p)
	}
	return n
}

func (ps partitionSet) equal(o partitionSet) bool {
	if len(ps) != len(o) {
		return false
	}
	for t, p := range ps {
		q, ok := o[t]
		if !ok || !slices.Equal(sortedCopy(p), sortedCopy(q)) {
			return false
		}
	}
	return true
}

func sortedCopy(p []int32) []int32 {
	q := slices.Clone(p)
	slices.Sort(q)
	return q
}

// assignSpec is what an assignor sees: every member's subscribed topic ids
// (existing topics only), the partition count of each topic, and the current
// target assignment, which assignors keep as much of as they can (both of
// Kafka's server assignors are sticky).
type assignSpec struct {
	members    map[string][]TopicID // member id -> subscribed topic ids
	partitions map[TopicID]int32
	current    map[string]partitionSet
}

// assign runs the named assignor (an unknown name runs the default).
func assign(name string, spec assignSpec) map[string]partitionSet {
	if name == AssignorRange {
		return assignRange(spec)
	}
	return assignUniform(spec)
}

func (s assignSpec) memberIDs() []string {
	ids := make([]string, 0, len(s.members))
	for id := range s.members {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (s assignSpec) subscribes(member string, t TopicID) bool {
	return slices.Contains(s.members[member], t)
}

// homogeneous reports whether every member subscribes to the same topics.
func (s assignSpec) homogeneous() bool {
	var first []TopicID
	for i, id := range s.memberIDs() {
		subs := slices.SortedFunc(slices.Values(s.members[id]), compareIDs)
		if i == 0 {
			first = subs
		} else if !slices.Equal(first, subs) {
			return false
		}
	}
	return true
}

func compareIDs(a, b TopicID) int {
	for i := range a {
		if c := cmp.Compare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return 0
}

type tp struct {
	topic     TopicID
	partition int32
}

func compareTP(a, b tp) int {
	if c := compareIDs(a.topic, b.topic); c != 0 {
		return c
	}
	return cmp.Compare(a.partition, b.partition)
}

// assignRange is Kafka's server-side range assignor: per topic, the
// subscribed members get contiguous ranges of partitions (the first
// P%N members one more), keeping the partitions they already had up to
// their quota so that co-partitioned topics stay aligned.
func assignRange(spec assignSpec) map[string]partitionSet {
	out := map[string]partitionSet{}
	for _, id := range spec.memberIDs() {
		out[id] = partitionSet{}
	}
	topics := map[TopicID][]string{}
	for _, id := range spec.memberIDs() {
		for _, t := range spec.members[id] {
			if _, ok := spec.partitions[t]; ok {
				topics[t] = append(topics[t], id)
			}
		}
	}
	for t, members := range topics {
		n := spec.partitions[t]
		minQuota := int(n) / len(members)
		extra := int(n) % len(members)
		taken := map[int32]bool{}
		type unfilled struct {
			id        string
			remaining int
		}
		var pending []unfilled
		for _, m := range members {
			var prev []int32
			for _, p := range spec.current[m][t] {
				if p < n && !taken[p] {
					prev = append(prev, p)
				}
			}
			slices.Sort(prev)
			keep := min(len(prev), minQuota)
			for _, p := range prev[:keep] {
				taken[p] = true
				out[m][t] = append(out[m][t], p)
			}
			remaining := minQuota - len(prev)
			if remaining < 0 && extra > 0 {
				extra--
				p := prev[minQuota]
				taken[p] = true
				out[m][t] = append(out[m][t], p)
			} else {
				pending = append(pending, unfilled{m, max(remaining, 0)})
			}
		}
		var free []int32
		for p := int32(0); p < n; p++ {
			if !taken[p] {
				free = append(free, p)
			}
		}
		next := 0
		for _, u := range pending {
			r := u.remaining
			if extra > 0 {
				r++
				extra--
			}
			for ; r > 0 && next < len(free); r-- {
				out[u.id][t] = append(out[u.id][t], free[next])
				next++
			}
		}
	}
	return normalize(out)
}

// assignUniform is Kafka's uniform assignor: partitions spread as evenly as
// possible over the members, each member keeping as many of its current
// partitions as balance allows. With identical subscriptions every member
// gets P/N or P/N+1 partitions; with different subscriptions partitions go
// to the least loaded subscriber and are then moved until no subscriber
// has two more than another.
func assignUniform(spec assignSpec) map[string]partitionSet {
	ids := spec.memberIDs()
	out := map[string]partitionSet{}
	for _, id := range ids {
		out[id] = partitionSet{}
	}
	if len(ids) == 0 {
		return out
	}
	// Every partition some member subscribes to, in a stable order.
	var all []tp
	seen := map[TopicID]bool{}
	for _, id := range ids {
		for _, t := range spec.members[id] {
			n, ok := spec.partitions[t]
			if !ok || seen[t] {
				continue
			}
			seen[t] = true
			for p := int32(0); p < n; p++ {
				all = append(all, tp{t, p})
			}
		}
	}
	slices.SortFunc(all, compareTP)
	owner := map[tp]string{}
	count := map[string]int{}
	give := func(m string, x tp) {
		owner[x] = m
		count[m]++
	}
	// Previous partitions still valid for their member, sorted so that the
	// ones kept under a quota are deterministic.
	prev := map[string][]tp{}
	for _, id := range ids {
		for t, ps := range spec.current[id] {
			n, ok := spec.partitions[t]
			if !ok || !spec.subscribes(id, t) {
				continue
			}
			for _, p := range ps {
				if p < n {
					prev[id] = append(prev[id], tp{t, p})
				}
			}
		}
		slices.SortFunc(prev[id], compareTP)
	}

	if spec.homogeneous() {
		minQuota := len(all) / len(ids)
		extra := len(all) % len(ids)
		for _, id := range ids {
			keep := 0
			for _, x := range prev[id] {
				if _, taken := owner[x]; taken {
					continue
				}
				if keep < minQuota {
					give(id, x)
					keep++
				} else if keep == minQuota && extra > 0 {
					give(id, x)
					keep++
					extra--
					break
				}
			}
		}
		for _, x := range all {
			if _, taken := owner[x]; taken {
				continue
			}
			// The member furthest below its quota, then by id.
			best := ""
			for _, id := range ids {
				quota := minQuota
				if count[id] >= minQuota && extra > 0 {
					quota = minQuota + 1
				}
				if count[id] >= quota {
					continue
				}
				if best == "" || count[id] < count[best] {
					best = id
				}
			}
			if best == "" {
				best = ids[0]
			}
			if count[best] == minQuota {
				extra--
			}
			give(best, x)
		}
	} else {
		for _, id := range ids {
			for _, x := range prev[id] {
				if _, taken := owner[x]; !taken {
					give(id, x)
				}
			}
		}
		leastLoaded := func(x tp, except string) string {
			best := ""
			for _, id := range ids {
				if id == except || !spec.subscribes(id, x.topic) {
					continue
				}
				if best == "" || count[id] < count[best] {
					best = id
				}
			}
			return best
		}
		for _, x := range all {
			if _, taken := owner[x]; !taken {
				if m := leastLoaded(x, ""); m != "" {
					give(m, x)
				}
			}
		}
		// Balance: move partitions from a member to a less loaded subscriber
		// while that narrows a gap of two or more.
		for moved := true; moved; {
			moved = false
			for _, x := range all {
				o, ok := owner[x]
				if !ok {
					continue
				}
				if m := leastLoaded(x, o); m != "" && count[m]+1 < count[o] {
					count[o]--
					give(m, x)
					moved = true
				}
			}
		}
	}
	for x, m := range owner {
		out[m][x.topic] = append(out[m][x.topic], x.partition)
	}
	return normalize(out)
}

// normalize sorts partitions and drops empty topics.
func normalize(a map[string]partitionSet) map[string]partitionSet {
	for _, ps := range a {
		for t, p := range ps {
			if len(p) == 0 {
				delete(ps, t)
				continue
			}
			slices.Sort(p)
		}
	}
	return a
}
