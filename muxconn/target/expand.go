package target

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// tokens holds the values of ssh_config's %-tokens for one host.
type tokens struct {
	alias     string // %n: the name as given
	host      string // %h: after HostName
	port      string // %p
	ruser     string // %r
	luser     string // %u
	home      string // %d
	lhost     string // %l: the local hostname
	uid       string // %i
	jump      string // %j: the last ProxyJump hop's host, or ""
	keyAlias  string // %k: HostKeyAlias, or the alias
	getenv    func(string) string
	allowHash bool // %C may be used (user, host and port are known)
	// ssh returns the version of the installed ssh; nil stands for the
	// newest. It is asked only when the answer matters: for %j, and for
	// %C when there is a jump host.
	ssh func() opensshVersion
}

// jumpTokens reports whether %j exists and %C hashes it in: from OpenSSH
// 9.6 on. OpenSSH 9.6 added %j, the host of the last ProxyJump hop, and
// appended it to %C's hash input (ssh_connection_hash gained a jump_host
// argument, bz3610); 9.2, for one, hashes %l%h%p%r alone and rejects %j
// ("unknown key %j"). fleet follows the ssh installed here, so that a
// ControlPath with %C names the same socket for fleet and ssh and so that
// both share masters behind jump hosts; with no ssh installed (or not
// OpenSSH) it behaves as the newest release.
//
// OpenBSD has since changed %j and %C again, to the whole ProxyJump value
// (user, port and every hop); no release up to OpenSSH 10.2 has that, and
// fleet does not implement it yet.
func (tk *tokens) jumpTokens() bool {
	return tk.ssh == nil || tk.ssh().atLeast(9, 6)
}

// connHash returns %C as the installed ssh computes it: the hex SHA-1 of
// %l%h%p%r, with %j appended from OpenSSH 9.6 on (see jumpTokens). Without
// a jump host the two agree, and the version is not asked.
func (tk *tokens) connHash() string {
	jump := ""
	if tk.jump != "" && tk.jumpTokens() {
		jump = tk.jump
	}
	return connectionHash(tk.lhost, tk.host, tk.port, tk.ruser, jump)
}

// connectionHash is OpenSSH's ssh_connection_hash: the hex SHA-1 of its
// arguments run together.
func connectionHash(parts ...string) string {
	sum := sha1.Sum([]byte(strings.Join(parts, "")))
	return hex.EncodeToString(sum[:])
}

// expandTokens replaces the %-tokens in s. Unknown tokens are an error, as
// they are for ssh.
func (tk *tokens) expandTokens(s string) (string, error) {
	return percentExpand(s, func(c byte) (string, error) {
		switch c {
		case 'n':
			return tk.alias, nil
		case 'h':
			return tk.host, nil
		case 'p':
			return tk.port, nil
		case 'r':
			return tk.ruser, nil
		case 'u':
			return tk.luser, nil
		case 'd':
			return tk.home, nil
		case 'l':
			return tk.lhost, nil
		case 'L':
			short, _, _ := strings.Cut(tk.lhost, ".")
			return short, nil
		case 'i':
			return tk.uid, nil
		case 'j':
			if !tk.jumpTokens() {
				return "", fmt.Errorf("unknown token %%j in %q: the installed ssh (OpenSSH %s) has no %%j, which came with OpenSSH 9.6", s, tk.ssh())
			}
			return tk.jump, nil
		case 'k':
			return tk.keyAlias, nil
		case 'C':
			if !tk.allowHash {
				return "", fmt.Errorf("%%C cannot be used in %q", s)
			}
			return tk.connHash(), nil
		}
		return "", fmt.Errorf("unknown token %%%c in %q", c, s)
	})
}

// percentExpand replaces each %c in s by value(c), and %% by %; value's
// error (for a token it doesn't take) stops it.
func percentExpand(s string, value func(c byte) (string, error)) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			return "", fmt.Errorf("%q ends with a lone %%", s)
		}
		i++
		if s[i] == '%' {
			b.WriteByte('%')
			continue
		}
		v, err := value(s[i])
		if err != nil {
			return "", err
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// expandEnv replaces ${NAME} with the environment variable NAME; an unset
// variable is an error, as it is for ssh.
func (tk *tokens) expandEnv(s string) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return "", fmt.Errorf("unterminated ${ in %q", s)
		}
		name := s[i+2 : i+j]
		val := tk.getenv(name)
		if name == "" || val == "" {
			return "", fmt.Errorf("environment variable ${%s} in %q is not set", name, s)
		}
		b.WriteString(s[:i])
		b.WriteString(val)
		s = s[i+j+1:]
	}
}

// expandPath expands a file name as ssh does for IdentityFile, ControlPath
// and the like: a leading ~ first, then ${ENV}, then %-tokens.
func (tk *tokens) expandPath(s string) (string, error) {
	s, err := expandTilde(s, tk.home)
	if err != nil {
		return "", err
	}
	if s, err = tk.expandEnv(s); err != nil {
		return "", err
	}
	return tk.expandTokens(s)
}

// expandTilde replaces a leading "~" or "~/" with home, and "~name/" with
// that user's home directory.
func expandTilde(s, home string) (string, error) {
	if !strings.HasPrefix(s, "~") {
		return s, nil
	}
	name, rest, _ := strings.Cut(s[1:], "/")
	dir := home
	if name != "" {
		u, err := user.Lookup(name)
		if err != nil {
			return "", fmt.Errorf("cannot expand %q: no user %q", s, name)
		}
		dir = u.HomeDir
	}
	if dir == "" {
		return "", fmt.Errorf("cannot expand %q: the home directory is unknown", s)
	}
	if rest == "" {
		return dir, nil
	}
	return filepath.Join(dir, rest), nil
}

// parseSSHTime parses an ssh_config time as OpenSSH's convtime does: a bare
// number of seconds, or number-unit pairs such as "1h30m" with units s, m,
// h, d and w. A Go duration ("1.5s") is accepted too, for values fleet
// formats itself.
func parseSSHTime(s string) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("empty time")
	}
	var total time.Duration
	rest := s
	for rest != "" {
		n := 0
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		if n == 0 || n > 9 {
			break
		}
		v, _ := strconv.Atoi(rest[:n])
		unit := time.Second
		rest = rest[n:]
		if rest != "" {
			switch rest[0] {
			case 's', 'S':
			case 'm', 'M':
				unit = time.Minute
			case 'h', 'H':
				unit = time.Hour
			case 'd', 'D':
				unit = 24 * time.Hour
			case 'w', 'W':
				unit = 7 * 24 * time.Hour
			default:
				rest = "!" // not a convtime; try a Go duration below
			}
			if rest != "!" {
				rest = rest[1:]
			}
		}
		if rest == "!" {
			break
		}
		total += time.Duration(v) * unit
		if total < 0 || total > 100*365*24*time.Hour {
			return 0, fmt.Errorf("time %q is too large", s)
		}
	}
	if rest == "" {
		return total, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a time such as 30, 30s, 5m or 1h30m", s)
	}
	return d, nil
}
