package target

import (
	"io"
	"strings"
	"testing"
)

// FuzzResolve feeds arbitrary ssh_config text, host names and ssh
// arguments through NewResolver, Resolve, WriteConfig and Key: whatever the
// input, they must return (an error is fine), never panic or hang.
func FuzzResolve(f *testing.F) {
	seeds := []struct{ config, alias, args string }{
		{"Host web*\n  HostName %h.example.com\n  User u\n  Port 2200\n", "web1", ""},
		{"Host a !b\n  ProxyJump x@y:22,ssh://z:23\nHost y\n  ProxyJump a\n", "a", "-o User=q"},
		{"Match host x\n  IdentityFile ~/%C-${HOME}\nMatch all\n  ControlPath %d/%h\n", "x", "-J j -i k -p 22 -l me"},
		{"Host *\n  UserKnownHostsFile \"a b\" c\\ d\n  ConnectTimeout 1h2m\n  ControlPersist 0\n", "h", `-o "StrictHostKeyChecking accept-new"`},
		{"Match exec true\n", "h", ""},
		{"Host h\n  HostName %h.x\nMatch host h.x,!y user=me originalhost h\n  Port 2\nMatch final !host z\n  User f\n", "h", "-l me"},
		{"Host\t\"w?\" !w2 # c\n  CanonicalizeHostname yes\nMatch canonical all\n  Port 3 # c\n", "w1", ""},
		{"Host = h\n  Port=0\n", "h", "-F x"},
		{"Host h\n  ProxyCommand ssh -W %h:%p b\n", "h", "-oProxyJump=none"},
	}
	for _, s := range seeds {
		f.Add(s.config, s.alias, s.args)
	}
	f.Fuzz(func(t *testing.T, config, alias, args string) {
		// An Include could read any file (even /dev/zero) or the real
		// ~/.ssh; keep the fuzzer to inputs that read nothing outside.
		if low := strings.ToLower(config); strings.Contains(low, "include") && strings.ContainsAny(low, `/\~*?[.$`) {
			t.Skip()
		}
		r, _ := newTestResolver(t, config, Overrides{})
		for _, a := range []string{alias, "h", "web1"} {
			tg, err := r.Resolve(a, varsOf("ansible_ssh_common_args", args))
			if err != nil {
				continue
			}
			if err := tg.WriteConfig(io.Discard); err != nil {
				t.Fatal(err)
			}
			_ = tg.Key()
		}
	})
}
