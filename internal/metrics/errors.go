package metrics

import (
	"errors"
	"reflect"
	"strconv"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// countErrors counts every non-zero error code a response carries: at the
// top level, per topic, per partition (as Kafka's ErrorsPerSec does). The
// hot responses are walked by hand; the others by reflection over the
// kmsg structs' ErrorCode fields, with the walk planned once per type.
func countErrors(m *Metrics, key int16, resp kmsg.Response) {
	switch r := resp.(type) {
	case *kmsg.ProduceResponse:
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				if c := r.Topics[i].Partitions[j].ErrorCode; c != 0 {
					m.countError(key, c)
				}
			}
		}
	case *kmsg.FetchResponse:
		if r.ErrorCode != 0 {
			m.countError(key, r.ErrorCode)
		}
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				if c := r.Topics[i].Partitions[j].ErrorCode; c != 0 {
					m.countError(key, c)
				}
			}
		}
	case *kmsg.ApiVersionsResponse:
		if r.ErrorCode != 0 {
			m.countError(key, r.ErrorCode)
		}
	case *kmsg.HeartbeatResponse:
		if r.ErrorCode != 0 {
			m.countError(key, r.ErrorCode)
		}
	default:
		v := reflect.ValueOf(resp)
		if v.Kind() != reflect.Pointer || v.IsNil() {
			return
		}
		planFor(v.Type().Elem()).walk(v.Elem(), func(code int16) { m.countError(key, code) })
	}
}

// forEachErrorCode calls f with every non-zero error code of resp, by
// reflection alone (tests compare it with the hand-written walks).
func forEachErrorCode(resp kmsg.Response, f func(int16)) {
	v := reflect.ValueOf(resp)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return
	}
	planFor(v.Type().Elem()).walk(v.Elem(), f)
}

// errPlan lists where a struct type holds error codes: its own ErrorCode
// field, and the fields (structs, pointers to structs, slices of either)
// that lead to more.
type errPlan struct {
	codeField int // index of an int16 ErrorCode field, or -1
	children  []errStep
}

type errStep struct {
	field int
	kind  reflect.Kind // Struct, Pointer or Slice
	ptr   bool         // slice elements are pointers
	plan  *errPlan
}

var plans sync.Map // reflect.Type -> *errPlan

func planFor(t reflect.Type) *errPlan {
	if p, ok := plans.Load(t); ok {
		return p.(*errPlan)
	}
	p := buildPlan(t, map[reflect.Type]bool{})
	if p == nil {
		p = &errPlan{codeField: -1}
	}
	plans.Store(t, p)
	return p
}

// buildPlan returns nil when a struct type holds no error code anywhere.
func buildPlan(t reflect.Type, visiting map[reflect.Type]bool) *errPlan {
	if t.Kind() != reflect.Struct || visiting[t] {
		return nil
	}
	visiting[t] = true
	defer delete(visiting, t)
	p := &errPlan{codeField: -1}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if f.Name == "ErrorCode" && f.Type.Kind() == reflect.Int16 {
			p.codeField = i
			continue
		}
		ft := f.Type
		step := errStep{field: i, kind: ft.Kind()}
		switch ft.Kind() {
		case reflect.Struct:
			step.plan = buildPlan(ft, visiting)
		case reflect.Pointer:
			step.plan = buildPlan(ft.Elem(), visiting)
		case reflect.Slice:
			et := ft.Elem()
			if et.Kind() == reflect.Pointer {
				step.ptr, et = true, et.Elem()
			}
			step.plan = buildPlan(et, visiting)
		}
		if step.plan != nil {
			p.children = append(p.children, step)
		}
	}
	if p.codeField < 0 && len(p.children) == 0 {
		return nil
	}
	return p
}

func (p *errPlan) walk(v reflect.Value, f func(int16)) {
	if p.codeField >= 0 {
		if c := int16(v.Field(p.codeField).Int()); c != 0 {
			f(c)
		}
	}
	for _, s := range p.children {
		fv := v.Field(s.field)
		switch s.kind {
		case reflect.Struct:
			s.plan.walk(fv, f)
		case reflect.Pointer:
			if !fv.IsNil() {
				s.plan.walk(fv.Elem(), f)
			}
		case reflect.Slice:
			for i, n := 0, fv.Len(); i < n; i++ {
				ev := fv.Index(i)
				if s.ptr {
					if ev.IsNil() {
						continue
					}
					ev = ev.Elem()
				}
				s.plan.walk(ev, f)
			}
		}
	}
}

// errorName is the Kafka name of an error code (UNKNOWN_TOPIC_OR_PARTITION),
// or UNKNOWN_ERROR_CODE_<n> for a code kerr does not know.
func errorName(code int16) string {
	var ke *kerr.Error
	if errors.As(kerr.ErrorForCode(code), &ke) && ke.Code == code {
		return ke.Message
	}
	return "UNKNOWN_ERROR_CODE_" + strconv.Itoa(int(code))
}
