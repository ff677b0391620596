package report

import (
	"strconv"
	"unicode/utf8"
)

// EscapeControl returns s with every character that would break a line of
// fleet's own text output, or be taken by a terminal as a command, written
// as rsync writes it: a backslash, '#' and the byte's value in three octal
// digits. Those are the C0 control characters (newline is "\#012", tab
// "\#011", ESC "\#033"), DEL, the C1 controls U+0080 to U+009F (each of
// their two bytes), and bytes that are not UTF-8. So that the escaping can
// be undone, the backslash of a "\#" already in s is escaped too ("\#134#").
// Other text, printable UTF-8 included, is kept as it is.
//
// Sinks apply it to the names and messages in lines of their own (paths of a
// transfer, errors, commands), which may come from a host and must not be
// able to forge or garble other lines. What the hosts' commands print is the
// user's data and is passed through untouched.
func EscapeControl(s string) string {
	i := 0
	for i < len(s) && !mustEscape(s, i) {
		i += runeLen(s, i)
	}
	if i == len(s) {
		return s
	}
	b := make([]byte, 0, len(s)+8)
	b = append(b, s[:i]...)
	for i < len(s) {
		n := runeLen(s, i)
		if !mustEscape(s, i) {
			b = append(b, s[i:i+n]...)
			i += n
			continue
		}
		for _, c := range []byte(s[i : i+n]) {
			b = append(b, '\\', '#')
			b = append(b, octal3(c)...)
		}
		i += n
	}
	return string(b)
}

// runeLen returns the length of the character at s[i], 1 for a byte that
// does not start valid UTF-8.
func runeLen(s string, i int) int {
	if s[i] < utf8.RuneSelf {
		return 1
	}
	_, n := utf8.DecodeRuneInString(s[i:])
	return n
}

// mustEscape reports whether the character at s[i] is escaped.
func mustEscape(s string, i int) bool {
	c := s[i]
	switch {
	case c < 0x20 || c == 0x7f:
		return true
	case c == '\\':
		return i+1 < len(s) && s[i+1] == '#'
	case c < utf8.RuneSelf:
		return false
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	return r == utf8.RuneError && n == 1 || r >= 0x80 && r <= 0x9f
}

func octal3(c byte) string {
	o := strconv.FormatUint(uint64(c), 8)
	for len(o) < 3 {
		o = "0" + o
	}
	return o
}
