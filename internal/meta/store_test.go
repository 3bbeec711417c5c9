package meta

import (
	"testing"
)

func TestStoreSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	cid := s.ClusterID()
	if cid == "" {
		t.Fatal("empty cluster id")
	}
	rec := TopicRecord{Name: "orders", ID: [16]byte{1, 2, 3}, Partitions: 3, Configs: map[string]string{"retention.ms": "1000"}}
	if err := s.PutTopic(rec); err != nil {
		t.Fatal(err)
	}
	first, err := s.ReserveProducerIDs(1000)
	if err != nil || first != 0 {
		t.Fatalf("first block = %d, %v", first, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.ClusterID() != cid {
		t.Fatalf("cluster id changed: %q -> %q", cid, s.ClusterID())
	}
	topics, err := s.Topics()
	if err != nil || len(topics) != 1 || topics[0].Name != "orders" || topics[0].ID != rec.ID || topics[0].Configs["retention.ms"] != "1000" {
		t.Fatalf("topics = %+v, %v", topics, err)
	}
	next, err := s.ReserveProducerIDs(1000)
	if err != nil || next != 1000 {
		t.Fatalf("second block = %d, %v; want 1000", next, err)
	}
	if err := s.DeleteTopic("orders"); err != nil {
		t.Fatal(err)
	}
	if topics, _ := s.Topics(); len(topics) != 0 {
		t.Fatalf("topic not deleted: %+v", topics)
	}
}
