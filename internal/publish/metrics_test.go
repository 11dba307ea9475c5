package publish_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/publish"
	"github.com/hookd/hookd/internal/store"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// metric returns the single metric of the family name in reg.
func metric(t *testing.T, reg *prometheus.Registry, name string) *dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0]
		}
	}
	t.Fatalf("no metric %s", name)
	return nil
}

// histogram returns the count and sum of the named histogram in reg.
func histogram(t *testing.T, reg *prometheus.Registry, name string) (count uint64, sum float64) {
	t.Helper()
	h := metric(t, reg, name).GetHistogram()
	return h.GetSampleCount(), h.GetSampleSum()
}

func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	return metric(t, reg, name).GetCounter().GetValue()
}

// TestMetrics: every commit is observed once with its number of events, so
// events per commit is sum ÷ count; a failed commit is counted as failed.
func TestMetrics(t *testing.T) {
	st, pid := setup(t)
	reg := prometheus.NewRegistry()
	b := publish.New(publish.Config{Store: st, Clock: clock.NewFake(t0), Metrics: publish.NewMetrics(reg)})
	defer b.Close()

	const n = 100
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := b.Publish(context.Background(), event(pid, "")); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	commits, events := histogram(t, reg, "hookd_publish_batch_events")
	if events != n || commits != uint64(st.calls.Load()) {
		t.Fatalf("batch histogram: %d commits with %v events; the store saw %d commits with %d events",
			commits, events, st.calls.Load(), n)
	}
	if c, secs := histogram(t, reg, "hookd_publish_commit_seconds"); c != commits || secs <= 0 {
		t.Fatalf("commit time: %d observations, %v s in all; want %d, > 0", c, secs, commits)
	}
	if f := counter(t, reg, "hookd_publish_commit_errors_total"); f != 0 {
		t.Fatalf("%v failed commits, want 0", f)
	}

	down := error(store.ErrUnavailable)
	st.fail.Store(&down)
	if _, err := b.Publish(context.Background(), event(pid, "")); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if f := counter(t, reg, "hookd_publish_commit_errors_total"); f != 1 {
		t.Fatalf("%v failed commits, want 1", f)
	}
	if c, _ := histogram(t, reg, "hookd_publish_batch_events"); c != commits+1 {
		t.Fatalf("batch histogram count %d after a failed commit, want %d", c, commits+1)
	}
}
