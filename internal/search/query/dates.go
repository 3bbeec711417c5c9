package query

import (
	"math"
	"strconv"
	"strings"
	"time"

	bq "github.com/blevesearch/bleve/v2/search/query"
)

// dateVal is a parsed date together with the span it names: "2024-01-02"
// is the whole day [lo, hi), "…T10:00:00Z" the whole second, a time with a
// fraction or epoch milliseconds an instant (lo == hi for an exact instant,
// or a millisecond). Ranges round with the span the way Elasticsearch does,
// so [2024-01-01 TO 2024-01-31] includes all of January 31st and
// >2024-01-01 starts on January 2nd.
type dateVal struct {
	lo, hi time.Time
}

func (d dateVal) exact() bool { return d.lo.Equal(d.hi) }

// Layouts for dates without a zone are read as UTC; each has the span a
// value written that way covers.
var dateLayouts = []struct {
	layout string
	span   func(time.Time) time.Time
}{
	{"2006-01-02", func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }},
	{"2006-01-02T15:04", func(t time.Time) time.Time { return t.Add(time.Minute) }},
	{"2006-01-02T15:04:05", func(t time.Time) time.Time { return t.Add(time.Second) }},
}

// parseDate reads an RFC 3339 time, a date-only or zone-less time (UTC),
// date math from now, or (when epoch is set) epoch milliseconds. The string
// it returns on failure says why.
func (p *parser) parseDate(s string, epoch bool) (dateVal, string) {
	d, why := p.parseDateRaw(s, epoch)
	if why != "" {
		return d, why
	}
	// bleve stores datetimes as int64 nanoseconds and rejects queries
	// outside the range RFC 3339 can round-trip through that.
	if d.lo.Before(bq.MinRFC3339CompatibleTime) || d.hi.After(bq.MaxRFC3339CompatibleTime) {
		return d, "date is outside the supported range 1677-12-01 to 2262-04-11"
	}
	return d, ""
}

func (p *parser) parseDateRaw(s string, epoch bool) (dateVal, string) {
	if strings.HasPrefix(s, "now") {
		return dateMath(p.now.UTC(), s[3:])
	}
	if epoch && isInteger(s) {
		ms, err := strconv.ParseInt(s, 10, 64)
		// Beyond ±2^53 ms the value is nowhere near a representable date.
		if err != nil || ms > 1<<53 || ms < -(1<<53) {
			return dateVal{}, "epoch milliseconds out of range"
		}
		t := time.UnixMilli(ms).UTC()
		return dateVal{lo: t, hi: t.Add(time.Millisecond)}, ""
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		if strings.Contains(s, ".") {
			return dateVal{lo: t, hi: t}, ""
		}
		return dateVal{lo: t, hi: t.Add(time.Second)}, ""
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l.layout, s); err == nil {
			// time.Parse accepts a fraction after the seconds even when
			// the layout has none; such a value is an instant.
			if strings.Contains(s, ".") {
				return dateVal{lo: t, hi: t}, ""
			}
			return dateVal{lo: t, hi: l.span(t)}, ""
		}
	}
	return dateVal{}, "expected an RFC 3339 time, YYYY-MM-DD, epoch milliseconds or now[+-N(y|M|w|d|h|m|s)][/unit]"
}

func isInteger(s string) bool {
	if strings.HasPrefix(s, "-") {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// dateMath applies Elasticsearch-style math after "now": any number of
// +N<unit> / -N<unit>, then optionally /<unit> to round down to the start
// of that unit (the value then spans the unit). Units: y M w d h H m s.
func dateMath(t time.Time, expr string) (dateVal, string) {
	const bad = "bad date math after now: want +N or -N with a unit y, M, w, d, h, m or s, optionally then /unit"
	for expr != "" {
		op := expr[0]
		if op == '/' {
			if len(expr) != 2 {
				return dateVal{}, bad
			}
			lo, hi, ok := roundDown(t, expr[1])
			if !ok {
				return dateVal{}, bad
			}
			return dateVal{lo: lo, hi: hi}, ""
		}
		if op != '+' && op != '-' {
			return dateVal{}, bad
		}
		j := 1
		for j < len(expr) && expr[j] >= '0' && expr[j] <= '9' {
			j++
		}
		if j == 1 || j >= len(expr) {
			return dateVal{}, bad
		}
		n, err := strconv.ParseInt(expr[1:j], 10, 64)
		// Anything past a million units leaves bleve's date range anyway;
		// the cap keeps the arithmetic below from overflowing.
		if err != nil || n > 1_000_000 {
			return dateVal{}, "date math amount is too large"
		}
		if op == '-' {
			n = -n
		}
		var ok bool
		if t, ok = addUnit(t, n, expr[j]); !ok {
			return dateVal{}, bad
		}
		expr = expr[j+1:]
	}
	return dateVal{lo: t, hi: t}, ""
}

func addUnit(t time.Time, n int64, unit byte) (time.Time, bool) {
	switch unit {
	case 'y':
		return t.AddDate(int(n), 0, 0), true
	case 'M':
		return t.AddDate(0, int(n), 0), true
	case 'w':
		return t.AddDate(0, 0, 7*int(n)), true
	case 'd':
		return t.AddDate(0, 0, int(n)), true
	case 'h', 'H':
		return t.Add(time.Duration(n) * time.Hour), true
	case 'm':
		return t.Add(time.Duration(n) * time.Minute), true
	case 's':
		return t.Add(time.Duration(n) * time.Second), true
	}
	return t, false
}

// roundDown returns the start of the unit containing t and the start of the
// next one (UTC; weeks start on Monday as in ISO 8601).
func roundDown(t time.Time, unit byte) (lo, hi time.Time, ok bool) {
	y, mo, d := t.Date()
	switch unit {
	case 'y':
		lo = time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
		return lo, lo.AddDate(1, 0, 0), true
	case 'M':
		lo = time.Date(y, mo, 1, 0, 0, 0, 0, time.UTC)
		return lo, lo.AddDate(0, 1, 0), true
	case 'w':
		day := time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
		back := (int(day.Weekday()) + 6) % 7 // days since Monday
		lo = day.AddDate(0, 0, -back)
		return lo, lo.AddDate(0, 0, 7), true
	case 'd':
		lo = time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
		return lo, lo.AddDate(0, 0, 1), true
	case 'h', 'H':
		lo = t.Truncate(time.Hour)
		return lo, lo.Add(time.Hour), true
	case 'm':
		lo = t.Truncate(time.Minute)
		return lo, lo.Add(time.Minute), true
	case 's':
		lo = t.Truncate(time.Second)
		return lo, lo.Add(time.Second), true
	}
	return t, t, false
}

// parseNumber accepts finite decimal numbers only: ParseFloat would also
// take "NaN" and "Inf", which no numeric range can use.
func parseNumber(s string) (float64, bool) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}
