//go:build unix

package runner

import (
	"os/exec"
	"syscall"
)

// killGroupOnCancel puts x in a process group of its own and kills the
// whole group when its context ends, so that a shell's children don't
// outlive it (and keep its output pipes open).
func killGroupOnCancel(x *exec.Cmd) {
	x.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	x.Cancel = func() error { return syscall.Kill(-x.Process.Pid, syscall.SIGKILL) }
}
