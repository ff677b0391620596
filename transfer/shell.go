package transfer

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
)

// quote returns s as one word for a POSIX shell.
func quote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// maxScript bounds one remote command line. sshd takes far longer ones,
// but a remote ARG_MAX can be as small as 256 KiB.
const maxScript = 96 << 10

// hashScripts returns shell commands printing the SHA-256 of each path,
// in sha256sum's format, batched so each stays under maxScript. Hosts
// without coreutils (BSD, macOS) have shasum instead.
func hashScripts(paths []string) []string {
	const head = `if command -v sha256sum >/dev/null 2>&1; then sha256sum -- "$@"; else shasum -a 256 -- "$@"; fi`
	var out []string
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			out = append(out, b.String())
			b.Reset()
		}
	}
	for _, p := range paths {
		q := quote(p)
		if b.Len() > 0 && b.Len()+len(q)+1 > maxScript {
			flush()
		}
		if b.Len() == 0 {
			b.WriteString("set -- ")
		} else {
			b.WriteByte(' ')
		}
		b.WriteString(q)
	}
	if b.Len() > 0 {
		b.WriteString("; " + head)
	}
	flush()
	return out
}

// parseSums reads sha256sum output. A line for a name holding a newline or
// backslash starts with a backslash, and the name is escaped. Lines it can't
// read are skipped: the file then counts as changed and is sent.
func parseSums(out []byte) map[string][32]byte {
	sums := map[string][32]byte{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		escaped := strings.HasPrefix(line, `\`)
		if escaped {
			line = line[1:]
		}
		if len(line) < 66 || line[64] != ' ' {
			continue
		}
		var sum [32]byte
		if _, err := hex.Decode(sum[:], []byte(line[:64])); err != nil {
			continue
		}
		name := line[66:]
		if line[65] != ' ' && line[65] != '*' {
			continue
		}
		if escaped {
			var ok bool
			if name, ok = unescapeName(name); !ok {
				continue
			}
		}
		sums[name] = sum
	}
	return sums
}

func unescapeName(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		i++
		if i == len(s) {
			return "", false
		}
		switch s[i] {
		case '\\':
			b.WriteByte('\\')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		default:
			return "", false
		}
	}
	return b.String(), true
}

// Become says how to run remote commands as another user, with sudo.
type Become struct {
	User string // "" means root
	// Password is sudo's password; "" means sudo must not ask (-n).
	Password string
}

// wrap returns script run through sudo as b.User. With a password, sudo
// reads it from stdin (stdinFor gives it); the script itself reads none.
func (b *Become) wrap(script string) string {
	if b == nil {
		return script
	}
	user := b.User
	if user == "" {
		user = "root"
	}
	flags := "-n"
	if b.Password != "" {
		flags = "-S -p ''"
	}
	return fmt.Sprintf("sudo %s -u %s -- sh -c %s", flags, quote(user), quote(script))
}

func (b *Become) stdin() []byte {
	if b == nil || b.Password == "" {
		return nil
	}
	return []byte(b.Password + "\n")
}

// sudoError turns sudo's complaints into advice.
func sudoError(stderr string) error {
	switch {
	case strings.Contains(stderr, "a password is required"):
		return fmt.Errorf("sudo wants a password: pass --ask-become-pass, or allow the user NOPASSWD in sudoers")
	case strings.Contains(stderr, "incorrect password"), strings.Contains(stderr, "Sorry, try again"):
		return fmt.Errorf("sudo refused the password given with --ask-become-pass")
	case strings.Contains(stderr, "is not in the sudoers file"), strings.Contains(stderr, "is not allowed to execute"), strings.Contains(stderr, "may not run sudo"):
		return fmt.Errorf("sudo refused: %s", firstLine(stderr))
	case strings.Contains(stderr, "sudo: not found"), strings.Contains(stderr, "sudo: command not found"):
		return fmt.Errorf("sudo is not installed on the host; --become needs it")
	}
	return nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// Quote returns s as one word for a POSIX shell, quoted only when it
// needs to be.
func Quote(s string) string { return quote(s) }

// Wrap returns script run through sudo as b.User, or script itself when b
// is nil. With a password, the command's stdin must begin with Stdin().
func (b *Become) Wrap(script string) string { return b.wrap(script) }

// Stdin returns what must precede a wrapped command's own input: the sudo
// password and a newline, or nothing.
func (b *Become) Stdin() []byte { return b.stdin() }

// SudoError turns sudo's complaint on stderr into advice, or returns nil
// when stderr holds none.
func SudoError(stderr string) error { return sudoError(stderr) }
