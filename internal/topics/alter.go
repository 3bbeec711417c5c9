package topics

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ConfigOpType is what an incremental config change does, numbered as
// IncrementalAlterConfigs numbers its operations.
type ConfigOpType int8

const (
	ConfigSet      ConfigOpType = 0 // set the value
	ConfigDelete   ConfigOpType = 1 // remove the topic's value: the broker default applies again
	ConfigAppend   ConfigOpType = 2 // add items to a list config
	ConfigSubtract ConfigOpType = 3 // remove items from a list config
)

func (o ConfigOpType) String() string {
	switch o {
	case ConfigSet:
		return "SET"
	case ConfigDelete:
		return "DELETE"
	case ConfigAppend:
		return "APPEND"
	case ConfigSubtract:
		return "SUBTRACT"
	}
	return fmt.Sprintf("operation %d", int8(o))
}

// ConfigOp is one change to one of a topic's configs.
type ConfigOp struct {
	Name  string
	Op    ConfigOpType
	Value string // unused by ConfigDelete
}

// AlterConfigs applies ops to a topic's explicitly set configs, in order,
// as one change: if any op or the resulting set is invalid, nothing
// changes (ErrInvalidConfig, naming the key and the reason). APPEND and
// SUBTRACT work on list configs and start from the effective value (the
// broker default when the topic sets none). With validateOnly nothing is
// changed either way. The result is recorded in the metadata store before
// it applies, and it applies live: the partition logs get it at once
// (retention at the next maintenance run, segment rolls at the next
// append, compaction starts or stops at the next cleaner pass), and so do
// compression.type and chronik.search.enabled.
func (m *Manager) AlterConfigs(topic string, ops []ConfigOp, validateOnly bool) error {
	return m.changeConfigs(topic, validateOnly, func(cur map[string]string) (map[string]string, error) {
		next := maps.Clone(cur)
		for _, op := range ops {
			switch op.Op {
			case ConfigSet:
				next[op.Name] = op.Value
			case ConfigDelete:
				delete(next, op.Name)
			case ConfigAppend, ConfigSubtract:
				d, ok := topicConfigs[op.Name]
				if !ok {
					return nil, fmt.Errorf("unknown topic config %q", op.Name)
				}
				if d.Type != TypeList {
					return nil, fmt.Errorf("can't %s to key %s because its type is not LIST", op.Op, op.Name)
				}
				v, ok := next[op.Name]
				if !ok {
					v, _ = m.BrokerDefault(d)
				}
				next[op.Name] = applyListOp(v, op)
			default:
				return nil, fmt.Errorf("unknown config operation %d on %s", int8(op.Op), op.Name)
			}
		}
		return next, nil
	})
}

// ReplaceConfigs makes configs the topic's whole set of explicitly set
// configs (those it does not name return to the broker defaults), with
// the same validation, atomicity and live effect as AlterConfigs.
func (m *Manager) ReplaceConfigs(topic string, configs map[string]string, validateOnly bool) error {
	return m.changeConfigs(topic, validateOnly, func(map[string]string) (map[string]string, error) {
		return maps.Clone(configs), nil
	})
}

func (m *Manager) changeConfigs(name string, validateOnly bool, change func(cur map[string]string) (map[string]string, error)) error {
	m.alterMu.Lock()
	defer m.alterMu.Unlock()

	m.mu.Lock()
	t, ok := m.byName[name]
	if !ok {
		m.mu.Unlock()
		return fmt.Errorf("%w: topic %s does not exist", ErrUnknownTopic, name)
	}
	old := t.configs
	next, err := change(maps.Clone(old))
	if err == nil {
		if next == nil {
			next = map[string]string{}
		}
		err = m.validateConfigSet(next)
	}
	if err != nil {
		m.mu.Unlock()
		return fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	if validateOnly || maps.Equal(old, next) {
		m.mu.Unlock()
		return nil
	}
	// Recorded first, so that what clients see applied survives a restart.
	t.configs = next
	if err := m.store.PutTopic(t.record()); err != nil {
		t.configs = old
		m.mu.Unlock()
		return fmt.Errorf("record configs of topic %s: %w", name, err)
	}
	t.resolveCodec(m.effective(next, "compression.type"))
	parts := t.partitions
	lc := m.logConfig(next)
	m.mu.Unlock()

	// Outside mu (a log may be busy appending or cleaning), but under
	// alterMu, so a later change cannot be overtaken by this one.
	for _, p := range parts {
		p.Log.SetConfig(lc)
	}
	m.logger.Info("changed topic configs", "topic", name, "configs", next)
	return nil
}

// applyListOp applies an APPEND (items not yet in the list) or SUBTRACT to
// a list config's value.
func applyListOp(value string, op ConfigOp) string {
	items := ListItems(value)
	for _, it := range ListItems(op.Value) {
		if op.Op == ConfigAppend && !slices.Contains(items, it) {
			items = append(items, it)
		} else if op.Op == ConfigSubtract {
			items = slices.DeleteFunc(items, func(s string) bool { return s == it })
		}
	}
	return strings.Join(items, ",")
}
