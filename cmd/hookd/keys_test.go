package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// stop ends the process gracefully and waits for it.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()
}

// TestAdminKeyIsReplaced: starting with a different --admin-key revokes
// the previous one, and `hookd keys rotate-admin` replaces it again; the
// keys made with an old admin key keep working.
func TestAdminKeyIsReplaced(t *testing.T) {
	db := filepath.Join(t.TempDir(), "hookd.db")
	const old, next = "hk_adm_old_key_0123456789abcdef", "hk_adm_new_key_0123456789abcdef"
	create := func(p *proc, key string) int {
		t.Helper()
		code, err := p.post("/v1/projects", key, map[string]any{"name": "x"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return code
	}

	p := startProc(t, "--db", db, "--admin-key", old)
	if code := create(p, old); code != 201 {
		t.Fatalf("with the first admin key: %d", code)
	}
	var proj struct{ ID string }
	if _, err := p.post("/v1/projects", old, map[string]any{"name": "kept"}, &proj); err != nil || proj.ID == "" {
		t.Fatalf("project: %v", err)
	}
	var made struct{ Key string }
	if code, err := p.post("/v1/projects/"+proj.ID+"/api-keys", old, map[string]any{"scope": "read"}, &made); err != nil || code != 201 {
		t.Fatalf("project key: %d, %v", code, err)
	}
	p.stop(t)

	p = startProc(t, "--db", db, "--admin-key", next)
	if code := create(p, old); code != 401 {
		t.Fatalf("the previous admin key after a restart with a new one: %d, want 401", code)
	}
	if code := create(p, next); code != 201 {
		t.Fatalf("the new admin key: %d", code)
	}
	if code, _ := p.post("/v1/projects/"+proj.ID+"/api-keys", made.Key, map[string]any{"scope": "read"}, nil); code != 403 {
		t.Fatalf("a key the old admin key made: %d, want 403 (valid, scope read)", code)
	}
	p.stop(t)

	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "keys", "rotate-admin", "--db", db).Output()
	if err != nil {
		t.Fatalf("rotate-admin: %v", err)
	}
	rotated := strings.TrimSpace(string(out))
	if !strings.HasPrefix(rotated, "hk_adm_") {
		t.Fatalf("rotate-admin printed %q", out)
	}
	// Started again with the revoked key: it starts, says so, and the key
	// stays revoked.
	p = startProc(t, "--db", db, "--admin-key", next)
	if code := create(p, next); code != 401 {
		t.Fatalf("the admin key rotate-admin replaced: %d, want 401", code)
	}
	if code := create(p, rotated); code != 201 {
		t.Fatalf("the rotated admin key: %d", code)
	}
	if !strings.Contains(p.log(), "was revoked") {
		t.Fatalf("no warning about the revoked --admin-key in the log:\n%s", p.log())
	}
}
