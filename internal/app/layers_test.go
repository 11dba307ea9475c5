package app_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/hookd/hookd/"

// allowed is the module's import graph: each package → the module's
// packages its own (non-test) files may import. An import not listed here
// fails TestLayers, and so does a package not listed: a new edge is a
// decision, made here, against the layering below. It was built from
//
//	go list -f '{{.ImportPath}} {{.Imports}}' ./...
//
// and checked against cmd → app → api/ui → service → store,
// delivery → store; the leaves (clock, ids, retry, outbound, eventbody,
// secretbox, sse, freshread, store/rideq, webhook) import nothing above
// the store. cmd/hookd
// names lower packages only for their Default… constants (flag defaults)
// and for the bench and listen tools; the UI names store for its sessions.
var allowed = map[string][]string{
	"client":                   {},
	"examples/publish":         {"client"},
	"examples/receiver":        {"webhook"},
	"cmd/hookd":                {"internal/api", "internal/app", "internal/bench", "internal/delivery", "internal/eventfeed", "internal/health", "internal/listen", "internal/maintenance", "internal/outbound", "internal/publish", "internal/retry", "internal/service", "webhook"},
	"internal/api":             {"internal/clock", "internal/service", "internal/sse"},
	"internal/app":             {"internal/api", "internal/clock", "internal/delivery", "internal/eventfeed", "internal/health", "internal/heartbeat", "internal/ids", "internal/maintenance", "internal/outbound", "internal/publish", "internal/retry", "internal/secretbox", "internal/service", "internal/store", "internal/store/drivers", "internal/ui"},
	"internal/app/apptest":     {"internal/app"},
	"internal/bench":           {"internal/ids", "internal/outbound", "internal/store", "internal/store/drivers", "webhook"},
	"internal/clock":           {},
	"internal/delivery":        {"internal/clock", "internal/eventbody", "internal/health", "internal/ids", "internal/outbound", "internal/retry", "internal/store", "webhook"},
	"internal/eventbody":       {},
	"internal/eventfeed":       {"internal/clock", "internal/freshread", "internal/ids", "internal/store"},
	"internal/freshread":       {},
	"internal/health":          {"internal/store"},
	"internal/heartbeat":       {"internal/clock", "internal/store"},
	"internal/ids":             {},
	"internal/listen":          {"internal/clock", "internal/sse", "webhook"},
	"internal/maintenance":     {"internal/clock", "internal/store"},
	"internal/outbound":        {"internal/clock"},
	"internal/pgtest":          {},
	"internal/publish":         {"internal/clock", "internal/store"},
	"internal/retry":           {},
	"internal/secretbox":       {},
	"internal/service":         {"internal/clock", "internal/eventbody", "internal/eventfeed", "internal/freshread", "internal/ids", "internal/outbound", "internal/publish", "internal/store", "webhook"},
	"internal/sse":             {},
	"internal/store":           {},
	"internal/store/drivers":   {"internal/store/postgres", "internal/store/sqlite"},
	"internal/store/postgres":  {"internal/ids", "internal/store", "internal/store/rideq"},
	"internal/store/rideq":     {},
	"internal/store/sqlite":    {"internal/ids", "internal/store", "internal/store/rideq"},
	"internal/store/storetest": {"internal/ids", "internal/store"},
	"internal/ui":              {"internal/clock", "internal/service", "internal/store"},
	"webhook":                  {},
}

// allowedInTests: what a package's tests may import besides allowed.
// Tests use real parts (a driver, pgtest) and may build a whole server
// from above, since an external test package closes no cycle.
var allowedInTests = map[string][]string{
	"client":                  {"internal/app", "internal/app/apptest"},
	"cmd/hookd":               {"internal/pgtest"},
	"internal/api":            {"internal/clock", "internal/eventfeed", "internal/ids", "internal/outbound", "internal/publish", "internal/store", "internal/store/sqlite", "webhook"},
	"internal/app":            {"internal/app/apptest", "internal/listen", "internal/pgtest", "webhook"},
	"internal/delivery":       {"internal/pgtest", "internal/store/postgres", "internal/store/sqlite"},
	"internal/eventfeed":      {"internal/store/sqlite"},
	"internal/heartbeat":      {"internal/ids", "internal/store/sqlite"},
	"internal/maintenance":    {"internal/ids", "internal/pgtest", "internal/store/postgres", "internal/store/sqlite"},
	"internal/publish":        {"internal/ids", "internal/pgtest", "internal/store/postgres", "internal/store/sqlite"},
	"internal/service":        {"internal/delivery", "internal/store/sqlite"},
	"internal/store/drivers":  {"internal/pgtest", "internal/store"},
	"internal/store/postgres": {"internal/pgtest", "internal/store/storetest"},
	"internal/store/sqlite":   {"internal/store/storetest"},
	"internal/ui":             {"internal/app", "internal/app/apptest", "webhook"},
}

var (
	drivers   = []string{"internal/store/sqlite", "internal/store/postgres", "internal/store/drivers"}
	frontEnds = []string{"internal/service", "internal/api", "internal/ui", "internal/app"}
	engine    = []string{"internal/delivery", "internal/publish", "internal/maintenance", "internal/eventfeed", "internal/heartbeat", "internal/health"}
	leaves    = []string{"client", "internal/clock", "internal/ids", "internal/retry", "internal/outbound", "internal/eventbody", "internal/secretbox", "internal/sse", "internal/pgtest", "internal/freshread", "internal/store/rideq", "webhook"}
)

// layerRules: the packages (and everything they import, transitively)
// must not reach the forbidden ones. Dependencies point one way:
// cmd → app → api/ui → service → store, and delivery → store; the store
// drivers are named only by internal/store/drivers. These hold for the
// table above too: an edge added to it that breaks them still fails.
var layerRules = []struct {
	pkgs   []string
	forbid []string
	why    string
}{
	{
		pkgs:   append([]string{"internal/api", "internal/ui", "internal/service"}, engine...),
		forbid: drivers,
		why:    "nothing above internal/store names a driver: store.Open picks it, whatever the database",
	},
	{
		pkgs:   []string{"internal/store"},
		forbid: slices.Concat(frontEnds, engine, drivers),
		why:    "the store interface is the bottom layer",
	},
	{
		pkgs:   []string{"internal/service"},
		forbid: []string{"internal/api", "internal/ui", "internal/app", "internal/delivery"},
		why:    "the service is under the front ends it serves, beside the engine",
	},
	{
		pkgs:   engine,
		forbid: frontEnds,
		why:    "the delivery side works on the store, not through the front ends' layer",
	},
	{
		pkgs:   leaves,
		forbid: slices.Concat([]string{"internal/store"}, frontEnds, engine, drivers),
		why:    "a leaf package knows nothing of hookd's layers",
	},
}

// directRules: packages that must not name these in their own imports.
var directRules = []struct {
	pkgs   []string
	forbid []string
	why    string
}{
	{
		pkgs:   []string{"internal/app", "internal/bench", "cmd/hookd"},
		forbid: []string{"internal/store/sqlite", "internal/store/postgres"},
		why:    "store.Open chooses the driver; internal/store/drivers is the one place that names them",
	},
}

func TestLayers(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("go command not found: %v", err)
	}
	out, err := exec.Command(goTool, "list", "-f",
		"{{.ImportPath}}|{{join .Imports \" \"}}|{{join .Deps \" \"}}|{{join .TestImports \" \"}} {{join .XTestImports \" \"}}",
		mod+"...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	ours := func(p string, list string) []string {
		var r []string
		for _, d := range strings.Fields(list) {
			if d, ok := strings.CutPrefix(d, mod); ok && d != p {
				r = append(r, d)
			}
		}
		return r
	}
	direct, deps, tests := map[string][]string{}, map[string][]string{}, map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		if len(f) != 4 {
			t.Fatalf("go list line %q", line)
		}
		p := strings.TrimPrefix(f[0], mod)
		direct[p], deps[p], tests[p] = ours(p, f[1]), ours(p, f[2]), ours(p, f[3])
	}
	for _, want := range []string{"internal/api", "internal/service", "internal/store", "internal/app", "internal/delivery"} {
		if _, ok := deps[want]; !ok {
			t.Fatalf("go list did not list %s; is the module path %q?", want, mod)
		}
	}

	for p := range direct {
		may, ok := allowed[p]
		if !ok {
			t.Errorf("package %s is not in allowed: add it with the imports its layer permits", p)
			continue
		}
		for _, d := range direct[p] {
			if !slices.Contains(may, d) {
				t.Errorf("%s imports %s, an edge not in allowed: check it against the layers, then add it", p, d)
			}
		}
		for _, d := range tests[p] {
			if !slices.Contains(may, d) && !slices.Contains(allowedInTests[p], d) {
				t.Errorf("tests of %s import %s, an edge in neither allowed nor allowedInTests", p, d)
			}
		}
	}

	check := func(table map[string][]string, pkgs, forbid []string, why string) {
		for _, p := range pkgs {
			if _, ok := table[p]; !ok {
				t.Errorf("rule names %s, which go list does not list", p)
			}
			for _, d := range table[p] {
				if slices.Contains(forbid, d) {
					t.Errorf("%s imports %s: %s", p, d, why)
				}
			}
		}
	}
	for _, r := range layerRules {
		check(deps, r.pkgs, r.forbid, r.why)
	}
	for _, r := range directRules {
		check(direct, r.pkgs, r.forbid, r.why)
	}
}
