package ui_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/clock"
)

// TestGracePeriodShown: the rotation page says what each choice does; a
// rotation with a grace period says until when the previous secret
// signs, in UTC; the Webhooks page says so while the grace runs and no
// more once it ended.
func TestGracePeriodShown(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 12, 1, 13, 5, 0, 0, time.UTC))
	e := newEnvWith(t, false, func(cfg *app.Config) { cfg.Clock = clk })
	p := e.project("Acme")
	c := e.client()
	csrf := c.signIn(p.Key)
	page := "/ui/projects/" + p.ID

	rotate := c.get(page + "/secret/rotate").body
	if !strings.Contains(rotate, "With no grace period the current secret stops signing immediately") ||
		!strings.Contains(rotate, "keeps signing beside the new one until the period ends") {
		t.Errorf("the rotation page does not say what a grace period does:\n%s", rotate)
	}
	if strings.Contains(c.get(page+"/webhooks").body, "still signing") {
		t.Error("a grace period shown before any rotation")
	}
	a := c.submit(page+"/secret/rotate", url.Values{"csrf": {csrf}, "grace_period_seconds": {"3600"}})
	if !strings.Contains(a.body, "keeps signing beside the new one until 2026-12-01 14:05:00 UTC (in 1 h)") {
		t.Errorf("after a rotation with an hour's grace:\n%s", a.body)
	}
	clk.Advance(30 * time.Minute)
	if got := c.get(page + "/webhooks").body; !strings.Contains(got, "<strong>Previous secret still signing</strong> until 2026-12-01 14:05:00 UTC (in 30 min)") {
		t.Errorf("the Webhooks page does not show the grace running:\n%s", got)
	}
	clk.Advance(30 * time.Minute)
	if got := c.get(page + "/webhooks"); got.StatusCode != http.StatusOK || strings.Contains(got.body, "still signing") {
		t.Errorf("the grace is shown after it ended (%d)", got.StatusCode)
	}
}
