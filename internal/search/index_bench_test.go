package search

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"
)

var benchBatch = 1000

func benchRecords(n int) []Record {
	r := rand.New(rand.NewPCG(1, 2))
	words := make([]string, 5000)
	for i := range words {
		b := make([]byte, 4+r.IntN(6))
		for j := range b {
			b[j] = byte('a' + r.IntN(26))
		}
		words[i] = string(b)
	}
	out := make([]Record, n)
	for i := range out {
		var msg strings.Builder
		for msg.Len() < 700 {
			msg.WriteString(words[r.IntN(len(words))])
			msg.WriteByte(' ')
		}
		v, _ := json.Marshal(map[string]any{"seq": i, "level": "info", "service": fmt.Sprintf("svc-%d", r.IntN(20)),
			"user":       map[string]any{"id": r.IntN(100000), "name": fmt.Sprintf("user%d", r.IntN(100000))},
			"latency_ms": r.IntN(5000), "msg": msg.String(), "ts": time.Now().UTC().Format(time.RFC3339Nano)})
		out[i] = Record{Partition: 0, Offset: int64(i), Timestamp: time.Now().UnixMilli(), Value: v}
	}
	return out
}

// BenchmarkIndex measures indexing 1 KiB JSON records into one on-disk
// index in batches of benchBatch:
// go test -run '^$' -bench 'Index$' -benchtime 5000x ./internal/search/
func BenchmarkIndex(b *testing.B) { benchIndex(b, benchRecords(b.N)) }

// BenchmarkIndexPlainText is the same records indexed as one text each.
func BenchmarkIndexPlainText(b *testing.B) {
	recs := benchRecords(b.N)
	for i := range recs {
		recs[i].Value = append([]byte("x "), recs[i].Value...) // not JSON
	}
	benchIndex(b, recs)
}

func benchIndex(b *testing.B, recs []Record) {
	m := newMapping()
	db := newDocBuilder(m)
	idx, err := bleve.New(b.TempDir()+"/idx", m)
	if err != nil {
		b.Fatal(err)
	}
	defer idx.Close()
	b.ResetTimer()
	batch := idx.NewBatch()
	for i := range recs {
		if err := batch.IndexAdvanced(db.build("t", &recs[i])); err != nil {
			b.Fatal(err)
		}
		if batch.Size() == benchBatch || i == len(recs)-1 {
			if err := idx.Batch(batch); err != nil {
				b.Fatal(err)
			}
			batch = idx.NewBatch()
		}
	}
	b.ReportMetric(float64(len(recs))/b.Elapsed().Seconds(), "docs/s")
}
