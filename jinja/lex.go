package jinja

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// syntax is how a template source is read: its delimiters and whitespace
// handling (Jinja2's environment options) and how string literals decode.
type syntax struct {
	varStart, varEnd         string
	blockStart, blockEnd     string
	commentStart, commentEnd string
	trimBlocks               bool
	lstripBlocks             bool
	keepTrailingNewline      bool
	newline                  string
	// rawVarStrings reads string literals inside {{ }} without backslash
	// escapes, because Ansible doubles every backslash there before Jinja2
	// sees a playbook string (Templar's escape_backslashes), so that
	// regex_replace('\d+', ...) in YAML means what it says.
	rawVarStrings bool
	// expr marks a bare expression (when:, until:) wrapped in {{ }} to be
	// parsed: errors quote the expression, not the wrapper.
	expr bool
}

func defaultSyntax() syntax {
	return syntax{
		varStart: "{{", varEnd: "}}",
		blockStart: "{%", blockEnd: "%}",
		commentStart: "{#", commentEnd: "#}",
		newline: "\n",
	}
}

// backslashPair stands in for an escaped backslash (two backslashes) inside
// a string literal while gonja's lexer runs: gonja ends a string only at a
// quote not preceded by a backslash, so 'a\\' would never end. The
// placeholder has the same length, which keeps every offset valid.
const backslashPair = "\x00\x01"

// source is a template prepared for gonja's lexer.
type source struct {
	orig   string       // newline-normalised text, for line numbers
	text   string       // what the lexer reads: same offsets as orig
	lines  []int        // offsets where lines start in orig
	varStr map[int]bool // offsets of string literals inside {{ }}
	pairs  bool         // text holds backslashPair placeholders
	// unclosed is the offset of a string literal that never ends, or -1.
	unclosed int
	// badDot is the offset of a digit, '.' and a non-ASCII character
	// outside strings, which sends gonja's number lexer into an endless
	// loop; -1 when there is none.
	badDot int
}

// prepare normalises newlines as Jinja2 does and rewrites what gonja's lexer
// gets wrong without changing any offset: newlines between the tokens of
// an expression become spaces (gonja only skips spaces and tabs there), and
// escaped backslashes inside string literals become backslashPair.
func prepare(src string, syn *syntax) *source {
	if strings.IndexByte(src, '\r') >= 0 {
		src = strings.ReplaceAll(src, "\r\n", "\n")
		src = strings.ReplaceAll(src, "\r", "\n")
	}
	if !syn.keepTrailingNewline && strings.HasSuffix(src, "\n") {
		src = src[:len(src)-1]
	}
	s := &source{orig: src, lines: []int{0}, unclosed: -1, badDot: -1}
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			s.lines = append(s.lines, i+1)
		}
	}
	usePairs := strings.IndexByte(src, 0) < 0
	var b []byte // copy-on-write of src
	set := func(i int, c byte) {
		if b == nil {
			b = []byte(src)
		}
		b[i] = c
	}
	n := len(src)
	i := 0
	for i < n {
		j := strings.IndexByte(src[i:], syn.varStart[0])
		if k := strings.IndexByte(src[i:], syn.blockStart[0]); k >= 0 && (j < 0 || k < j) {
			j = k
		}
		if k := strings.IndexByte(src[i:], syn.commentStart[0]); k >= 0 && (j < 0 || k < j) {
			j = k
		}
		if j < 0 {
			break
		}
		i += j
		rest := src[i:]
		switch {
		case strings.HasPrefix(rest, syn.commentStart) && longest(rest, syn) == 0:
			end := strings.Index(src[i+len(syn.commentStart):], syn.commentEnd)
			if end < 0 {
				return s.finish(b)
			}
			i += len(syn.commentStart) + end + len(syn.commentEnd)
		case strings.HasPrefix(rest, syn.varStart) && longest(rest, syn) == 1,
			strings.HasPrefix(rest, syn.blockStart) && longest(rest, syn) == 2:
			isVar := longest(rest, syn) == 1
			start, end := syn.varStart, syn.varEnd
			if !isVar {
				start, end = syn.blockStart, syn.blockEnd
			}
			j := i + len(start)
			if j < n && (src[j] == '-' || src[j] == '+') {
				j++
			}
			// The tag name decides whether a raw block follows.
			name := ""
			if !isVar {
				k := j
				for k < n && (src[k] == ' ' || src[k] == '\t' || src[k] == '\n') {
					k++
				}
				m := k
				for m < n && isIdentByte(src[m]) {
					m++
				}
				name = src[k:m]
			}
			var stack []byte
			var quote byte
			for j < n {
				c := src[j]
				if quote != 0 {
					if c == '\\' && j+1 < n {
						if src[j+1] == '\\' && usePairs {
							set(j, backslashPair[0])
							set(j+1, backslashPair[1])
							s.pairs = true
						}
						j += 2
						continue
					}
					if c == quote {
						quote = 0
						s.unclosed = -1
					}
					j++
					continue
				}
				if c == '\'' || c == '"' {
					quote = c
					s.unclosed = j
					if isVar {
						if s.varStr == nil {
							s.varStr = map[int]bool{}
						}
						s.varStr[j] = true
					}
					j++
					continue
				}
				if c == '\n' {
					set(j, ' ')
					j++
					continue
				}
				if c == '.' && j > 0 && src[j-1] >= '0' && src[j-1] <= '9' && j+1 < n && src[j+1] >= 0x80 && s.badDot < 0 {
					s.badDot = j
				}
				if len(stack) > 0 && c == stack[len(stack)-1] {
					stack = stack[:len(stack)-1]
					j++
					continue
				}
				if strings.HasPrefix(src[j:], end) {
					j += len(end)
					break
				}
				switch c {
				case '(':
					stack = append(stack, ')')
				case '[':
					stack = append(stack, ']')
				case '{':
					stack = append(stack, '}')
				}
				j++
			}
			i = j
			if name == "raw" || name == "comment" {
				re := rawEnd(syn)
				loc := re.FindStringIndex(src[i:])
				if loc == nil {
					return s.finish(b)
				}
				i += loc[0]
			}
		default:
			i++
		}
	}
	return s.finish(b)
}

func (s *source) finish(b []byte) *source {
	if b == nil {
		s.text = s.orig
	} else {
		s.text = string(b)
	}
	return s
}

// longest reports which delimiter starts rest, preferring the longest as
// gonja does: 0 comment, 1 variable, 2 block, -1 none.
func longest(rest string, syn *syntax) int {
	kind, best := -1, 0
	for k, d := range []string{syn.commentStart, syn.varStart, syn.blockStart} {
		if strings.HasPrefix(rest, d) && len(d) > best {
			kind, best = k, len(d)
		}
	}
	return kind
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

var rawEndDefault = regexp.MustCompile(`\{%[-+]?\s*endraw`)

// rawEnd matches the tag that closes a raw block, as gonja's lexer does.
func rawEnd(syn *syntax) *regexp.Regexp {
	if syn.blockStart == "{%" {
		return rawEndDefault
	}
	return regexp.MustCompile(regexp.QuoteMeta(syn.blockStart) + `[-+]?\s*endraw`)
}

// line returns the 1-based line of a byte offset.
func (s *source) line(off int) int {
	return sort.Search(len(s.lines), func(i int) bool { return s.lines[i] > off })
}

// lex runs gonja's lexer over the prepared text and returns its tokens,
// whitespace dropped, ending with an EOF or Error token.
func lex(s *source, syn *syntax) []*tokens.Token {
	cfg := config.New()
	cfg.VariableStartString, cfg.VariableEndString = syn.varStart, syn.varEnd
	cfg.BlockStartString, cfg.BlockEndString = syn.blockStart, syn.blockEnd
	cfg.CommentStartString, cfg.CommentEndString = syn.commentStart, syn.commentEnd
	cfg.TrimBlocks = syn.trimBlocks
	cfg.LeftStripBlocks = syn.lstripBlocks
	// prepare already removed the trailing newline when Jinja2 would.
	cfg.KeepTrailingNewline = true
	stream := tokens.LexAll(s.text, cfg)
	var out []*tokens.Token
	for {
		t := stream.Current()
		if t == nil {
			out = append(out, &tokens.Token{Type: tokens.EOF, Pos: len(s.text)})
			return out
		}
		out = append(out, t)
		if t.Type == tokens.EOF || t.Type == tokens.Error {
			return out
		}
		stream.Next()
	}
}

// stringLiteral decodes the string literal whose token starts at offset
// pos: Python's escapes, or none inside {{ }} of a playbook string.
func (s *source) stringLiteral(pos int, syn *syntax) (string, error) {
	text := s.text
	if pos >= len(text) {
		return "", fmt.Errorf("string literal out of range")
	}
	quote := text[pos]
	j := pos + 1
	for j < len(text) && text[j] != quote {
		if text[j] == '\\' {
			j++
		}
		j++
	}
	if j > len(text) {
		j = len(text)
	}
	body := text[pos+1 : j]
	if s.pairs {
		body = strings.ReplaceAll(body, backslashPair, `\\`)
	}
	if syn.rawVarStrings && s.varStr[pos] {
		// Ansible's doubled backslashes decode back to the text as
		// written; only escaped quotes lose their backslash (Ansible
		// itself fails on them).
		if strings.IndexByte(body, '\\') >= 0 {
			body = strings.NewReplacer(`\'`, `'`, `\"`, `"`, `\\`, `\\`).Replace(body)
		}
		return body, nil
	}
	return pyUnescape(body)
}

// pyUnescape decodes a Python string literal's body as Jinja2 does
// (unicode-escape): unknown escapes keep their backslash.
func pyUnescape(body string) (string, error) {
	if strings.IndexByte(body, '\\') < 0 {
		return body, nil
	}
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c != '\\' || i+1 >= len(body) {
			b.WriteByte(c)
			continue
		}
		i++
		switch e := body[i]; e {
		case '\n':
		case '\\', '\'', '"':
			b.WriteByte(e)
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case '0', '1', '2', '3', '4', '5', '6', '7':
			n := 0
			k := i
			for k < len(body) && k < i+3 && body[k] >= '0' && body[k] <= '7' {
				n = n*8 + int(body[k]-'0')
				k++
			}
			b.WriteRune(rune(n))
			i = k - 1
		case 'x', 'u', 'U':
			width := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
			if i+1+width > len(body) {
				return "", fmt.Errorf("truncated \\%c escape in string literal", e)
			}
			n, err := strconv.ParseUint(body[i+1:i+1+width], 16, 32)
			if err != nil || n > utf8.MaxRune {
				return "", fmt.Errorf("bad \\%c escape in string literal", e)
			}
			b.WriteRune(rune(n))
			i += width
		default:
			b.WriteByte('\\')
			b.WriteByte(e)
		}
	}
	return b.String(), nil
}
