package muxconn

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"time"
)

// The splitter must find marks wherever the stream is cut into writes.
// The hello comes first, on its own (the shell waits for it); then the
// commands, all sent at once, so their outputs and marks come as one
// stream, cut in two at every place, and byte by byte.
func TestMarkSplitter(t *testing.T) {
	const mark = "fleet-0123"
	m := func(st string) string { return "\n" + mark + " " + st + "\n" }
	cases := []struct {
		name   string
		hello  string
		rest   string   // the commands' outputs and marks
		want   []string // each command's output as its writer sees it
		status []int    // after the hello's
	}{
		{"hello only", m("0"), "", nil, nil},
		{"plain", m("0"), "hi\n" + m("0"), []string{"hi\n"}, []int{0}},
		{"no trailing newline", m("0"), "hi" + m("3"), []string{"hi"}, []int{3}},
		{"several", m("0"), m("0") + "x\n" + m("1") + m("skip"), []string{"", "x\n", ""}, []int{0, 1, markSkipped}},
		{"newlines kept", m("0"), "\n\n" + m("0") + "\n" + m("0"), []string{"\n\n", "\n"}, []int{0, 0}},
		{"early output goes to the first command", "bashrc says hi\n" + m("0"), "a\n" + m("0") + "b\n" + m("0"), []string{"bashrc says hi\na\n", "b\n"}, []int{0, 0}},
		{"lookalike mark is output", m("0"), "\n" + mark + " nope\n" + m("0"), []string{"\n" + mark + " nope\n"}, []int{0}},
		{"near-mark prefix is output", m("0"), "\nfleet-01\n" + m("130"), []string{"\nfleet-01\n"}, []int{130}},
		{"output after the last mark is dropped", m("0"), "a" + m("0") + "late\n", []string{"a"}, []int{0}},
	}
	for _, c := range cases {
		for cutAt := -1; cutAt < len(c.rest); cutAt++ { // -1: byte by byte; 0: whole
			sp := newMarkSplitter(mark)
			sp.Write([]byte(c.hello))
			if st, ok := sp.take(); !ok || st != 0 {
				t.Fatalf("%s: hello: %d %v", c.name, st, ok)
			}
			outs := make([]*bytes.Buffer, len(c.want))
			ws := make([]io.Writer, len(c.want))
			for i := range outs {
				outs[i] = new(bytes.Buffer)
				ws[i] = outs[i]
			}
			sp.to(ws...)
			sp.release(0)
			var writes []string
			switch {
			case cutAt < 0:
				for j := range len(c.rest) {
					writes = append(writes, c.rest[j:j+1])
				}
			case cutAt > 0:
				writes = []string{c.rest[:cutAt], c.rest[cutAt:]}
			default:
				writes = []string{c.rest}
			}
			for _, w := range writes {
				sp.Write([]byte(w))
			}
			// Only the first command's output is passed on before the
			// shell reports it; then the next one's, and so on.
			for i := 1; i < len(outs); i++ {
				if outs[i].Len() > 0 {
					t.Fatalf("%s, cut %d: command %d's output %q passed on before command %d was reported", c.name, cutAt, i, outs[i], i-1)
				}
				sp.release(i)
			}
			var got []int
			for {
				st, ok := sp.take()
				if !ok {
					break
				}
				got = append(got, st)
			}
			gotOut := make([]string, len(outs))
			for i, b := range outs {
				gotOut[i] = b.String()
			}
			if fmt.Sprintf("%q", gotOut) != fmt.Sprintf("%q", c.want) || fmt.Sprint(got) != fmt.Sprint(c.status) {
				t.Fatalf("%s, cut %d: outputs %q, statuses %v; want %q, %v", c.name, cutAt, gotOut, got, c.want, c.status)
			}
		}
	}
}

func TestShellFrame(t *testing.T) {
	for cmd, want := range map[string]string{
		"":             "0 0 0\n",
		"echo hi":      "1 0 1\necho hi\n",
		"echo hi\n":    "1 0 0\necho hi\n",
		"a\nb":         "2 0 1\na\nb\n",
		"a\n\nb\n":     "3 0 0\na\n\nb\n",
		"printf '\\n'": "1 0 1\nprintf '\\n'\n",
	} {
		if got := string(shellFrame(cmd, false)); got != want {
			t.Errorf("shellFrame(%q) = %q, want %q", cmd, got, want)
		}
	}
	if got := string(shellFrame("a\nb", true)); got != "2 1 1\na\nb\n" {
		t.Errorf("shellFrame(ifOK) = %q", got)
	}
}

// A caller waiting for a slot takes one its holder lends as idle, and
// the holder learns it lost it.
func TestGateReclaimsIdleSlot(t *testing.T) {
	g := NewSessionGate(1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.acquire(ctx, nil); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() { got <- g.acquire(ctx, nil) }()
	// The waiter is blocked; now the holder goes idle.
	reclaimed := make(chan struct{})
	r := g.park(func() { close(reclaimed); g.Release() })
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("the waiter did not take the idle slot")
	}
	<-reclaimed
	if g.unpark(r) {
		t.Error("unpark says the slot is still ours after it was reclaimed")
	}
	// An idle slot taken back before anyone needs it stays ours.
	r = g.park(func() { t.Error("reclaimed with nobody waiting") })
	if !g.unpark(r) {
		t.Error("unpark lost a slot nobody took")
	}
	if g.tryAcquire() {
		t.Error("a second slot on a gate of one")
	}
}
