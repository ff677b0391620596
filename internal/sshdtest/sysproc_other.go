//go:build !linux

package sshdtest

import "syscall"

// sysProcAttr has nothing to add where there is no parent-death signal;
// Require skips the tests there anyway.
func sysProcAttr() *syscall.SysProcAttr { return nil }
