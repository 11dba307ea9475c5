// Package pgtest starts throwaway PostgreSQL servers for tests, from the
// system's own binaries (initdb and postgres of PostgreSQL 13 or newer,
// found in PATH or under /usr/lib/postgresql/*/bin). A server lives in a
// temporary directory, listens on a free loopback port, trusts every local
// connection and runs with fsync off: it is for tests only.
//
// PostgreSQL refuses to run as root. When the test binary runs as root,
// pgtest runs initdb and postgres as an unprivileged user instead ("postgres"
// when it exists, else "nobody") through syscall.Credential, owns the data
// directory to that user, and makes the directories above it that lie inside
// os.TempDir() traversable (o+x, not readable) so that user can reach it.
//
// The postgres process is started directly (not through pg_ctl), with a
// parent-death signal (SIGQUIT, PostgreSQL's immediate shutdown), so that a
// test binary that panics or exits without stopping it does not leave it
// running. Killing a server relies on Linux (/proc, Pdeathsig); other Unix
// systems get a cruder version.
//
// Most tests use the shared server: Shared starts one per test binary, and
// NewDatabase hands each test a fresh database on it. Call Main from
// TestMain so the shared server is stopped and its files removed on exit.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// ErrNotInstalled is returned (wrapped) by Start when no PostgreSQL binaries
// can be found.
var ErrNotInstalled = errors.New("PostgreSQL not installed")

// Server is a PostgreSQL server started by Start. Its methods are safe for
// concurrent use.
type Server struct {
	binDir  string
	dataDir string
	logPath string
	port    int
	sockDir string // "" when the path would be too long for a unix socket
	cred    *syscall.Credential

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has been waited for
}

// Start creates a new cluster in a fresh directory below dir and starts
// it. It returns once the server accepts connections.
func Start(ctx context.Context, dir string) (*Server, error) {
	binDir, err := findBinDir()
	if err != nil {
		return nil, err
	}
	cred, err := runAs()
	if err != nil {
		return nil, err
	}
	base, err := os.MkdirTemp(dir, "pgtest-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if cred != nil {
		if err := makeReachable(base, cred); err != nil {
			return nil, err
		}
	}
	s := &Server{
		binDir:  binDir,
		dataDir: filepath.Join(base, "data"),
		logPath: filepath.Join(base, "postgres.log"),
		cred:    cred,
	}
	// The socket file is ".s.PGSQL.<port>" in sockDir; unix socket paths
	// are limited to 107 bytes, and nothing here needs the socket anyway.
	if len(base)+len("/.s.PGSQL.65535") < 100 {
		s.sockDir = base
	}
	if err := s.initdb(ctx); err != nil {
		return nil, err
	}
	// The port is picked free and then handed to postgres, so another
	// process may take it in between; try a few ports.
	for try := 0; ; try++ {
		s.port, err = freePort()
		if err != nil {
			return nil, err
		}
		err = s.start(ctx)
		if err == nil || try == 4 || ctx.Err() != nil || !errors.Is(err, errAddrInUse) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Port is the TCP port the server listens on (on 127.0.0.1).
func (s *Server) Port() int { return s.port }

// URL returns the connection URL of database dbname, as the superuser
// "postgres" (no password: the server trusts loopback connections).
func (s *Server) URL(dbname string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, dbname)
}

// CreateDatabase creates an empty database and returns its URL. name must
// be a plain identifier (lower-case letters, digits, underscore).
func (s *Server) CreateDatabase(ctx context.Context, name string) (string, error) {
	if !plainIdent(name) {
		return "", fmt.Errorf("pgtest: database name %q is not a plain identifier", name)
	}
	// FILE_COPY copies template1's files instead of WAL-logging every
	// block; with fsync off it is the faster way to make a small database.
	// Servers before PostgreSQL 15 know only that way and not the option.
	err := s.exec(ctx, "CREATE DATABASE "+name+" STRATEGY FILE_COPY")
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42601" { // syntax_error
		err = s.exec(ctx, "CREATE DATABASE "+name)
	}
	if err != nil {
		return "", err
	}
	return s.URL(name), nil
}

// DropDatabase drops a database, disconnecting its sessions first.
func (s *Server) DropDatabase(ctx context.Context, name string) error {
	if !plainIdent(name) {
		return fmt.Errorf("pgtest: database name %q is not a plain identifier", name)
	}
	return s.exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
}

func (s *Server) exec(ctx context.Context, sql string) error {
	conn, err := pgconn.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, sql).ReadAll(); err != nil {
		return fmt.Errorf("pgtest: %s: %w", sql, err)
	}
	return nil
}

// Stop shuts the server down ("fast" shutdown: sessions are ended, then a
// checkpoint). Its data stays, so Restart can start it again. Stopping a
// stopped server does nothing.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked(syscall.SIGINT, 30*time.Second)
}

// Kill ends the server and all its processes with SIGKILL, as a crash
// would: clients see their connections drop without a word. Restart
// recovers it.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.stopLocked(syscall.SIGKILL, 0)
}

// Restart stops the server if it runs and starts it again on the same
// port with the same data.
func (s *Server) Restart(ctx context.Context) error {
	s.mu.Lock()
	err := s.stopLocked(syscall.SIGINT, 30*time.Second)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.start(ctx)
}

// stopLocked sends sig to the postmaster and waits up to grace for it to
// exit; SIGKILL, or a postmaster that outlives grace, gets killTree. The
// caller holds s.mu.
func (s *Server) stopLocked(sig syscall.Signal, grace time.Duration) error {
	if s.cmd == nil {
		return nil
	}
	pid := s.cmd.Process.Pid
	var err error
	if sig != syscall.SIGKILL {
		_ = syscall.Kill(pid, sig)
		select {
		case <-s.done:
		case <-time.After(grace):
			err = fmt.Errorf("pgtest: postgres did not stop within %v; killed", grace)
		}
	}
	killTree(pid, s.done)
	s.cmd, s.done = nil, nil
	return err
}

var errAddrInUse = errors.New("address in use")

// start runs postgres on s.port and waits until it accepts connections.
func (s *Server) start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("pgtest: server already running")
	}
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer logf.Close()
	logStart, _ := logf.Seek(0, 2)

	args := []string{
		"-D", s.dataDir,
		"-p", strconv.Itoa(s.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=" + s.sockDir,
		"-c", "max_connections=200",
		"-c", "shared_buffers=32MB",
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "log_min_messages=warning",
		"-c", "log_min_error_statement=panic",
	}
	cmd := exec.Command(filepath.Join(s.binDir, "postgres"), args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = serverProcAttr(s.cred)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgtest: start postgres: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.cmd, s.done = cmd, done

	if err := s.waitReady(ctx, done); err != nil {
		killTree(cmd.Process.Pid, done)
		s.cmd, s.done = nil, nil
		out := s.logSince(logStart)
		if bytes.Contains(out, []byte("Address already in use")) {
			err = fmt.Errorf("%w: %w", errAddrInUse, err)
		}
		return fmt.Errorf("pgtest: postgres did not start: %w\n%s", err, out)
	}
	return nil
}

// waitReady polls until a connection succeeds, the process exits, or ctx
// (bounded to 60 s) ends.
func (s *Server) waitReady(ctx context.Context, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, time.Second)
		conn, err := pgconn.Connect(attempt, s.URL("postgres"))
		cancelAttempt()
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case <-exited:
			return errors.New("postgres exited")
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (s *Server) logSince(off int64) []byte {
	b, err := os.ReadFile(s.logPath)
	if err != nil || off > int64(len(b)) {
		return nil
	}
	return b[off:]
}

func (s *Server) initdb(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, filepath.Join(s.binDir, "initdb"),
		"-D", s.dataDir,
		"-U", "postgres",
		"-A", "trust",
		"-E", "UTF8",
		"--locale=C",
		"--no-sync",
		"--no-instructions",
	)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	return nil
}

// findBinDir finds the directory holding initdb and postgres: the one of
// initdb in PATH (symlinks resolved, since postgres locates its share
// directory from its real path), else the newest /usr/lib/postgresql/N/bin.
func findBinDir() (string, error) {
	var candidates []string
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			candidates = append(candidates, filepath.Dir(real))
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	candidates = append(candidates, dirs...)
	for _, d := range candidates {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", fmt.Errorf("pgtest: %w: no initdb and postgres in PATH or /usr/lib/postgresql/*/bin", ErrNotInstalled)
}

func versionOf(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// runAs returns the credential to run PostgreSQL with: nil unless we are
// root, which PostgreSQL refuses to run as.
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil || uid == 0 {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
	}
	return nil, errors.New(`pgtest: running as root and no unprivileged user ("postgres" or "nobody") to run PostgreSQL as`)
}

// makeReachable gives base to cred's user and lets that user traverse the
// directories above it. Only directories inside os.TempDir() are changed
// (o+x, so names can be followed but not listed); anything else that blocks
// the way is an error rather than a silent permission change.
func makeReachable(base string, cred *syscall.Credential) error {
	if err := os.Chown(base, int(cred.Uid), int(cred.Gid)); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	abs, err := filepath.Abs(base)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	tmp, err := filepath.EvalSymlinks(os.TempDir())
	if err != nil {
		tmp = os.TempDir()
	}
	for dir := filepath.Dir(abs); ; dir = filepath.Dir(dir) {
		fi, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			real, _ := filepath.EvalSymlinks(dir)
			if !strings.HasPrefix(real, tmp+string(filepath.Separator)) {
				return fmt.Errorf("pgtest: running as root, PostgreSQL runs as uid %d and cannot reach %s; use a directory inside %s", cred.Uid, dir, os.TempDir())
			}
			if err := os.Chmod(dir, fi.Mode().Perm()|0o001); err != nil {
				return fmt.Errorf("pgtest: %w", err)
			}
		}
		if dir == filepath.Dir(dir) {
			return nil
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func plainIdent(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
