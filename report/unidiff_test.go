package report

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestUnifiedDiff(t *testing.T) {
	twelve := "one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\neleven\ntwelve\n"
	tests := []struct {
		name          string
		before, after string
		want          string
	}{
		{name: "equal", before: "a\nb\n", after: "a\nb\n", want: ""},
		{name: "both empty", want: ""},
		{
			// The hunks Ansible 2.14 printed for a copy task with --diff.
			name:   "two hunks and no newline at the end",
			before: twelve,
			after:  "one\nTWO\nthree\nfour\nfive\nsix\nseven\neight\nnine\nTEN\neleven\ntwelve\nthirteen",
			want: `--- before: /f
+++ after: /f
@@ -1,5 +1,5 @@
 one
-two
+TWO
 three
 four
 five
@@ -7,6 +7,7 @@
 seven
 eight
 nine
-ten
+TEN
 eleven
 twelve
+thirteen
\ No newline at end of file
`,
		},
		{
			name:   "newline added",
			before: "x",
			after:  "x\n",
			want: `--- before: /f
+++ after: /f
@@ -1 +1 @@
-x
\ No newline at end of file
+x
`,
		},
		{
			name:  "new file",
			after: "new\n",
			want: `--- before: /f
+++ after: /f
@@ -0,0 +1 @@
+new
`,
		},
		{
			name:   "file emptied",
			before: "a\nb\n",
			want: `--- before: /f
+++ after: /f
@@ -1,2 +0,0 @@
-a
-b
`,
		},
		{
			// Six equal lines between two changes (2n) keep one hunk.
			name:   "changes six lines apart share a hunk",
			before: "a\n1\n2\n3\n4\n5\n6\nb\n",
			after:  "A\n1\n2\n3\n4\n5\n6\nB\n",
			want: `--- before: /f
+++ after: /f
@@ -1,8 +1,8 @@
-a
+A
 1
 2
 3
 4
 5
 6
-b
+B
`,
		},
		{
			name:   "replacement lists deletions before insertions",
			before: "keep\nold1\nold2\nkeep2\n",
			after:  "keep\nnew1\nnew2\nnew3\nkeep2\n",
			want: `--- before: /f
+++ after: /f
@@ -1,4 +1,5 @@
 keep
-old1
-old2
+new1
+new2
+new3
 keep2
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := UnifiedDiff("before: /f", "after: /f", tt.before, tt.after, DiffContext)
			if got != tt.want {
				t.Errorf("UnifiedDiff:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// lcsLen is the length of a longest common subsequence, by dynamic
// programming: the reference a shortest edit script must agree with.
func lcsLen(a, b []string) int {
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for i := range a {
		for j := range b {
			switch {
			case a[i] == b[j]:
				cur[j+1] = prev[j] + 1
			default:
				cur[j+1] = max(prev[j+1], cur[j])
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// TestDiffOpsShortest checks on random texts that the edit script turns a
// into b, keeps only equal lines as equal, and is as short as possible.
func TestDiffOpsShortest(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	randText := func() []string {
		n := rng.IntN(25)
		lines := make([]string, n)
		for i := range lines {
			lines[i] = string(rune('a'+rng.IntN(4))) + "\n"
		}
		return lines
	}
	for iter := range 3000 {
		a, b := randText(), randText()
		ops := diffOps(a, b)
		var rebuilt []string
		kept, ai, bi := 0, 0, 0
		for _, op := range ops {
			if op.a0 != ai || op.b0 != bi {
				t.Fatalf("#%d: ops do not cover the texts in order: %+v", iter, ops)
			}
			ai, bi = op.a1, op.b1
			if op.kind == opEqual {
				for k := range op.a1 - op.a0 {
					if a[op.a0+k] != b[op.b0+k] {
						t.Fatalf("#%d: lines %q and %q paired as equal", iter, a[op.a0+k], b[op.b0+k])
					}
				}
				kept += op.a1 - op.a0
				rebuilt = append(rebuilt, a[op.a0:op.a1]...)
			} else {
				rebuilt = append(rebuilt, b[op.b0:op.b1]...)
			}
		}
		if ai != len(a) || bi != len(b) {
			t.Fatalf("#%d: ops end at (%d,%d), texts have (%d,%d) lines", iter, ai, bi, len(a), len(b))
		}
		if strings.Join(rebuilt, "") != strings.Join(b, "") {
			t.Fatalf("#%d: applying the ops to %q gives %q, want %q", iter, a, rebuilt, b)
		}
		if want := lcsLen(a, b); kept != want {
			t.Fatalf("#%d: script keeps %d lines of %q and %q, a shortest keeps %d", iter, kept, a, b, want)
		}
	}
}

func TestDiffOpsLargeText(t *testing.T) {
	// A long text with scattered edits: the linear-space search must
	// finish quickly and find exactly the edits made.
	var a, b []string
	for i := range 20000 {
		l := strings.Repeat("x", i%7) + string(rune('a'+i%26)) + "\n"
		a = append(a, l)
		switch {
		case i%1000 == 0:
			b = append(b, "changed\n")
		case i%1500 == 0:
			// deleted
		default:
			b = append(b, l)
		}
	}
	kept := 0
	for _, op := range diffOps(a, b) {
		if op.kind == opEqual {
			kept += op.a1 - op.a0
		}
	}
	if want := len(a) - 20 - 7; kept != want { // 20 changed, 7 deleted (multiples of 1500 not of 1000)
		t.Errorf("kept %d lines, want %d", kept, want)
	}
}
