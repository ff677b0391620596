package report

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
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
