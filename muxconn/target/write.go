package target

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// Key identifies the connection the Target describes: user@host:port of
// the host, its ProxyCommand, and each jump host on the way to it, nearest
// first, as in "deploy@10.0.0.5:22 via admin@bastion:22". Targets with
// equal keys can share one connection.
func (t *Target) Key() string {
	var b strings.Builder
	b.WriteString(t.addr())
	if t.ProxyCommand != "" {
		b.WriteString(" via ProxyCommand ")
		b.WriteString(t.ProxyCommandLine())
	}
	for i := len(t.ProxyJump) - 1; i >= 0; i-- {
		b.WriteString(" via ")
		b.WriteString(t.ProxyJump[i].addr())
	}
	return b.String()
}

func (t *Target) addr() string {
	return t.User + "@" + net.JoinHostPort(t.HostName, strconv.Itoa(t.Port))
}

// WriteConfig prints the Target as `ssh -G` does: one lower-case "key value"
// line per option fleet honours, then fleet's own settings as "# fleet:"
// comments, then where each value came from.
func (t *Target) WriteConfig(w io.Writer) error {
	bw := bufio.NewWriter(w)
	type line struct{ key, val string }
	var lines []line
	add := func(key, val string) { lines = append(lines, line{key, val}) }

	add("host", t.Alias)
	add("hostname", t.HostName)
	add("port", strconv.Itoa(t.Port))
	add("user", t.User)
	for _, f := range t.IdentityFiles {
		add("identityfile", f)
	}
	add("identitiesonly", yesNoString(t.IdentitiesOnly))
	if t.IdentityAgent == "" {
		add("identityagent", "none")
	} else {
		add("identityagent", t.IdentityAgent)
	}
	if len(t.ProxyJump) > 0 {
		hops := make([]string, len(t.ProxyJump))
		for i, h := range t.ProxyJump {
			hops[i] = h.jumpSpec()
		}
		add("proxyjump", strings.Join(hops, ","))
	}
	if t.ProxyCommand != "" {
		add("proxycommand", t.ProxyCommand)
	}
	add("userknownhostsfile", fileList(t.UserKnownHostsFiles))
	add("globalknownhostsfile", fileList(t.GlobalKnownHostsFiles))
	add("stricthostkeychecking", t.StrictHostKeyChecking)
	add("hashknownhosts", yesNoString(t.HashKnownHosts))
	if t.HostKeyAlias != "" {
		add("hostkeyalias", t.HostKeyAlias)
	}
	if t.ConnectTimeout <= 0 {
		add("connecttimeout", "none")
	} else {
		add("connecttimeout", seconds(t.ConnectTimeout))
	}
	add("serveralivecountmax", strconv.Itoa(t.ServerAliveCountMax))
	add("serveraliveinterval", seconds(t.ServerAliveInterval))
	add("controlmaster", t.ControlMaster)
	add("controlpath", t.ControlPath)
	add("controlpersist", t.ControlPersist)
	for _, l := range lines {
		fmt.Fprintf(bw, "%s %s\n", l.key, l.val)
	}
	fmt.Fprintf(bw, "# fleet: maxsessions %d\n", t.MaxSessions)
	fmt.Fprintf(bw, "# fleet: fresh %s\n", yesNoString(t.Fresh))
	for i, h := range t.ProxyJump {
		fmt.Fprintf(bw, "# fleet: jump host %d: %s is %s\n", i+1, h.Alias, h.Key())
	}
	fmt.Fprintf(bw, "# fleet: connection %s\n", t.Key())

	fmt.Fprintf(bw, "#\n# where the values came from:\n")
	printed := map[string]bool{}
	for _, l := range append(lines, line{key: "maxsessions"}, line{key: "fresh"}) {
		if o, ok := t.Origin[l.key]; ok && !printed[l.key] {
			printed[l.key] = true
			fmt.Fprintf(bw, "#   %s: %s\n", l.key, o)
		}
	}
	return bw.Flush()
}

// jumpSpec spells the Target as a ProxyJump hop.
func (t *Target) jumpSpec() string {
	if t.spec != "" {
		return t.spec
	}
	return jumpSpec{user: t.User, host: t.Alias, port: t.Port}.String()
}

func yesNoString(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// fileList joins file names with spaces, as ssh -G does, or says none.
func fileList(files []string) string {
	if len(files) == 0 {
		return "none"
	}
	return strings.Join(files, " ")
}

// seconds prints a duration as ssh -G does, in whole seconds when it is
// whole.
func seconds(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10)
	}
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}
