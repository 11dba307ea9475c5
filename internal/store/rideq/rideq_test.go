package rideq

import "testing"

func TestQueue(t *testing.T) {
	var q Queue[int]
	a, b, c := new(int), new(int), new(int)
	q.Add(a)
	q.Add(b)
	if !q.Remove(a) {
		t.Fatal("a queued call could not take itself back")
	}
	if q.Remove(a) {
		t.Fatal("a call taken back twice")
	}
	q.Add(c)
	if q.Len() != 2 {
		t.Fatalf("Len %d, want 2", q.Len())
	}
	got := q.Take()
	if len(got) != 2 || got[0] != b || got[1] != c {
		t.Fatalf("Take gave %v, want b then c", got)
	}
	if q.Remove(b) {
		t.Fatal("a call a transaction took was taken back")
	}
	if len(q.Take()) != 0 {
		t.Fatal("Take after Take gave calls")
	}
}
