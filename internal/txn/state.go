package txn

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
)

// State is a transaction's state, as in Kafka's TransactionState.
type State uint8

// The states. Dead and PrepareEpochFence exist in Kafka as transient,
// never-persisted states; this coordinator never enters them, but their
// names are valid ListTransactions filters.
const (
	StateEmpty State = iota
	StateOngoing
	StatePrepareCommit
	StatePrepareAbort
	StateCompleteCommit
	StateCompleteAbort
	StateDead
	StatePrepareEpochFence
)

var stateNames = [...]string{
	StateEmpty:             "Empty",
	StateOngoing:           "Ongoing",
	StatePrepareCommit:     "PrepareCommit",
	StatePrepareAbort:      "PrepareAbort",
	StateCompleteCommit:    "CompleteCommit",
	StateCompleteAbort:     "CompleteAbort",
	StateDead:              "Dead",
	StatePrepareEpochFence: "PrepareEpochFence",
}

// String returns Kafka's name for s (the DescribeTransactions and
// ListTransactions wire value).
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// ParseState returns the state named name (Kafka's names, case-sensitive).
func ParseState(name string) (State, bool) {
	for i, n := range stateNames {
		if n == name {
			return State(i), true
		}
	}
	return 0, false
}

// UnknownStateFilters returns the names in states that are not transaction
// states: ListTransactions answers them in unknown_state_filters.
func UnknownStateFilters(states []string) []string {
	var unknown []string
	for _, s := range states {
		if _, ok := ParseState(s); !ok {
			unknown = append(unknown, s)
		}
	}
	return unknown
}

// MarshalText implements encoding.TextMarshaler.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *State) UnmarshalText(b []byte) error {
	st, ok := ParseState(string(b))
	if !ok {
		return fmt.Errorf("txn: unknown transaction state %q", b)
	}
	*s = st
	return nil
}

func (s State) preparing() bool { return s == StatePrepareCommit || s == StatePrepareAbort }

func (s State) completed() bool { return s == StateCompleteCommit || s == StateCompleteAbort }

// noProducerID and noEpoch are Kafka's RecordBatch.NO_PRODUCER_ID/EPOCH.
const (
	noProducerID = int64(-1)
	noEpoch      = int16(-1)
)

// epochExhausted is Kafka's TransactionMetadata.isEpochExhausted: the
// client may never be handed Short.MaxValue, which is kept for fencing.
func epochExhausted(epoch int16) bool { return epoch >= math.MaxInt16-1 }

// bump returns epoch+1, saturating at Short.MaxValue.
func bump(epoch int16) int16 {
	if epoch == math.MaxInt16 {
		return epoch
	}
	return epoch + 1
}

// txnMeta is one transactional id's state, persisted as JSON under the
// transactional id. It is treated as a value: transitions build a new one.
type txnMeta struct {
	ProducerID     int64    `json:"producer_id"`
	PrevProducerID int64    `json:"prev_producer_id"` // producer id before the last transition
	NextProducerID int64    `json:"next_producer_id"` // V2 epoch overflow: id taken on completion
	Epoch          int16    `json:"epoch"`
	LastEpoch      int16    `json:"last_epoch"` // KIP-360: the epoch before the last bump, -1 after a fence
	TimeoutMs      int64    `json:"timeout_ms"`
	State          State    `json:"state"`
	Partitions     []TP     `json:"partitions,omitempty"` // sorted, no duplicates
	Groups         []string `json:"groups,omitempty"`     // sorted, no duplicates
	StartMs        int64    `json:"start_ms"`             // -1 when no transaction started
	LastUpdateMs   int64    `json:"last_update_ms"`
	V2             bool     `json:"v2,omitempty"` // last EndTxn used transactions V2 (KIP-890)
}

func (m txnMeta) clone() txnMeta {
	m.Partitions = slices.Clone(m.Partitions)
	m.Groups = slices.Clone(m.Groups)
	return m
}

func (m txnMeta) encode() ([]byte, error) { return json.Marshal(m) }

func decodeMeta(b []byte) (txnMeta, error) {
	var m txnMeta
	err := json.Unmarshal(b, &m)
	return m, err
}

func compareTP(a, b TP) int {
	if c := strings.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	switch {
	case a.Partition < b.Partition:
		return -1
	case a.Partition > b.Partition:
		return 1
	}
	return 0
}

// mergeTPs returns the sorted union of have (sorted) and add.
func mergeTPs(have, add []TP) []TP {
	out := slices.Clone(have)
	for _, tp := range add {
		if i, found := slices.BinarySearchFunc(out, tp, compareTP); !found {
			out = slices.Insert(out, i, tp)
		}
	}
	return out
}

func containsAllTPs(have, want []TP) bool {
	for _, tp := range want {
		if _, found := slices.BinarySearchFunc(have, tp, compareTP); !found {
			return false
		}
	}
	return true
}

func mergeGroup(have []string, g string) []string {
	out := slices.Clone(have)
	if i, found := slices.BinarySearch(out, g); !found {
		out = slices.Insert(out, i, g)
	}
	return out
}
