package report

import (
	"errors"
	"net"
	"strings"
)

// The placeholders HostNeutral puts in place of a host's own name and
// address.
const (
	hostPlaceholder    = "<host>"
	addressPlaceholder = "<address>"
)

// addressed is an error that knows the address dialled for its host, as
// muxconn.UnreachableError does.
type addressed interface{ DialledAddr() string }

// HostNeutral returns text, a message about err on host, with the host's
// own name replaced by "<host>" and the address fleet dialled for it (when
// an error on err's chain records it, see addressed) by "<address>", so
// that the same failure on many hosts reads the same and can be said once
// for all of them: "refused: connection to <address> refused". Only whole
// names are replaced: "web1" is left alone in "web10" and "web1.example".
func HostNeutral(text, host string, err error) string {
	var a addressed
	if errors.As(err, &a) && a.DialledAddr() != "" {
		addr := a.DialledAddr()
		forms := []string{addr}
		if h, port, err := net.SplitHostPort(addr); err == nil {
			// known_hosts writes a non-default port as "[host]:port".
			forms = []string{"[" + h + "]:" + port, addr, h}
		}
		for _, f := range forms {
			text = replaceWord(text, f, addressPlaceholder)
		}
	}
	if host != "" {
		text = replaceWord(text, host, hostPlaceholder)
	}
	return text
}

// replaceWord replaces each occurrence of old in s that is not part of a
// longer name (a letter, digit, '-' or '_', or a '.' between such, next
// to it) by repl.
func replaceWord(s, old, repl string) string {
	if old == "" || !strings.Contains(s, old) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, old)
		if i < 0 {
			break
		}
		end := i + len(old)
		if isWordEdge(s, i-1, -1) && isWordEdge(s, end, +1) {
			b.WriteString(s[:i])
			b.WriteString(repl)
		} else {
			b.WriteString(s[:end])
		}
		s = s[end:]
	}
	b.WriteString(s)
	return b.String()
}

// isWordEdge reports whether s[i], the byte beside a match on the side dir
// points to, ends the name there.
func isWordEdge(s string, i, dir int) bool {
	if i < 0 || i >= len(s) {
		return true
	}
	if s[i] == '.' {
		// A dot continues a name only if a name character follows it.
		j := i + dir
		return j < 0 || j >= len(s) || !isNameByte(s[j])
	}
	return !isNameByte(s[i])
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}
