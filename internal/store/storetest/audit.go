package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
)

var auditCases = []testCase{
	{"Audit", testAudit},
	{"DeleteAuditBefore", testDeleteAuditBefore},
}

// audit stores a record of projectID ("" for none) at at.
func (f *fixture) audit(projectID, action string, at time.Time) store.AuditRecord {
	f.t.Helper()
	f.n++
	r := store.AuditRecord{
		ID:         ids.New(ids.Audit, at),
		ProjectID:  projectID,
		At:         at.Add(123456 * time.Nanosecond), // kept to the microsecond
		ActorKeyID: ids.New(ids.APIKey, Base),
		Source:     "2001:db8::1",
		Action:     action,
		TargetID:   fmt.Sprintf("ep_%d", f.n),
		Detail:     fmt.Sprintf("détail %d — https://receiver.example/✓", f.n),
	}
	if projectID == "" {
		r.ActorKeyID, r.TargetID = "", "" // a failed sign-in has neither
	}
	f.must(f.s.AddAudit(f.ctx, r), "AddAudit")
	return r
}

func testAudit(t *testing.T, f *fixture) {
	p, q := f.project(), f.project()
	var ofP, all []store.AuditRecord
	for i := range 7 {
		at := Base.Add(time.Duration(i) * time.Minute)
		r := f.audit(p.ID, "endpoint.created", at)
		ofP = append(ofP, r)
		all = append(all, r)
		if i%3 == 0 {
			all = append(all, f.audit(q.ID, "key.created", at.Add(time.Second)))
		}
		if i%2 == 0 {
			all = append(all, f.audit("", "signin.failed", at.Add(2*time.Second)))
		}
	}
	slices.Reverse(ofP)
	slices.SortFunc(all, func(a, b store.AuditRecord) int { return -cmpString(a.ID, b.ID) })

	// Pages of 3, newest first, until a short page.
	pages := func(projectID string) []store.AuditRecord {
		t.Helper()
		var got []store.AuditRecord
		after := ""
		for range 20 {
			page, err := f.s.ListAudit(f.ctx, projectID, store.Page{After: after, Limit: 3})
			f.must(err, "ListAudit")
			got = append(got, page...)
			if len(page) < 3 {
				return got
			}
			after = page[len(page)-1].ID
		}
		t.Fatalf("ListAudit(%q) never ended", projectID)
		return nil
	}
	equal(t, "ListAudit(p)", pages(p.ID), ofP)
	equal(t, "ListAudit(all)", pages(""), all)

	other := f.project()
	got, err := f.s.ListAudit(f.ctx, other.ID, store.Page{Limit: 10})
	f.must(err, "ListAudit(project without records)")
	if len(got) != 0 {
		t.Errorf("ListAudit of a project without records: %v", got)
	}

	dup := ofP[0]
	dup.Detail = "again"
	wantErr(t, "AddAudit(duplicate id)", f.s.AddAudit(f.ctx, dup), store.ErrConflict)
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func testDeleteAuditBefore(t *testing.T, f *fixture) {
	p := f.project()
	var old, kept []store.AuditRecord
	for i := range 5 {
		old = append(old, f.audit(p.ID, "secret.revealed", Base.Add(time.Duration(i-10)*time.Minute)))
	}
	old = append(old, f.audit("", "signin.failed", Base.Add(-time.Minute)))
	// At is Base plus a fraction of a millisecond: after Base, so kept.
	kept = append(kept, f.audit(p.ID, "secret.rotated", Base))
	kept = append(kept, f.audit("", "project.created", Base.Add(time.Minute)))

	n, err := f.s.DeleteAuditBefore(f.ctx, Base, 4)
	f.must(err, "DeleteAuditBefore")
	if n != 4 {
		t.Errorf("DeleteAuditBefore(limit 4) removed %d", n)
	}
	n, err = f.s.DeleteAuditBefore(f.ctx, Base, 4)
	f.must(err, "DeleteAuditBefore")
	if n != 2 {
		t.Errorf("DeleteAuditBefore the second time removed %d, want the 2 left", n)
	}
	n, err = f.s.DeleteAuditBefore(f.ctx, Base, 4)
	f.must(err, "DeleteAuditBefore")
	if n != 0 {
		t.Errorf("DeleteAuditBefore with none old removed %d", n)
	}
	got, err := f.s.ListAudit(f.ctx, "", store.Page{Limit: 10})
	f.must(err, "ListAudit")
	slices.Reverse(kept)
	equal(t, "left after DeleteAuditBefore", got, kept)
}
