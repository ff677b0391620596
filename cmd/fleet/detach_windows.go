package main

import (
	"os"
	"os/exec"
)

// detachStdio does nothing on Windows, where fleet serves no masters.
func detachStdio() {}

// detach does nothing on Windows, where fleet serves no masters.
func detach(*exec.Cmd) {}

// fileOwnerUID can't tell a file's owner on Windows.
func fileOwnerUID(os.FileInfo) (int, bool) { return 0, false }
