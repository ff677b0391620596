//go:build unix

package muxconn

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// A ProxyCommand's input and output are the connection, both ways, and
// Close ends the command.
func TestProxyCommandConn(t *testing.T) {
	t.Setenv("SHELL", "/bin/sh")
	c, err := startProxyCommand("cat")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "hello\n" {
		t.Fatalf("read back %q, %v", buf, err)
	}
	c.Close()
	select {
	case <-c.exited:
	default:
		t.Error("Close returned with the command still running")
	}
}

// A command that fails says why, with what it printed on stderr; its
// last output is read whole before the end.
func TestProxyCommandFailure(t *testing.T) {
	t.Setenv("SHELL", "/bin/sh")
	// The command is exec'd, as ssh does: a list needs a shell of its own.
	c, err := startProxyCommand(`sh -c 'printf "SSH-2.0-x\r\n"; echo "bastion: Connection refused" >&2; exit 3'`)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out, err := io.ReadAll(c)
	if err != nil || string(out) != "SSH-2.0-x\r\n" {
		t.Fatalf("output %q, %v", out, err)
	}
	got := c.failure("cmd", io.EOF).Error()
	for _, want := range []string{`ProxyCommand "cmd" exit status 3`, "bastion: Connection refused", "EOF"} {
		if !strings.Contains(got, want) {
			t.Errorf("failure %q lacks %q", got, want)
		}
	}
	if !errors.Is(c.failure("cmd", io.EOF), io.EOF) {
		t.Error("the failure does not wrap the connection's error")
	}
}

// A command that does not exist fails at once, clearly.
func TestProxyCommandMissing(t *testing.T) {
	t.Setenv("SHELL", "/bin/sh")
	c, err := startProxyCommand("/nonexistent/fleet-proxy %h")
	if err != nil {
		t.Fatal(err) // the shell starts; it is the exec that fails
	}
	defer c.Close()
	io.ReadAll(c)
	if got := c.failure("/nonexistent/fleet-proxy", io.EOF).Error(); !strings.Contains(got, "exit status 127") || !strings.Contains(got, "not found") {
		t.Errorf("failure %q, want exit status 127 and the shell's 'not found'", got)
	}
}
