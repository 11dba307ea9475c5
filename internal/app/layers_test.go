package app_test

import (
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/hookd/hookd/"

// layerRules: the packages (and everything they import, transitively)
// must not reach the forbidden ones. Dependencies point one way:
// cmd → app → api/ui → service → store, and delivery → store; the store
// drivers are named only by internal/store/drivers.
var layerRules = []struct {
	pkgs   []string
	forbid []string
	why    string
}{
	{
		pkgs:   []string{"internal/api", "internal/ui", "internal/service"},
		forbid: []string{"internal/store/sqlite", "internal/store/postgres", "internal/store/drivers"},
		why:    "front ends and the service work on store.Store, whatever the database",
	},
	{
		pkgs: []string{"internal/store"},
		forbid: []string{"internal/service", "internal/api", "internal/ui", "internal/app", "internal/delivery",
			"internal/publish", "internal/maintenance", "internal/store/sqlite", "internal/store/postgres", "internal/store/drivers"},
		why: "the store interface is the bottom layer",
	},
	{
		pkgs:   []string{"internal/service"},
		forbid: []string{"internal/api", "internal/ui", "internal/app"},
		why:    "the service is under the front ends it serves",
	},
	{
		pkgs:   []string{"internal/delivery", "internal/publish", "internal/maintenance"},
		forbid: []string{"internal/service", "internal/api", "internal/ui", "internal/app"},
		why:    "the delivery side works on the store, not through the front ends' layer",
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
	out, err := exec.Command(goTool, "list", "-f", "{{.ImportPath}}|{{join .Imports \" \"}}|{{join .Deps \" \"}}", mod+"...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	direct, deps := map[string][]string{}, map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		if len(f) != 3 {
			t.Fatalf("go list line %q", line)
		}
		p := strings.TrimPrefix(f[0], mod)
		direct[p], deps[p] = strings.Fields(f[1]), strings.Fields(f[2])
	}
	for _, want := range []string{"internal/api", "internal/service", "internal/store", "internal/app"} {
		if _, ok := deps[want]; !ok {
			t.Fatalf("go list did not list %s; is the module path %q?", want, mod)
		}
	}
	check := func(table map[string][]string, pkgs, forbid []string, why string) {
		for _, p := range pkgs {
			for _, d := range table[p] {
				for _, f := range forbid {
					if d == mod+f {
						t.Errorf("%s imports %s: %s", p, f, why)
					}
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
