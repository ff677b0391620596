package report

import (
	"slices"
	"strings"
	"testing"
)

func TestFold(t *testing.T) {
	tests := []struct {
		name  string
		hosts string // space-separated
		want  string
	}{
		{"empty", "", ""},
		{"single", "web04", "web04"},
		{"range and single", "web01 web02 web03 web07", "web[01-03,07]"},
		{"several prefixes", "web07 db2 web01 web03 db1 web02", "db[1-2] web[01-03,07]"},
		{"natural order", "web10 web2 web9", "web[2,9-10]"},
		{"unpadded crosses widths", "web9 web10 web11", "web[9-11]"},
		{"duplicates", "web2 web10 web2", "web[2,10]"},
		{"padded and unpadded stay apart", "web1 web01", "web01 web1"},
		{"wide number joins padded", "web01 web02 web10 web1", "web[01-02,10] web1"},
		{"padded range crosses a power of ten", "web099 web100 web101", "web[099-101]"},
		{"different pad widths", "n01 n001 n02", "n001 n[01-02]"},
		{"zero", "n0 n1 n00", "n[0-1] n00"},
		{"last number folds", "rack1-node3 rack1-node4 rack2-node3", "rack1-node[3-4] rack2-node3"},
		{"suffix", "node2.example.com node1.example.com", "node[1-2].example.com"},
		{"addresses", "10.0.0.3 10.0.0.1 10.0.0.2 10.0.1.1", "10.0.0.[1-3] 10.0.1.1"},
		{"no digits", "beta alpha web1", "alpha beta web1"},
		{"too long to fold", "n1234567890123456789 n1", "n1 n1234567890123456789"},
		{"brackets left alone", "a[1] a2", "a2 a[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Fold(strings.Fields(tt.hosts)); got != tt.want {
				t.Errorf("Fold(%q) = %q, want %q", tt.hosts, got, tt.want)
			}
		})
	}
}

func TestFoldCount(t *testing.T) {
	tests := []struct {
		hosts []string
		want  string
	}{
		{[]string{"web01", "web02", "web03", "web07", "web01"}, "web[01-03,07] (4)"},
		{[]string{"web04"}, "web04 (1)"},
		{nil, " (0)"},
	}
	for _, tt := range tests {
		if got := FoldCount(tt.hosts); got != tt.want {
			t.Errorf("FoldCount(%q) = %q, want %q", tt.hosts, got, tt.want)
		}
	}
}

func TestExpand(t *testing.T) {
	tests := []struct {
		nodeset string
		want    string // space-separated
	}{
		{"", ""},
		{"web04", "web04"},
		{"web[01-03,07]", "web01 web02 web03 web07"},
		{"db[1-2] web[01-02]", "db1 db2 web01 web02"},
		{"web[9-11]", "web9 web10 web11"},
		{"web[098-100]", "web098 web099 web100"},
		{"rack[1-2]-node[01-02]", "rack1-node01 rack1-node02 rack2-node01 rack2-node02"},
		{"node[1-2].example.com", "node1.example.com node2.example.com"},
		{"web10,web2, web[1-2]", "web1 web2 web10"},
		{"web01 web1 web[1-2]", "web01 web1 web2"},
	}
	for _, tt := range tests {
		got, err := Expand(tt.nodeset)
		if err != nil {
			t.Errorf("Expand(%q): %v", tt.nodeset, err)
			continue
		}
		if want := strings.Fields(tt.want); !slices.Equal(got, want) {
			t.Errorf("Expand(%q) = %q, want %q", tt.nodeset, got, want)
		}
	}
}

func TestExpandErrors(t *testing.T) {
	tests := []struct{ nodeset, want string }{
		{"web[1-3", `lacks the "]"`},
		{"web1]", `"]" without "["`},
		{"web]1[2]", `"]" without "["`},
		{"web[]", "not a number"},
		{"web[a-b]", "not a number"},
		{"web[1-]", "not a number"},
		{"web[3-1]", "from a lower to a higher"},
		{"web[01-005]", "different widths"},
		{"web[1-99999999]", "more than"},
		{"a[1-1000]b[1-1000]c[1-1000]", "more than"},
	}
	for _, tt := range tests {
		got, err := Expand(tt.nodeset)
		if err == nil {
			t.Errorf("Expand(%q) = %d names, want an error", tt.nodeset, len(got))
			continue
		}
		if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.nodeset) {
			t.Errorf("Expand(%q) error %q, want it to name the nodeset and say %q", tt.nodeset, err, tt.want)
		}
	}
}

func TestNaturalCompare(t *testing.T) {
	ordered := []string{"-x", "1", "2", "10", "a", "web", "web01", "web1", "web2", "web02x", "web2x", "web10", "web10a", "web010b", "webb"}
	for i := range ordered {
		for j := range ordered {
			want := cmpInt(i, j)
			if got := NaturalCompare(ordered[i], ordered[j]); got != want {
				t.Errorf("NaturalCompare(%q, %q) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
}

// FuzzFold checks that Fold never panics and that Expand gives back exactly
// the hosts Fold was given, whatever names they are (that Fold can fold).
func FuzzFold(f *testing.F) {
	for _, seed := range []string{
		"web01 web02 web03 web07 db1 db2",
		"web1 web01 web10 web001 web100",
		"rack1-node3 rack1-node4 10.0.0.1 10.0.0.2",
		"n0 n00 n9 n10 n99 n100 n099",
		"x y z 1 2 3 007",
		"a1b2c3 a1b2c4 a1b3c3",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var hosts []string
		for _, h := range strings.Fields(s) {
			if !strings.ContainsAny(h, "[],") {
				hosts = append(hosts, h)
			}
		}
		folded := Fold(hosts)
		got, err := Expand(folded)
		if err != nil {
			t.Fatalf("Expand(Fold(%q)) = Expand(%q): %v", hosts, folded, err)
		}
		want := slices.Clone(hosts)
		slices.SortFunc(want, NaturalCompare)
		want = slices.Compact(want)
		if !slices.Equal(got, want) {
			t.Fatalf("Expand(Fold(%q)) = Expand(%q) = %q, want %q", hosts, folded, got, want)
		}
		for i := 1; i < len(want); i++ {
			if NaturalCompare(want[i-1], want[i]) >= 0 || NaturalCompare(want[i], want[i-1]) <= 0 {
				t.Fatalf("NaturalCompare is not a strict order on %q, %q", want[i-1], want[i])
			}
		}
	})
}
