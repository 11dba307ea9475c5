package client_test

import (
	"go/build"
	"os/exec"
	"strings"
	"testing"
)

// The package is meant to be imported into publishers' programs, so it must not drag
// in anything beyond the standard library. Test files are exempt.
func TestStandardLibraryOnly(t *testing.T) {
	t.Parallel()
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkg.Imports) == 0 {
		t.Fatal("found no imports; is the test running in the package directory?")
	}
	for _, path := range pkg.Imports {
		dep, err := build.Import(path, "", build.FindOnly)
		if err != nil || !dep.Goroot {
			t.Errorf("client imports %s, which is not in the standard library", path)
		}
	}

	// The go command sees transitive dependencies and build tags too; it is always
	// present under `go test`, but a test binary run elsewhere may lack it.
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Logf("go command not found (%v); checked direct imports only", err)
		return
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep != "github.com/hookd/hookd/client" {
			t.Errorf("client depends on non-standard package %s", dep)
		}
	}
}
