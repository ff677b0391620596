package diag

import (
	"fmt"
	"testing"
)

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{Pkg: "inventory", File: "hosts.yml", Line: 12, Msg: "bad"}, "inventory: hosts.yml:12: bad"},
		{&Error{Pkg: "inventory", File: "hosts.yml", Msg: "bad"}, "inventory: hosts.yml: bad"},
		{&Error{Msg: "no inventory given"}, "no inventory given"},
		{&Error{File: "x", Line: 3, Msg: "m"}, "x:3: m"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestHint(t *testing.T) {
	inner := &Error{Msg: "inner", Hint: "do this"}
	wrapped := fmt.Errorf("outer: %w", inner)
	if got := Hint(wrapped); got != "do this" {
		t.Errorf("Hint(wrapped) = %q, want %q", got, "do this")
	}
	if got := Hint(fmt.Errorf("plain")); got != "" {
		t.Errorf("Hint(plain) = %q, want empty", got)
	}
}

func TestWarningString(t *testing.T) {
	if got := (Warning{File: "a.yml", Line: 2, Msg: "dup"}).String(); got != "a.yml:2: dup" {
		t.Errorf("got %q", got)
	}
	if got := (Warning{Msg: "plain"}).String(); got != "plain" {
		t.Errorf("got %q", got)
	}
}
