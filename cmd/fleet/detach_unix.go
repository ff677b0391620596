//go:build unix

package main

import (
	"os"
	"os/exec"
	"syscall"
)

// detachStdio points stdin, stdout and stderr at /dev/null, so that a
// background master outlives the pipes of the command that started it.
func detachStdio() {
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return
	}
	defer null.Close()
	for fd := range 3 {
		dupTo(int(null.Fd()), fd)
	}
}

// detach makes cmd a session leader, free of fleet's terminal and
// process group, as a background master must be.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
}

// fileOwnerUID returns the uid that owns a file.
func fileOwnerUID(fi os.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}
