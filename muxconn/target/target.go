package target

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Target is one host's resolved SSH settings: what `ssh -G` would print for
// it, after fleet's precedence (flags > inventory vars > ssh_config >
// defaults) has been applied. Every path is expanded (~, %-tokens, ${ENV}).
type Target struct {
	// Alias is the name fleet was given for the host: the inventory_hostname,
	// or a jump host as written in ProxyJump. ssh calls it the original host (%n).
	Alias string
	// HostName is the address to connect to, after HostName/ansible_host.
	HostName string
	Port     int
	User     string

	IdentityFiles  []string // in the order they are tried
	IdentitiesOnly bool
	// IdentityAgent is the agent socket path; empty means no agent
	// (IdentityAgent none, or SSH_AUTH_SOCK unset).
	IdentityAgent string

	// ProxyJump lists the jump hosts, first hop first; nil connects directly.
	// A jump host's own ProxyJump holds the hops before it, so the last hop
	// alone describes the path to it (and its Key names the whole path).
	ProxyJump []*Target
	// ProxyCommand is the command whose standard input and output carry
	// the connection, as ssh_config writes it ("" for none); ProxyCommandLine
	// expands its tokens. ProxyJump and ProxyCommand never both apply.
	ProxyCommand string

	UserKnownHostsFiles   []string
	GlobalKnownHostsFiles []string
	// StrictHostKeyChecking is "yes", "accept-new", "no" or "ask". fleet
	// never prompts, so "ask" behaves as "yes".
	StrictHostKeyChecking string
	// HashKnownHosts hashes the host names of keys that accept-new adds
	// (Debian's /etc/ssh/ssh_config turns it on).
	HashKnownHosts bool
	// HostKeyAlias, when set, is the name looked up in known_hosts instead
	// of HostName.
	HostKeyAlias string

	// ConnectTimeout bounds TCP connect, handshake and auth together.
	ConnectTimeout time.Duration
	// ServerAliveInterval is the keepalive period; 0 disables keepalives.
	ServerAliveInterval time.Duration
	ServerAliveCountMax int

	// ControlMaster ("yes", "no", "auto", "ask", "autoask"), ControlPath
	// (expanded, or "none") and ControlPersist ("no", "yes" or idle
	// seconds), as ssh -G prints them.
	ControlMaster  string
	ControlPath    string
	ControlPersist string
	// ConnHash names the connection in fleet's own default ControlPath
	// (~/.fleet/cm/%C): the hex SHA-1 of local host name, host, port, user
	// and last jump host, as OpenSSH 9.6 and later compute %C. A %C that
	// ssh_config or a flag writes follows the installed ssh instead,
	// which before 9.6 leaves the jump host out.
	ConnHash string

	// MaxSessions caps the sessions fleet opens at once on this host's
	// connection (sshd's MaxSessions defaults to 10).
	MaxSessions int
	// Fresh ignores any existing master and connects with this run's options.
	Fresh bool

	// Origin records, per option name in lower case ("port"), where its
	// value came from: "flag --port", "inventory var ansible_port",
	// "~/.ssh/config:12", or "default".
	Origin map[string]string

	// spec is the hop as written in ProxyJump, for a jump host.
	spec string
}

// ProxyCommandLine returns ProxyCommand with its tokens expanded as ssh
// expands them there: %h, %n, %p, %r and %%. Resolve has checked that it
// holds no other.
func (t *Target) ProxyCommandLine() string {
	s, _ := expandProxyCommand(t.ProxyCommand, t)
	return s
}

// expandProxyCommand expands ProxyCommand's tokens; any other is an error,
// as it is for ssh ("unknown key").
func expandProxyCommand(s string, t *Target) (string, error) {
	return percentExpand(s, func(c byte) (string, error) {
		switch c {
		case 'h':
			return t.HostName, nil
		case 'n':
			return t.Alias, nil
		case 'p':
			return strconv.Itoa(t.Port), nil
		case 'r':
			return t.User, nil
		}
		return "", fmt.Errorf("%q has %%%c, which ProxyCommand does not take (only %%h %%n %%p %%r %%%%)", s, c)
	})
}

// checkProxyTokens refuses names that ProxyCommand would put into its
// shell command if they hold shell metacharacters, as ssh does since
// OpenSSH 9.6 (CVE-2023-51385): a host name or user from an inventory
// fleet did not write, a cloud tag say, must not run commands here.
func checkProxyTokens(t *Target) error {
	for _, c := range []struct {
		token, what, value string
		valid              func(string) bool
	}{
		{"%h", "host name", t.HostName, validHostName},
		{"%n", "host name", t.Alias, validHostName},
		{"%r", "user", t.User, validUser},
	} {
		if strings.Contains(strings.ReplaceAll(t.ProxyCommand, "%%", ""), c.token) && !c.valid(c.value) {
			return fmt.Errorf("the %s %q, which %s puts into the command, holds characters a shell would act on", c.what, c.value, c.token)
		}
	}
	return nil
}

// validHostName is OpenSSH's rule for a host name that may reach a shell:
// no leading '-', no quote, backslash, shell operator, space or control.
func validHostName(s string) bool {
	if s == "" || s[0] == '-' {
		return false
	}
	for _, r := range s {
		if strings.ContainsRune("'`\"$\\;&<>|(){}", r) || r <= ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

// validUser is OpenSSH's rule for a user name that may reach a shell: no
// leading '-', no quote or shell operator, no '-' after a blank, no
// trailing backslash.
func validUser(s string) bool {
	if s == "" || s[0] == '-' || strings.HasSuffix(s, "\\") {
		return false
	}
	for i, r := range s {
		if strings.ContainsRune("'`\";&<>|(){}", r) || r < ' ' || r == 0x7f {
			return false
		}
		if (r == ' ' || r == '\t') && i+1 < len(s) && s[i+1] == '-' {
			return false
		}
	}
	return true
}
