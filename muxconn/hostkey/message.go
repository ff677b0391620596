package hostkey

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"

	"fleetrun.dev/fleet/diag"
)

// newError describes a rejected key; presented is the key the server sent.
func (c *Checker) newError(res result, presented ssh.PublicKey) *Error {
	e := &Error{
		Kind:  res.kind,
		Host:  c.host,
		Port:  c.port,
		Key:   presented,
		Files: c.files,
		Known: res.known,
	}
	desc := describe(res.key)
	if res.certErr != nil {
		desc += fmt.Sprintf("; its certificate was not accepted: %v", res.certErr)
	}
	switch res.kind {
	case Unknown:
		e.msg = fmt.Sprintf("host key for %s is not known (%s)", c.name, desc)
		file := "~/.ssh/known_hosts"
		if len(c.opts.UserFiles) > 0 {
			file = displayPath(c.opts.UserFiles[0])
		}
		add := "ssh-keyscan "
		if c.port != 22 {
			add += "-p " + strconv.Itoa(c.port) + " "
		}
		add += shellQuote(c.host)
		if c.opts.HostKeyAlias != "" {
			// ssh-keyscan would record the real host name, not the alias.
			add = "echo " + shellQuote(xknownhosts.Line([]string{c.addr}, res.key))
		}
		e.Hint = fmt.Sprintf("verify the key, then add it: %s >> %s (or set StrictHostKeyChecking accept-new)", add, file)
	case Changed:
		k := res.known[0]
		if res.otherTypes {
			var types []string
			for _, w := range res.known {
				if t := w.Key.Type(); !slices.Contains(types, t) {
					types = append(types, t)
				}
			}
			e.msg = fmt.Sprintf("host key for %s does not match: the server presented %s, but known_hosts has only %s keys for it (%s)",
				c.name, desc, strings.Join(types, ", "), knownAt(k))
			e.Hint = fmt.Sprintf("if the host's keys were replaced, remove the old ones: ssh-keygen -R %s -f %s", shellQuote(c.name), displayPath(k.Filename))
		} else {
			e.msg = fmt.Sprintf("host key for %s has changed: the server presented %s, but %s has %s (someone may be intercepting the connection, or the host was reinstalled)",
				c.name, desc, knownAt(k), ssh.FingerprintSHA256(k.Key))
			e.Hint = fmt.Sprintf("if the host was reinstalled, remove the old key: ssh-keygen -R %s -f %s", shellQuote(c.name), displayPath(k.Filename))
		}
	case Revoked:
		k := res.known[0]
		e.msg = fmt.Sprintf("host key for %s is revoked: the server presented %s, and %s marks %s %s as @revoked",
			c.name, desc, knownAt(k), k.Key.Type(), ssh.FingerprintSHA256(k.Key))
		e.Hint = "the key was revoked on purpose: do not connect until the host has a new key; ask its administrator"
	}
	return e
}

// describe names a key by type and SHA256 fingerprint, as ssh prints it.
func describe(k ssh.PublicKey) string {
	if cert, ok := k.(*ssh.Certificate); ok {
		return fmt.Sprintf("a certificate for %s %s signed by CA %s %s",
			cert.Key.Type(), ssh.FingerprintSHA256(cert.Key),
			cert.SignatureKey.Type(), ssh.FingerprintSHA256(cert.SignatureKey))
	}
	return k.Type() + " " + ssh.FingerprintSHA256(k)
}

// knownAt says where a known_hosts key came from.
func knownAt(k xknownhosts.KnownKey) string {
	if k.Line == 0 {
		return displayPath(k.Filename) + " (added during this run)"
	}
	return diag.Location(displayPath(k.Filename), k.Line)
}

// displayPath shortens a path under the home directory to ~/..., quoting
// the rest for the shell when needed, so hints can be pasted.
func displayPath(p string) string {
	if home, err := os.UserHomeDir(); err == nil && home != "" && home != "/" {
		if rest, ok := strings.CutPrefix(p, strings.TrimSuffix(home, "/")+"/"); ok {
			return "~/" + shellQuote(rest)
		}
	}
	return shellQuote(p)
}

// shellQuote quotes s for a POSIX shell unless it is plainly safe.
func shellQuote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%_+=:,./-", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
