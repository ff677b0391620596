package target

import (
	"errors"
	"strings"
)

// splitConfigArgs splits an ssh_config value into arguments as OpenSSH's
// argv_split does for config lines and -o: blanks separate, single or
// double quotes group, a backslash escapes a quote, a backslash or (outside
// quotes) a space, and any other backslash is kept; a '#' that starts an
// argument starts a comment.
func splitConfigArgs(s string) ([]string, error) {
	var args []string
	i := 0
	for i < len(s) {
		if s[i] == ' ' || s[i] == '\t' {
			i++
			continue
		}
		if s[i] == '#' {
			break
		}
		var arg strings.Builder
		var quote byte
	word:
		for ; i < len(s); i++ {
			c := s[i]
			switch {
			case c == '\\' && i+1 < len(s) && (s[i+1] == '\'' || s[i+1] == '"' || s[i+1] == '\\' || (quote == 0 && s[i+1] == ' ')):
				i++
				arg.WriteByte(s[i])
			case quote == 0 && (c == ' ' || c == '\t'):
				break word
			case quote == 0 && (c == '"' || c == '\''):
				quote = c
			case quote != 0 && c == quote:
				quote = 0
			default:
				arg.WriteByte(c)
			}
		}
		if quote != 0 {
			return nil, errors.New("missing closing quote")
		}
		args = append(args, arg.String())
	}
	return args, nil
}

// cutComment returns s without its comment, the part from a '#' that
// starts an argument (as splitConfigArgs reads it), and without the blanks
// before that. A value with unbalanced quotes is returned whole, for
// splitConfigArgs to complain about.
func cutComment(s string) string {
	var quote byte
	start := true // at the start of an argument
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == 0 && (c == ' ' || c == '\t'):
			start = true
			continue
		case start && quote == 0 && c == '#':
			return strings.TrimRight(s[:i], " \t")
		case c == '\\' && i+1 < len(s):
			i++
		case quote == 0 && (c == '"' || c == '\''):
			quote = c
		case quote != 0 && c == quote:
			quote = 0
		}
		start = false
	}
	return s
}

// matchWords splits the criteria of a Match line as OpenSSH 9.2 does (with
// strdelim, not argv_split): blanks or a single '=' separate, and double
// quotes group.
func matchWords(s string) ([]string, error) {
	const blanks = " \t\r\n"
	var words []string
	for {
		s = strings.TrimLeft(s, blanks)
		if s == "" {
			return words, nil
		}
		i := strings.IndexAny(s, blanks+"\"=")
		switch {
		case i < 0:
			return append(words, s), nil
		case s[i] == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return nil, errors.New("missing closing quote")
			}
			words = append(words, s[:i]+s[i+1:i+1+j])
			s = s[i+1+j+1:]
		case s[i] == '=':
			words = append(words, s[:i])
			s = s[i+1:]
		default:
			words = append(words, s[:i])
			s = strings.TrimLeft(s[i:], blanks)
			if strings.HasPrefix(s, "=") {
				s = s[1:]
			}
		}
	}
}

// splitShellWords splits s into words as Python's shlex.split does in POSIX
// mode without comments, which is how Ansible splits ansible_ssh_common_args
// and ansible_ssh_extra_args.
func splitShellWords(s string) ([]string, error) {
	var (
		words  []string
		tok    strings.Builder
		inWord bool // a word has started, possibly empty ("")
	)
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if inWord {
				words = append(words, tok.String())
				tok.Reset()
				inWord = false
			}
		case c == '\'':
			inWord = true
			j := i + 1
			for j < len(rs) && rs[j] != '\'' {
				tok.WriteRune(rs[j])
				j++
			}
			if j == len(rs) {
				return nil, errors.New("no closing quotation")
			}
			i = j
		case c == '"':
			inWord = true
			j := i + 1
			for ; j < len(rs) && rs[j] != '"'; j++ {
				// Inside double quotes a backslash escapes only a quote or
				// another backslash, as in POSIX shells.
				if rs[j] == '\\' && j+1 < len(rs) && (rs[j+1] == '"' || rs[j+1] == '\\') {
					j++
				}
				tok.WriteRune(rs[j])
			}
			if j == len(rs) {
				return nil, errors.New("no closing quotation")
			}
			i = j
		case c == '\\':
			if i+1 == len(rs) {
				return nil, errors.New("no escaped character")
			}
			inWord = true
			i++
			tok.WriteRune(rs[i])
		default:
			inWord = true
			tok.WriteRune(c)
		}
	}
	if inWord {
		words = append(words, tok.String())
	}
	return words, nil
}
