//go:build !unix

package runner

import "os/exec"

// killGroupOnCancel kills only x itself when its context ends: there are
// no process groups to kill here.
func killGroupOnCancel(x *exec.Cmd) {}
