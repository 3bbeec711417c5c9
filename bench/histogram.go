package bench

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram is a lock-free, fixed-size, log-linear latency histogram in the
// spirit of HdrHistogram: values below 2^subBits ns are exact, larger values
// land in one of 2^subBits linear sub-buckets per power of two, so every
// recorded value is known to within 1/2^subBits (< 0.8%). Memory is constant
// (~60 KiB) whatever the number of samples, and Record is safe to call from
// many goroutines (franz-go promise callbacks, consumer loops) at once.
type Histogram struct {
	counts [(64 - subBits + 1) << subBits]atomic.Uint64
	n      atomic.Uint64
	sum    atomic.Uint64
	min    atomic.Uint64
	max    atomic.Uint64
}

const subBits = 7

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram {
	h := new(Histogram)
	h.min.Store(math.MaxUint64)
	return h
}

func bucketOf(v uint64) int {
	if v < 1<<subBits {
		return int(v)
	}
	n := bits.Len64(v)          // > subBits
	m := v >> (n - subBits - 1) // top subBits+1 bits: [2^subBits, 2^(subBits+1))
	return (n-subBits)<<subBits + int(m) - 1<<subBits
}

// bucketHigh is the largest value that maps to bucket i.
func bucketHigh(i int) uint64 {
	g := i >> subBits
	if g == 0 {
		return uint64(i)
	}
	shift := g - 1
	m := uint64(i&(1<<subBits-1)) + 1<<subBits
	return (m+1)<<shift - 1
}

// Record adds one latency sample (negative values count as zero).
func (h *Histogram) Record(d time.Duration) {
	v := uint64(0)
	if d > 0 {
		v = uint64(d)
	}
	h.counts[bucketOf(v)].Add(1)
	h.n.Add(1)
	h.sum.Add(v)
	for {
		cur := h.max.Load()
		if v <= cur || h.max.CompareAndSwap(cur, v) {
			break
		}
	}
	for {
		cur := h.min.Load()
		if v >= cur || h.min.CompareAndSwap(cur, v) {
			break
		}
	}
}

// Count is the number of recorded samples.
func (h *Histogram) Count() uint64 { return h.n.Load() }

// Quantile returns the value at quantile q in [0,1], reported as the
// highest value equivalent to the bucket it falls in (clamped to the
// observed maximum), like HdrHistogram.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			v := bucketHigh(i)
			if mx := h.max.Load(); v > mx {
				v = mx
			}
			if mn := h.min.Load(); v < mn {
				v = mn
			}
			return time.Duration(v)
		}
	}
	return time.Duration(h.max.Load())
}

// Latency summarises a histogram.
func (h *Histogram) Latency() Latency {
	n := h.n.Load()
	if n == 0 {
		return Latency{}
	}
	return Latency{
		Count: n,
		Mean:  ms(time.Duration(h.sum.Load() / n)),
		Min:   ms(time.Duration(h.min.Load())),
		P50:   ms(h.Quantile(0.50)),
		P99:   ms(h.Quantile(0.99)),
		P999:  ms(h.Quantile(0.999)),
		Max:   ms(time.Duration(h.max.Load())),
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
