package topics

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Dynamic broker configs: the broker-wide defaults of topic configs
// (log.retention.ms, log.segment.bytes, log.cleanup.policy,
// compression.type, chronik.search.enabled, ...) can be changed while the
// broker runs, as Kafka's DynamicLogConfig allows. They are recorded in the
// metadata store, outrank the configuration file, and apply at once to every
// topic that does not set the config itself. Every other broker config comes
// from Chronik's configuration and changes by restart.

// ErrReadOnlyConfig is returned for a broker config that cannot change while
// the broker runs.
var ErrReadOnlyConfig = errors.New("cannot update these configs dynamically")

// brokerSynonyms maps a broker config name to the topic config it defaults
// (built on first use: topicConfigs is filled by an init function).
var brokerSynonyms = sync.OnceValue(func() map[string]*ConfigDef {
	out := map[string]*ConfigDef{}
	for _, d := range topicConfigs {
		if d.BrokerName != "" && d.BrokerKey != "storage.fsync" && d.BrokerKey != "storage.fsync_interval_ms" {
			out[d.BrokerName] = d
		}
	}
	return out
})

// BrokerSynonym returns the topic config a dynamic broker config defaults.
func BrokerSynonym(brokerName string) (*ConfigDef, bool) {
	d, ok := brokerSynonyms()[brokerName]
	return d, ok
}

// dynamicDefaults returns the dynamic broker configs, by topic config name.
func (m *Manager) dynamicDefaults() map[string]string {
	if p := m.brokerDynamic.Load(); p != nil {
		return *p
	}
	return nil
}

// BrokerDefault resolves the broker-level value of a topic config: the
// dynamic broker config if set, else Chronik's configuration.
func (m *Manager) BrokerDefault(d *ConfigDef) (value string, dynamic bool) {
	if v, ok := m.dynamicDefaults()[d.Name]; ok {
		return v, true
	}
	return d.Default(m.broker), false
}

// DynamicBrokerConfigs returns the dynamic broker configs by broker name.
func (m *Manager) DynamicBrokerConfigs() map[string]string {
	out := map[string]string{}
	for name, v := range m.dynamicDefaults() {
		out[topicConfigs[name].BrokerName] = v
	}
	return out
}

// AlterBrokerConfigs changes dynamic broker configs (by their broker names)
// as one change: ops apply in order (SET, DELETE, APPEND, SUBTRACT); with
// replace, the SET values become the whole dynamic set. An invalid value is
// ErrInvalidConfig and a config that is not dynamic ErrReadOnlyConfig; either
// changes nothing. The result is recorded, then applied to every partition
// log whose topic does not set the config itself.
func (m *Manager) AlterBrokerConfigs(ops []ConfigOp, replace, validateOnly bool) error {
	m.alterMu.Lock()
	defer m.alterMu.Unlock()

	var readOnly []string
	for _, op := range ops {
		if _, ok := brokerSynonyms()[op.Name]; !ok {
			readOnly = append(readOnly, op.Name)
		}
	}
	if len(readOnly) > 0 {
		sort.Strings(readOnly)
		return fmt.Errorf("%w: %s; only the broker defaults of topic configs (log.retention.ms, log.segment.bytes, log.cleanup.policy, ...) are dynamic, the rest come from Chronik's configuration (TOML file, flags or environment) and change by restart",
			ErrReadOnlyConfig, strings.Join(readOnly, ", "))
	}
	cur := m.dynamicDefaults()
	next := maps.Clone(cur)
	if next == nil || replace {
		next = map[string]string{}
	}
	for _, op := range ops {
		d := brokerSynonyms()[op.Name]
		switch op.Op {
		case ConfigSet:
			next[d.Name] = op.Value
		case ConfigDelete:
			delete(next, d.Name)
		case ConfigAppend, ConfigSubtract:
			if d.Type != TypeList {
				return fmt.Errorf("%w: can't %s to key %s because its type is not LIST", ErrInvalidConfig, op.Op, op.Name)
			}
			v, ok := next[d.Name]
			if !ok {
				v = d.Default(m.broker)
			}
			next[d.Name] = applyListOp(v, op)
		default:
			return fmt.Errorf("%w: unknown config operation %d on %s", ErrInvalidConfig, int8(op.Op), op.Name)
		}
	}
	names := slices.Sorted(maps.Keys(next))
	for _, name := range names {
		if err := ValidateConfig(name, next[name]); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrInvalidConfig, topicConfigs[name].BrokerName, err)
		}
	}
	if validateOnly || maps.Equal(cur, next) {
		return nil
	}
	if err := m.store.PutBrokerConfigs(next); err != nil {
		return fmt.Errorf("record broker configs: %w", err)
	}
	m.brokerDynamic.Store(&next)
	m.logger.Info("dynamic broker configs changed", "configs", m.DynamicBrokerConfigs())

	// Every topic without its own value follows at once.
	for _, t := range m.List() {
		m.mu.Lock()
		t.resolveCodec(m.effective(t.configs, "compression.type"))
		lc := m.logConfig(t.configs)
		parts := t.partitions
		m.mu.Unlock()
		for _, p := range parts {
			p.Log.SetConfig(lc)
		}
	}
	return nil
}

// effective returns explicit with name resolved to its effective value.
func (m *Manager) effective(explicit map[string]string, name string) map[string]string {
	v, _ := m.ConfigValue(explicit, name)
	return map[string]string{name: v}
}
