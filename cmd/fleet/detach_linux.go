package main

import "golang.org/x/sys/unix"

// dupTo makes fd newfd a copy of oldfd (Linux on arm64 has no dup2).
func dupTo(oldfd, newfd int) { unix.Dup3(oldfd, newfd, 0) }
