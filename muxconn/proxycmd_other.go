//go:build !unix

package muxconn

import "os/exec"

func ownGroup(*exec.Cmd) {}

func termGroup(cmd *exec.Cmd) { cmd.Process.Kill() }
func killGroup(cmd *exec.Cmd) { cmd.Process.Kill() }
