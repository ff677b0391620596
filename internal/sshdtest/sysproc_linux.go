package sshdtest

import "syscall"

// sysProcAttr makes the kernel kill sshd if the test binary dies without
// running its cleanups (a panic or `go test -timeout`). The kernel sends it
// when the OS thread that started sshd exits, which Go threads rarely do, so
// this is a safety net, not a guarantee. Per-connection
// processes are not covered; the next cleanup cannot find them either, which
// is one more reason tests must not panic with connections open.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
