package target

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// jumpSpec is one hop of a ProxyJump chain as written: [user@]host[:port]
// or ssh://[user@]host[:port].
type jumpSpec struct {
	user   string
	host   string
	port   int // 0 when not given
	origin string
}

// String spells the hop as ssh -G prints it.
func (j jumpSpec) String() string {
	s := j.host
	if strings.Contains(s, ":") {
		s = "[" + s + "]"
	}
	if j.user != "" {
		s = j.user + "@" + s
	}
	if j.port != 0 {
		s += ":" + strconv.Itoa(j.port)
	}
	return s
}

// assigns returns the hop's user and port as options: like ssh's -l and -p
// for the jump host, they win over its ssh_config.
func (j jumpSpec) assigns() assigns {
	var out assigns
	o := "ProxyJump (" + j.origin + ")"
	if j.user != "" {
		out = append(out, assign{key: "user", setting: setting{val: j.user, origin: o, literal: true}})
	}
	if j.port != 0 {
		out = append(out, assign{key: "port", setting: setting{val: strconv.Itoa(j.port), origin: o, literal: true}})
	}
	return out
}

// parseJumps parses a ProxyJump value: "none" or a comma-separated chain,
// first hop first.
func parseJumps(s, origin string) ([]jumpSpec, error) {
	if strings.EqualFold(s, "none") {
		return nil, nil
	}
	var out []jumpSpec
	for _, hop := range strings.Split(s, ",") {
		j, err := parseJump(hop)
		if err != nil {
			return nil, err
		}
		j.origin = origin
		out = append(out, j)
	}
	return out, nil
}

func parseJump(s string) (jumpSpec, error) {
	var j jumpSpec
	orig := s
	bad := func(why string) (jumpSpec, error) {
		return jumpSpec{}, fmt.Errorf("jump host %q: %s; write [user@]host[:port] or ssh://[user@]host[:port]", orig, why)
	}
	if rest, ok := strings.CutPrefix(s, "ssh://"); ok {
		s = rest
		if strings.ContainsAny(s, "/?#") {
			return bad("a URI may not have a path")
		}
	}
	if s == "" {
		return bad("empty host")
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		j.user, s = s[:i], s[i+1:]
		if j.user == "" {
			return bad("empty user name")
		}
	}
	host, port := s, ""
	switch {
	case strings.HasPrefix(s, "["):
		h, p, err := net.SplitHostPort(s)
		if err != nil {
			if !strings.HasSuffix(s, "]") {
				return bad("bad [address]:port")
			}
			h, p = s[1:len(s)-1], ""
		}
		host, port = h, p
	case strings.Count(s, ":") == 1:
		host, port, _ = strings.Cut(s, ":")
	case strings.Count(s, ":") > 1:
		return bad("put an IPv6 address in brackets")
	}
	if host == "" || strings.ContainsAny(host, " \t/") {
		return bad("bad host name")
	}
	j.host = host
	if port != "" {
		p, err := strconv.Atoi(port)
		if err != nil || p < 1 || p > 65535 {
			return bad("bad port")
		}
		j.port = p
	}
	if j.user != "" && strings.ContainsAny(j.user, " \t") {
		return jumpSpec{}, errors.New("bad user name")
	}
	return j, nil
}
