package main

import "os/exec"

// detachStdio does nothing on Windows, where fleet serves no masters.
func detachStdio() {}

// detach does nothing on Windows, where fleet serves no masters.
func detach(*exec.Cmd) {}
