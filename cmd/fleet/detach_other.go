//go:build unix && !linux

package main

import "golang.org/x/sys/unix"

// dupTo makes fd newfd a copy of oldfd.
func dupTo(oldfd, newfd int) { unix.Dup2(oldfd, newfd) }
