package inventory

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// Host addresses and ranges, as ansible.parsing.utils.addresses and the
// inventory plugins' _expand_hostpattern read them. The regular expressions
// are Ansible's, rewritten for RE2; Python's \w is Unicode-aware, hence
// [\p{L}\p{N}_].

const (
	numericRange      = `\[(?:[0-9]+:[0-9]+)(?::[0-9]+)?\]`
	hexadecimalRange  = `\[(?:[0-9a-f]+:[0-9a-f]+)(?::[0-9]+)?\]`
	alphanumericRange = `\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]`
	ipv6Component     = `(?:[0-9a-f]{1,4}|` + hexadecimalRange + `)`
	ipv4Component     = `(?:[01]?[0-9]{1,2}|2[0-4][0-9]|25[0-5]|` + numericRange + `)`
	word              = `[\p{L}\p{N}_]`
	// A hostname label; Ansible also requires that it not end in - or _,
	// which RE2 cannot say, so labelsOK checks it.
	label = `(?:` + word + `|` + alphanumericRange + `)(?:[\p{L}\p{N}_-]|` + alphanumericRange + `)*`
)

var (
	reBracketedHostPort = regexp.MustCompile(`^\[(.+)\]:([0-9]+)$`)
	reHostPort          = regexp.MustCompile(`^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$`)
	reIPv4              = regexp.MustCompile(`(?i)^(?:` + ipv4Component + `\.){3}` + ipv4Component + `$`)
	// Ansible's IPv6 expression anchors only its last alternative at the end
	// (the others match a prefix); re.match anchors them all at the start.
	reIPv6 = regexp.MustCompile(strings.ReplaceAll(`(?i)^(?:`+strings.Join([]string{
		`(?:{0}:){7}{0}`,
		`(?:{0}:){1,6}:`,
		`(?:{0}:)(?::{0}){1,6}`,
		`(?:{0}:){2}(?::{0}){1,5}`,
		`(?:{0}:){3}(?::{0}){1,4}`,
		`(?:{0}:){4}(?::{0}){1,3}`,
		`(?:{0}:){5}(?::{0}){1,2}`,
		`(?:{0}:){6}(?::{0})`,
		`:(?::{0}){1,6}`,
		`{0}?::`,
		`(?:0:){6}(?:{0}\.){3}{0}`,
		`::(?:ffff:)?(?:{0}\.){3}{0}`,
		`(?:0:){5}ffff:(?:{0}\.){3}{0}$`,
	}, "|")+`)`, "{0}", ipv6Component))
	reHostname = regexp.MustCompile(`(?i)^` + label + `(?:\.` + label + `)*$`)
)

// parseAddress splits "host:port", "[v6]:port" and plain hosts, and checks
// that what is left is an IPv4 or IPv6 address or a hostname, ranges allowed
// when allowRanges is set. port is 0 when none is given.
func parseAddress(address string, allowRanges bool) (host string, port int, err error) {
	// Ansible tries both forms in turn, the second on what the first left.
	for _, re := range []*regexp.Regexp{reBracketedHostPort, reHostPort} {
		if m := re.FindStringSubmatch(address); m != nil {
			address = m[1]
			p, perr := strconv.Atoi(m[2])
			if perr != nil || p > 65535 {
				return "", 0, &portError{m[2]}
			}
			port = p
		}
	}
	if !reIPv4.MatchString(address) && !reIPv6.MatchString(address) && !isHostname(address) {
		return "", 0, fmt.Errorf("not a valid network hostname: %s", address)
	}
	if !allowRanges && strings.Contains(address, "[") {
		return "", 0, errors.New("detected range in host but was asked to ignore ranges")
	}
	return address, port, nil
}

// portError is a host:port whose port cannot be a TCP port. Ansible takes
// any number; fleet stops, since no connection could use it.
type portError struct{ port string }

func (e *portError) Error() string {
	return fmt.Sprintf("port %s is out of range (1-65535)", e.port)
}

func isHostname(s string) bool {
	if !reHostname.MatchString(s) {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if strings.HasSuffix(l, "-") || strings.HasSuffix(l, "_") {
			return false
		}
	}
	return true
}

// isIPAddress reports whether Ansible takes name for an IP address, in which
// case inventory_hostname_short is the whole name.
func isIPAddress(name string) bool {
	return reIPv4.MatchString(name) || reIPv6.MatchString(name)
}

const asciiLetters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// maxRangeHosts bounds what one host line may expand to, so that a typo
// such as web[1:99999999] fails instead of exhausting memory.
const maxRangeHosts = 1_000_000

// expandHostRange expands the [begin:end(:step)] ranges in a host pattern,
// left to right, as Ansible's expand_hostname_range does: numeric ranges
// keep the begin value's zero padding, and single letters range over
// a–z then A–Z.
func expandHostRange(pattern string) ([]string, error) {
	var out []string
	err := expandRange(pattern, &out)
	return out, err
}

func expandRange(line string, out *[]string) error {
	open := strings.Index(line, "[")
	close := strings.Index(line, "]")
	// Python replaces the first "[" and then the first "]" with "|" and
	// splits on "|": any other shape is an error there too.
	if open < 0 || close < 0 || strings.Contains(line, "|") {
		return fmt.Errorf("host range %q must look like name[begin:end] or name[begin:end:step]", line)
	}
	var head, nrange, tail string
	if close < open {
		// "a]b[c" splits into a, b, c just the same.
		head, nrange, tail = line[:close], line[close+1:open], line[open+1:]
	} else {
		head, nrange, tail = line[:open], line[open+1:close], line[close+1:]
	}
	bounds := strings.Split(nrange, ":")
	if len(bounds) != 2 && len(bounds) != 3 {
		return fmt.Errorf("host range [%s] must be begin:end or begin:end:step", nrange)
	}
	beg, end := bounds[0], bounds[1]
	step := "1"
	if len(bounds) == 3 {
		step = bounds[2]
	}
	if beg == "" {
		beg = "0"
	}
	if end == "" {
		return fmt.Errorf("host range [%s] must specify an end value", nrange)
	}
	width := 0
	if beg[0] == '0' && len(beg) > 1 {
		width = len(beg)
		if width != len(end) {
			return fmt.Errorf("host range [%s] must specify begin and end with the same number of digits", nrange)
		}
	}
	var seq []string
	ib, ie := strings.Index(asciiLetters, beg), strings.Index(asciiLetters, end)
	if ib >= 0 && ie >= 0 {
		if ib > ie {
			return fmt.Errorf("host range [%s] must have begin <= end", nrange)
		}
		st, err := pyInt(step)
		if err != nil || st == 0 {
			return fmt.Errorf("host range [%s] has an invalid step %q", nrange, step)
		}
		for _, i := range pySlice(ib, ie+1, st) {
			seq = append(seq, asciiLetters[i:i+1])
		}
	} else {
		b, err1 := pyInt(beg)
		e, err2 := pyInt(end)
		st, err3 := pyInt(step)
		if err1 != nil || err2 != nil || err3 != nil {
			return fmt.Errorf("host range [%s] must use numbers or single letters", nrange)
		}
		if st == 0 {
			return fmt.Errorf("host range [%s] has a step of zero", nrange)
		}
		if n := rangeLen(b, e+1, st); n > maxRangeHosts || n+len(*out) > maxRangeHosts {
			return fmt.Errorf("host range [%s] expands to more than %d hosts", nrange, maxRangeHosts)
		}
		for i := b; (st > 0 && i < e+1) || (st < 0 && i > e+1); i += st {
			s := strconv.Itoa(i)
			if width > 0 {
				s = zfill(s, width)
			}
			seq = append(seq, s)
		}
	}
	for _, s := range seq {
		name := head + s + tail
		if strings.Contains(name, "[") {
			if err := expandRange(name, out); err != nil {
				return err
			}
			continue
		}
		if len(*out) >= maxRangeHosts {
			return fmt.Errorf("host range expands to more than %d hosts", maxRangeHosts)
		}
		*out = append(*out, name)
	}
	return nil
}

func rangeLen(start, stop, step int) int {
	if step > 0 && start < stop {
		return (stop - start + step - 1) / step
	}
	if step < 0 && start > stop {
		return (start - stop - step - 1) / -step
	}
	return 0
}

// pySlice returns the indexes Python's s[start:stop:step] visits for a
// sequence of length stop or more.
func pySlice(start, stop, step int) []int {
	var out []int
	if step > 0 {
		for i := start; i < stop; i += step {
			out = append(out, i)
		}
	} else {
		// A negative step walks down from start; with start < stop that is
		// nothing, as in Python.
		for i := start; i > stop; i += step {
			out = append(out, i)
		}
	}
	return out
}

// zfill pads a decimal string with zeros after its sign, as str.zfill does.
func zfill(s string, width int) string {
	sign := ""
	if strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
		sign, s = s[:1], s[1:]
	}
	for len(sign)+len(s) < width {
		s = "0" + s
	}
	return sign + s
}

// pyInt parses an integer as Python's int() does for a string: surrounding
// whitespace, a sign, and single underscores between digits are allowed.
func pyInt(s string) (int, error) {
	s = strings.TrimSpace(s)
	t := s
	if strings.HasPrefix(t, "+") || strings.HasPrefix(t, "-") {
		t = t[1:]
	}
	if t == "" || t[0] == '_' || t[len(t)-1] == '_' || strings.Contains(t, "__") {
		return 0, fmt.Errorf("invalid integer %q", s)
	}
	n, err := strconv.Atoi(strings.ReplaceAll(s, "_", ""))
	if err != nil {
		return 0, fmt.Errorf("invalid integer %q", s)
	}
	return n, nil
}

// validGroupName reports whether name passes Ansible's
// INVALID_VARIABLE_NAMES check: word characters only, not starting with a
// digit.
func validGroupName(name string) bool {
	for i, r := range name {
		if !(r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r)) || (i == 0 && unicode.IsDigit(r)) {
			return false
		}
	}
	return true
}
