//go:build unix && !linux

package pgtest

import (
	"syscall"
	"time"
)

// Without a parent-death signal, a test binary that dies leaves its
// server running; Main stops it on a normal exit.
func serverProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Setpgid: true}
}

// killTree kills the postmaster and, as well as it can without /proc, its
// children: those still in its process group. Backends that lead their own
// group notice the postmaster's death and exit shortly after; a restart
// that comes too soon may then fail.
func killTree(pid int, exited <-chan struct{}) {
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	<-exited
	time.Sleep(100 * time.Millisecond)
}
