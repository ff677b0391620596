package report

import (
	"strconv"
	"strings"
	"testing"
)

func TestEscapeControl(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/srv/app/a.conf", "/srv/app/a.conf"},
		{"", ""},
		{"new\nline", `new\#012line`},
		{"tab\there\r", `tab\#011here\#015`},
		{"\x1b[31mred\x1b[0m", `\#033[31mred\#033[0m`},
		{"nul\x00del\x7f", `nul\#000del\#177`},
		{"café ü 日本 ✓", "café ü 日本 ✓"},
		{"c1 \u009b csi", `c1 \#302\#233 csi`},
		{"bad \xff\xfe utf-8", `bad \#377\#376 utf-8`},
		{"cut \xe6\x97", `cut \#346\#227`},
		{`back\slash`, `back\slash`},
		{`a\#012b`, `a\#134#012b`},
		{`end\`, `end\`},
	}
	for _, tt := range tests {
		got := EscapeControl(tt.in)
		if got != tt.want {
			t.Errorf("EscapeControl(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if back := unescapeControl(got); back != tt.in {
			t.Errorf("EscapeControl(%q) = %q, which reads back as %q", tt.in, got, back)
		}
	}
}

// unescapeControl undoes EscapeControl, to show that nothing is lost.
func unescapeControl(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, `\#`)
		if i < 0 || i+5 > len(s) {
			break
		}
		n, err := strconv.ParseUint(s[i+2:i+5], 8, 8)
		if err != nil {
			b.WriteString(s[:i+2])
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		b.WriteByte(byte(n))
		s = s[i+5:]
	}
	b.WriteString(s)
	return b.String()
}
