package report

import (
	"strconv"
	"strings"
)

// DiffContext is the number of unchanged lines a unified diff shows around
// each change, as diff -u and Ansible's --diff do.
const DiffContext = 3

// noNewlineMark follows a last line that lacks its newline.
const noNewlineMark = "\\ No newline at end of file\n"

// UnifiedDiff returns the unified diff that turns before into after, with
// context lines around each change, headed "--- fromName" and
// "+++ toName". It returns "" when the two texts are equal.
//
// The format is Python difflib's, as Ansible prints it with --diff: hunk
// ranges such as "@@ -1,5 +1,6 @@" ("-3" alone for one line, "-0,0" for
// none), and a last line without its newline followed by
// "\ No newline at end of file". The edit script is a shortest one
// (Myers' algorithm), so on texts where several shortest scripts exist the
// hunks may pair lines differently from difflib's.
func UnifiedDiff(fromName, toName, before, after string, context int) string {
	a, b := diffLines(before), diffLines(after)
	ops := diffOps(a, b)
	groups := groupOps(ops, len(a), len(b), max(context, 0))
	if len(groups) == 0 {
		return ""
	}
	var sb strings.Builder
	sb.WriteString("--- " + fromName + "\n")
	sb.WriteString("+++ " + toName + "\n")
	for _, g := range groups {
		first, last := g[0], g[len(g)-1]
		sb.WriteString("@@ -" + hunkRange(first.a0, last.a1) + " +" + hunkRange(first.b0, last.b1) + " @@\n")
		for _, op := range g {
			if op.kind == opEqual {
				for _, l := range a[op.a0:op.a1] {
					sb.WriteString(" " + l)
				}
				continue
			}
			for _, l := range a[op.a0:op.a1] {
				sb.WriteString("-" + l)
			}
			for _, l := range b[op.b0:op.b1] {
				sb.WriteString("+" + l)
			}
		}
	}
	return sb.String()
}

// diffLines splits s into lines that keep their "\n". As Ansible does, a
// last line without one gets it, followed by the "No newline" mark, so
// that it differs from the same line with a newline and prints the mark.
func diffLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		return lines[:len(lines)-1]
	}
	lines[len(lines)-1] += "\n" + noNewlineMark
	return lines
}

// hunkRange formats a hunk's line range [lo, hi) as difflib does: 1-based
// "start,length", just "start" for one line, and "start-1,0" for none.
func hunkRange(lo, hi int) string {
	start, n := lo+1, hi-lo
	switch n {
	case 1:
		return strconv.Itoa(start)
	case 0:
		return strconv.Itoa(start-1) + ",0"
	}
	return strconv.Itoa(start) + "," + strconv.Itoa(n)
}

type opKind int

const (
	opEqual  opKind = iota
	opChange        // a[a0:a1] is replaced by b[b0:b1]; either may be empty
)

// diffOp says what happens to the lines a[a0:a1] and b[b0:b1].
type diffOp struct {
	kind           opKind
	a0, a1, b0, b1 int
}

// diffOps returns the runs of equal and changed lines of a shortest edit
// script from a to b, in order, covering both completely.
func diffOps(a, b []string) []diffOp {
	// Lines compare as numbers: each distinct line gets one.
	ids := map[string]int{}
	intern := func(lines []string) []int {
		out := make([]int, len(lines))
		for i, l := range lines {
			id, ok := ids[l]
			if !ok {
				id = len(ids)
				ids[l] = id
			}
			out[i] = id
		}
		return out
	}
	m := &myers{a: intern(a), b: intern(b)}
	m.delA = make([]bool, len(a))
	m.insB = make([]bool, len(b))
	m.compare(0, len(a), 0, len(b))

	// The lines left unmarked in a and in b are the same lines in the same
	// order (a longest common subsequence), so a walk through both pairs
	// them up.
	var ops []diffOp
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		i0, j0 := i, j
		for i < len(a) && j < len(b) && !m.delA[i] && !m.insB[j] {
			i++
			j++
		}
		if i > i0 {
			ops = append(ops, diffOp{opEqual, i0, i, j0, j})
		}
		i0, j0 = i, j
		for i < len(a) && m.delA[i] {
			i++
		}
		for j < len(b) && m.insB[j] {
			j++
		}
		if i > i0 || j > j0 {
			ops = append(ops, diffOp{opChange, i0, i, j0, j})
		}
	}
	return ops
}

// groupOps cuts ops into hunks, as difflib's get_grouped_opcodes does:
// each change keeps up to n equal lines of context on either side, and two
// changes separated by at most 2n equal lines share a hunk. Without any
// change there are no hunks.
func groupOps(ops []diffOp, lenA, lenB, n int) [][]diffOp {
	if len(ops) == 0 {
		return nil
	}
	ops = append([]diffOp(nil), ops...)
	// Leading and trailing equal runs keep only the context next to the
	// change.
	if f := &ops[0]; f.kind == opEqual {
		f.a0, f.b0 = max(f.a0, f.a1-n), max(f.b0, f.b1-n)
	}
	if l := &ops[len(ops)-1]; l.kind == opEqual {
		l.a1, l.b1 = min(l.a1, l.a0+n), min(l.b1, l.b0+n)
	}
	var groups [][]diffOp
	var g []diffOp
	for _, op := range ops {
		if op.kind == opEqual && op.a1-op.a0 > 2*n {
			g = append(g, diffOp{opEqual, op.a0, min(op.a1, op.a0+n), op.b0, min(op.b1, op.b0+n)})
			groups = append(groups, g)
			g = nil
			op.a0, op.b0 = max(op.a0, op.a1-n), max(op.b0, op.b1-n)
		}
		g = append(g, op)
	}
	if len(g) > 0 && !(len(g) == 1 && g[0].kind == opEqual) {
		groups = append(groups, g)
	}
	return groups
}

// myers finds a shortest edit script with the linear-space variant of
// Myers' O(ND) algorithm ("An O(ND) Difference Algorithm and Its
// Variations", 1986, section 4b): find the middle snake of an optimal
// path, then solve the two halves on either side of it.
type myers struct {
	a, b       []int
	delA, insB []bool // the lines deleted from a and inserted into b
	vf, vb     []int  // furthest reaching paths, reused between calls
}

// compare marks the changes between a[aLo:aHi] and b[bLo:bHi].
func (m *myers) compare(aLo, aHi, bLo, bHi int) {
	for aLo < aHi && bLo < bHi && m.a[aLo] == m.b[bLo] {
		aLo++
		bLo++
	}
	for aLo < aHi && bLo < bHi && m.a[aHi-1] == m.b[bHi-1] {
		aHi--
		bHi--
	}
	switch {
	case aLo == aHi:
		for j := bLo; j < bHi; j++ {
			m.insB[j] = true
		}
		return
	case bLo == bHi:
		for i := aLo; i < aHi; i++ {
			m.delA[i] = true
		}
		return
	}
	x, y, ok := m.split(aLo, aHi, bLo, bHi)
	// A split at a corner would recurse forever. It cannot happen; should
	// it, a correct if longer script is still a diff.
	if !ok || (x == aLo && y == bLo) || (x == aHi && y == bHi) {
		for i := aLo; i < aHi; i++ {
			m.delA[i] = true
		}
		for j := bLo; j < bHi; j++ {
			m.insB[j] = true
		}
		return
	}
	m.compare(aLo, x, bLo, y)
	m.compare(x, aHi, y, bHi)
}

// split returns a point (x, y) on a shortest edit path from (aLo, bLo) to
// (aHi, bHi), strictly inside it: the end of the forward half of the
// middle snake. The ranges are non-empty and differ in their first and in
// their last lines, so the path has at least two edits and both halves are
// smaller problems.
func (m *myers) split(aLo, aHi, bLo, bHi int) (x, y int, ok bool) {
	a, b := m.a[aLo:aHi], m.b[bLo:bHi]
	n, mm := len(a), len(b)
	maxD := (n + mm + 1) / 2
	off := maxD + 1
	size := 2*off + 1
	if cap(m.vf) < size {
		m.vf, m.vb = make([]int, size), make([]int, size)
	}
	// vf[off+k] is the furthest x reached on diagonal k = x-y going
	// forward; vb[off+k] the furthest distance from the end reached on
	// diagonal k of the reversed texts. -1 means not reached yet.
	vf, vb := m.vf[:size], m.vb[:size]
	for i := range vf {
		vf[i], vb[i] = -1, -1
	}
	vf[off+1], vb[off+1] = 0, 0
	delta := n - mm
	odd := delta%2 != 0
	// Diagonals whose paths left the grid are not extended again.
	fLo, fHi, bkLo, bkHi := 0, 0, 0, 0
	for d := 0; d < maxD; d++ {
		for k := -d + fLo; k <= d-fHi; k += 2 {
			var x int
			if k == -d || (k != d && vf[off+k-1] < vf[off+k+1]) {
				x = vf[off+k+1] // down: an insertion
			} else {
				x = vf[off+k-1] + 1 // right: a deletion
			}
			y := x - k
			for x < n && y < mm && a[x] == b[y] {
				x++
				y++
			}
			vf[off+k] = x
			switch {
			case x > n:
				fHi += 2
			case y > mm:
				fLo += 2
			case odd:
				// The reversed path on the same diagonal, if it got here,
				// overlaps this one: (x, y) is on a shortest path.
				if kr := off + delta - k; kr >= 0 && kr < size && vb[kr] != -1 && x >= n-vb[kr] {
					return aLo + x, bLo + y, true
				}
			}
		}
		for k := -d + bkLo; k <= d-bkHi; k += 2 {
			var x int
			if k == -d || (k != d && vb[off+k-1] < vb[off+k+1]) {
				x = vb[off+k+1]
			} else {
				x = vb[off+k-1] + 1
			}
			y := x - k
			for x < n && y < mm && a[n-x-1] == b[mm-y-1] {
				x++
				y++
			}
			vb[off+k] = x
			switch {
			case x > n:
				bkHi += 2
			case y > mm:
				bkLo += 2
			case !odd:
				if kf := off + delta - k; kf >= 0 && kf < size && vf[kf] != -1 {
					fx := vf[kf]
					fy := fx - (kf - off)
					if fx >= n-x {
						return aLo + fx, bLo + fy, true
					}
				}
			}
		}
	}
	return 0, 0, false
}
