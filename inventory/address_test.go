package inventory

import (
	"encoding/json"
	"regexp"
	"testing"
)

// The expectations in this file were printed by ansible-core 2.14's own
// functions: parse_address(s, allow_ranges=True), expand_hostname_range,
// fnmatch.translate (as the pattern matcher uses it) and split_host_pattern.

func TestParseAddress(t *testing.T) {
	tests := []struct {
		in, host string
		port     int
		err      bool
	}{
		{"web1", "web1", 0, false},
		{"web1:22", "web1", 22, false},
		{"[::1]:2222", "::1", 2222, false},
		{"::1", "::1", 0, false},
		{"fe80::1", "fe80::1", 0, false},
		{"2001:db8::10", "2001:db8::10", 0, false},
		{"192.0.2.1:22", "192.0.2.1", 22, false},
		{"[192.0.2.1]:22", "192.0.2.1", 22, false},
		{"web[1:3]", "web[1:3]", 0, false},
		{"web[1:3]:22", "web[1:3]", 22, false},
		{"[web1:22]:33", "web1", 22, false},
		{"web-", "", 0, true},
		{"web_", "", 0, true},
		{"-web", "", 0, true},
		{"_web", "_web", 0, false},
		{"a.b-.c", "", 0, true},
		{"café", "café", 0, false},
		{"web[a:c].x", "web[a:c].x", 0, false},
		{"web[A:C]", "web[A:C]", 0, false},
		{"web[1:3:2]", "web[1:3:2]", 0, false},
		{"host:port", "", 0, true},
		{"bad host", "", 0, true},
		{"1.2.3.4.5", "1.2.3.4.5", 0, false},
		{"300.1.1.1", "300.1.1.1", 0, false},
		{"web..x", "", 0, true},
		{"", "", 0, true},
		{"web[1:3", "", 0, true},
		// Python takes any port number; fleet refuses what cannot be one.
		{"x:99999999999999999999", "", 0, true},
	}
	for _, tt := range tests {
		host, port, err := parseAddress(tt.in, true)
		if (err != nil) != tt.err || host != tt.host || port != tt.port {
			t.Errorf("parseAddress(%q) = %q, %d, %v; want %q, %d, error %v", tt.in, host, port, err, tt.host, tt.port, tt.err)
		}
	}
}

func TestExpandHostRange(t *testing.T) {
	tests := []struct {
		in, want string
		err      bool
	}{
		{"web[01:03]", "[\"web01\", \"web02\", \"web03\"]", false},
		{"web[1:10:3]", "[\"web1\", \"web4\", \"web7\", \"web10\"]", false},
		{"db-[a:c]", "[\"db-a\", \"db-b\", \"db-c\"]", false},
		{"db-[x:B]", "[\"db-x\", \"db-y\", \"db-z\", \"db-A\", \"db-B\"]", false},
		{"x[A:C]y", "[\"xAy\", \"xBy\", \"xCy\"]", false},
		{"a[1:2]b[1:2]", "[\"a1b1\", \"a1b2\", \"a2b1\", \"a2b2\"]", false},
		{"w[:2]", "[\"w0\", \"w1\", \"w2\"]", false},
		{"w[1:]", "", true},
		{"w[01:3]", "", true},
		{"w[001:100:50]", "[\"w001\", \"w051\"]", false},
		{"w[c:a]", "", true},
		{"w[3:1]", "[]", false},
		{"w[1:3:0]", "", true},
		{"w[1:3:-1]", "[]", false},
		{"w[ab:c]", "[\"wa\", \"wb\", \"wc\"]", false},
		{"w[1]", "", true},
		{"w[1:2:3:4]", "", true},
		{"w[a:3]", "", true},
		{"w|[1:2]", "", true},
		{"w]x[1", "", true},
		{"w[0:0]", "[\"w0\"]", false},
		{"w[+1:2]", "[\"w1\", \"w2\"]", false},
		{"w[1_0:12]", "[\"w10\", \"w11\", \"w12\"]", false},
		{"w[a:e:2]", "[\"wa\", \"wc\", \"we\"]", false},
	}
	for _, tt := range tests {
		got, err := expandHostRange(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("expandHostRange(%q) error = %v, want error %v", tt.in, err, tt.err)
			continue
		}
		if tt.err {
			continue
		}
		if got == nil {
			got = []string{}
		}
		if b, _ := json.Marshal(got); !jsonEqual(t, string(b), tt.want) {
			t.Errorf("expandHostRange(%q) = %s, want %s", tt.in, b, tt.want)
		}
	}
}

func TestGlobToRegexp(t *testing.T) {
	names := []string{"web1", "web10", "web-1", "Web1", "web[1]", "w!b", "w-b", "w]b", "web.example.com", "a\\b", "w^b", "w\nb", ""}
	tests := []struct{ pattern, want string }{
		{"web*", "[\"web1\", \"web10\", \"web-1\", \"web[1]\", \"web.example.com\"]"},
		{"web?", "[\"web1\"]"},
		{"web[0-9]", "[\"web1\"]"},
		{"web[!0-9]*", "[\"web-1\", \"web[1]\", \"web.example.com\"]"},
		{"w[!]", "[]"},
		{"w[]b]", "[]"},
		{"w[!]b]", "[]"},
		{"[", "[]"},
		{"web[", "[]"},
		{"w[z-a]b", "[]"},
		{"w[a-]b", "[\"w-b\"]"},
		{"w[-a]b", "[\"w-b\"]"},
		{"w[!-]b", "[\"w!b\", \"w]b\", \"w^b\", \"w\\nb\"]"},
		{"w[\\]b", "[]"},
		{"w[^b]b", "[\"w^b\"]"},
		{"*.example.com", "[\"web.example.com\"]"},
		{"W*", "[\"Web1\"]"},
		{"w[a-c-e]", "[]"},
		{"web1", "[\"web1\"]"},
		{"w?b", "[\"w!b\", \"w-b\", \"w]b\", \"w^b\", \"w\\nb\"]"},
		{"**", "[\"web1\", \"web10\", \"web-1\", \"Web1\", \"web[1]\", \"w!b\", \"w-b\", \"w]b\", \"web.example.com\", \"a\\\\b\", \"w^b\", \"w\\nb\", \"\"]"},
		{"w[!z-a]b", "[\"w!b\", \"w-b\", \"w]b\", \"w^b\", \"w\\nb\"]"},
		{"w[b-a-c]b", "[\"w-b\"]"},
		{"*[1]", "[\"web1\", \"web-1\", \"Web1\"]"},
	}
	for _, tt := range tests {
		re, err := regexp.Compile(globToRegexp(tt.pattern))
		if err != nil {
			t.Errorf("globToRegexp(%q) = %q does not compile: %v", tt.pattern, globToRegexp(tt.pattern), err)
			continue
		}
		got := []string{}
		for _, n := range names {
			if re.MatchString(n) {
				got = append(got, n)
			}
		}
		if b, _ := json.Marshal(got); !jsonEqual(t, string(b), tt.want) {
			t.Errorf("glob %q (regexp %s) matches %s, want %s", tt.pattern, globToRegexp(tt.pattern), b, tt.want)
		}
	}
}

func TestSplitPattern(t *testing.T) {
	tests := []struct{ in, want string }{
		{"web:db", "[\"web\", \"db\"]"},
		{"web,db", "[\"web\", \"db\"]"},
		{"web[1:3]", "[\"web[1:3]\"]"},
		{"web:&prod:!canary", "[\"web\", \"&prod\", \"!canary\"]"},
		{" web , db ", "[\"web\", \"db\"]"},
		{"::1", "[\"::1\"]"},
		{"fe80::1", "[\"fe80::1\"]"},
		{"web:22", "[\"web:22\"]"},
		{"a b", "[\"a\", \"b\"]"},
		{"web[1:3]:db", "[\"web[1:3]\", \"db\"]"},
		{"~web.*:db", "[\"~web.*\", \"db\"]"},
		{"a,,b", "[\"a\", \"b\"]"},
		{"", "[]"},
		{"web:[1:2]", "[\"web\", \"[1:2]\"]"},
	}
	for _, tt := range tests {
		got := SplitPattern(tt.in)
		if got == nil {
			got = []string{}
		}
		if b, _ := json.Marshal(got); !jsonEqual(t, string(b), tt.want) {
			t.Errorf("SplitPattern(%q) = %s, want %s", tt.in, b, tt.want)
		}
	}
}

// jsonEqual compares two JSON texts by value.
func jsonEqual(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatalf("bad JSON %q: %v", a, err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatalf("bad JSON %q: %v", b, err)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}
