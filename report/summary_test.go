package report

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"fleetrun.dev/fleet/muxconn"
)

func TestSummary(t *testing.T) {
	refused := errors.New("connect: connection refused")
	tests := []struct {
		name   string
		opt    SummaryOptions
		events func(Sink)
		want   string
	}{
		{"run", SummaryOptions{}, runEvents, `
ok: 1  failed: 2  unreachable: 1  (4 hosts, 5s)
failed: db1 web02 (2)
unreachable: db2
  db2: dial tcp 10.0.0.2:22: connect: connection refused
`},
		{"all ok", SummaryOptions{}, func(s Sink) {
			for i := range 18 {
				s.Host(HostResult{Host: fmt.Sprintf("web%02d", i+1), Status: OK, Start: at(0), End: at(850)})
			}
		}, `
ok: 18  failed: 0  unreachable: 0  (18 hosts, 850ms)
`},
		{"nothing", SummaryOptions{}, func(Sink) {}, `
ok: 0  failed: 0  unreachable: 0  (0 hosts, 0s)
`},
		{"many unreachable grouped by cause", SummaryOptions{}, func(s Sink) {
			for i := range 12 {
				err := refused
				if i%4 == 3 {
					err = errors.New("i/o timeout")
				}
				s.Host(HostResult{Host: fmt.Sprintf("db%d", i+1), Status: Unreachable, Err: err, Start: at(0), End: at(2300)})
			}
			s.Host(HostResult{Host: "lb", Status: Unreachable, Start: at(0), End: at(64500)})
			s.Host(HostResult{Host: "web1", Status: OK, Start: at(-1000), End: at(0)})
		}, `
ok: 1  failed: 0  unreachable: 13  (14 hosts, 1m5.5s)
unreachable: db[1-12] lb (13)
  db[1-3,5-7,9-11] (9): connect: connection refused
  db[4,8,12] (3): i/o timeout
  lb (1): no cause given
`},
		{"color", SummaryOptions{Color: true}, func(s Sink) {
			s.Host(HostResult{Host: "a", Status: OK})
			s.Host(HostResult{Host: "b", Status: Failed})
		}, `
` + ansiGreen + `ok: 1` + ansiReset + `  ` + ansiRed + `failed: 1` + ansiReset + `  unreachable: 0  (2 hosts, 0s)
` + ansiRed + `failed` + ansiReset + `: b
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			s := NewSummary(&b, tt.opt)
			tt.events(s)
			if b.Len() != 0 {
				t.Fatalf("printed %q before Close", b.String())
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if want := strings.TrimPrefix(tt.want, "\n"); b.String() != want {
				t.Errorf("output:\n%s\nwant:\n%s", b.String(), want)
			}
		})
	}
}

func TestSummaryCounts(t *testing.T) {
	s := NewSummary(&bytes.Buffer{}, SummaryOptions{})
	runEvents(s)
	s.Host(HostResult{Host: "web02", Status: OK}) // a later result replaces the earlier one
	if ok, failed, unreachable := s.Counts(); ok != 2 || failed != 1 || unreachable != 1 {
		t.Errorf("Counts() = %d, %d, %d; want 2, 1, 1", ok, failed, unreachable)
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", -time.Second: "0s", 1500 * time.Microsecond: "2ms", 850 * time.Millisecond: "850ms",
		2340 * time.Millisecond: "2.3s", 10 * time.Second: "10s", time.Minute: "1m0s",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

// hostErr is an unreachable host's error as the runner reports it: the
// cause and reason, wrapping muxconn's error, which records the address.
type hostErr struct{ u *muxconn.UnreachableError }

func (e hostErr) Error() string { return string(e.u.Cause) + ": " + e.u.Reason() }
func (e hostErr) Unwrap() error { return e.u }

func unreachableAt(host, addr string, cause muxconn.Cause, format string, args ...any) HostResult {
	u := &muxconn.UnreachableError{Host: host, Addr: addr, Cause: cause, Err: fmt.Errorf(format, args...)}
	return HostResult{Host: host, Status: Unreachable, Err: hostErr{u}}
}

// TestSummaryCauses checks the causes of unreachable hosts: in natural
// order of the hosts, and above maxCauseLines hosts, one line for the hosts
// whose causes differ only in their own name and address.
func TestSummaryCauses(t *testing.T) {
	refused := func(i int) HostResult {
		addr := fmt.Sprintf("10.0.%d.%d:22", i/250, i%250+1)
		return unreachableAt(fmt.Sprintf("r%d", i), addr, muxconn.CauseRefused, "connection to %s refused", addr)
	}
	tests := []struct {
		name  string
		hosts []HostResult
		want  string
	}{
		{"few: a line each, sorted", []HostResult{refused(10), refused(9), refused(1)}, `
unreachable: r[1,9-10] (3)
  r1: refused: connection to 10.0.0.2:22 refused
  r9: refused: connection to 10.0.0.10:22 refused
  r10: refused: connection to 10.0.0.11:22 refused
`},
		{"500 refused fold into one line", func() []HostResult {
			var rs []HostResult
			for i := range 500 {
				rs = append(rs, refused(i+1))
			}
			return rs
		}(), `
unreachable: r[1-500] (500)
  r[1-500] (500): refused: connection to <address> refused
`},
		// In natural order web1 comes after web01: causes are in the order
		// of their first host.
		{"mixed causes, each folded, in order of first host", func() []HostResult {
			var rs []HostResult
			for i := range 30 {
				name := fmt.Sprintf("web%02d", i+1)
				switch {
				case i%3 == 0:
					// Lab hosts: one address, a port each.
					addr := fmt.Sprintf("127.0.0.1:%d", 2200+i)
					rs = append(rs, unreachableAt(name, addr, muxconn.CauseTimeout, "no answer from %s within 10s (ConnectTimeout)", addr))
				case i%3 == 1:
					addr := fmt.Sprintf("%s.example:22", name)
					rs = append(rs, unreachableAt(name, addr, muxconn.CauseResolve, "lookup %s.example: no such host", name))
				default:
					addr := fmt.Sprintf("127.0.0.1:%d", 2200+i)
					rs = append(rs, unreachableAt(name, addr, muxconn.CauseHostKey,
						"host key for [127.0.0.1]:%d (%s) changed", 2200+i, name))
				}
			}
			// Other hosts named in a cause are not the host's own: the
			// jump hosts keep their names, and web1 is not web10's name.
			rs = append(rs,
				unreachableAt("db1", "10.9.0.1:22", muxconn.CauseJump, "via jump host bastion1: refused"),
				unreachableAt("db2", "10.9.0.2:22", muxconn.CauseJump, "via jump host bastion1: refused"),
				unreachableAt("db3", "10.9.0.3:22", muxconn.CauseJump, "via jump host bastion2: refused"),
				HostResult{Host: "web1", Status: Unreachable, Err: errors.New("web10 is down; web1\nlost")},
			)
			return rs
		}(), `
unreachable: db[1-3] web[01-30] web1 (34)
  db[1-2] (2): jump host: via jump host bastion1: refused
  db3 (1): jump host: via jump host bastion2: refused
  web[01,04,07,10,13,16,19,22,25,28] (10): timeout: no answer from <address> within 10s (ConnectTimeout)
  web1 (1): web10 is down; web1\#012lost
  web[02,05,08,11,14,17,20,23,26,29] (10): resolve: lookup <address>: no such host
  web[03,06,09,12,15,18,21,24,27,30] (10): host key: host key for <address> (<host>) changed
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Hosts end in any order; the summary must not depend on it.
			for _, seed := range []uint64{1, 2, 3} {
				hosts := slices.Clone(tt.hosts)
				rand.New(rand.NewPCG(seed, 0)).Shuffle(len(hosts), func(i, j int) { hosts[i], hosts[j] = hosts[j], hosts[i] })
				var b bytes.Buffer
				s := NewSummary(&b, SummaryOptions{})
				for _, r := range hosts {
					s.Host(r)
				}
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				_, got, _ := strings.Cut(b.String(), "\n") // past the counts
				if want := strings.TrimPrefix(tt.want, "\n"); got != want {
					t.Fatalf("seed %d: output:\n%s\nwant:\n%s", seed, got, want)
				}
			}
		})
	}
}

func TestHostNeutral(t *testing.T) {
	u := func(addr string) error {
		return &muxconn.UnreachableError{Host: "web1", Addr: addr, Err: errors.New("x")}
	}
	tests := []struct {
		text, host string
		err        error
		want       string
	}{
		{"connection to 10.0.0.1:22 refused", "web1", u("10.0.0.1:22"), "connection to <address> refused"},
		{"no route to 10.0.0.1", "web1", u("10.0.0.1:22"), "no route to <address>"},
		{"key for [10.0.0.1]:2222 changed", "web1", u("10.0.0.1:2222"), "key for <address> changed"},
		{"10.0.0.10 and 110.0.0.1 and 10.0.0.1.5", "web1", u("10.0.0.1:22"), "10.0.0.10 and 110.0.0.1 and 10.0.0.1.5"},
		{"web1: web10, web1.example, x.web1, web1-a, web1.", "web1", nil, "<host>: web10, web1.example, x.web1, web1-a, <host>."},
		{"master socket /home/u/.fleet/cm/abc: refused", "web1", u("/home/u/.fleet/cm/abc"), "master socket <address>: refused"},
		{"lost", "", nil, "lost"},
	}
	for _, tt := range tests {
		if got := HostNeutral(tt.text, tt.host, tt.err); got != tt.want {
			t.Errorf("HostNeutral(%q, %q) = %q, want %q", tt.text, tt.host, got, tt.want)
		}
	}
}
