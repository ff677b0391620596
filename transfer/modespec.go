package transfer

import (
	"fmt"
	"io/fs"
	"strings"
)

// ModeSpec is a parsed --chmod value, applied to files and directories being pushed.
//
// It accepts what rsync's --chmod accepts: a comma-separated list of items,
// each optionally prefixed by D (directories only) or F (files only), and
// each either an octal mode such as 644 or 2775, or a symbolic clause as
// chmod(1) takes it, such as u+rwX,go-w. Items apply in order. The umask
// plays no part: a clause without who letters (u, g, o, a) applies to all.
//
// The zero ModeSpec changes nothing.
type ModeSpec struct {
	spec  string
	items []modeItem
}

// modeItem is one comma-separated item of a --chmod value.
type modeItem struct {
	only  modeTarget
	steps []modeStep
}

type modeTarget uint8

const (
	forAll modeTarget = iota
	forDirs
	forFiles
)

// modeStep is one operator of a clause with the bits it names, already
// limited to the who letters: "go-w" is a single step {'-', 07077, 0022}.
type modeStep struct {
	op   byte   // '+', '-' or '='
	who  uint32 // the bits '=' clears: 07777 masked by the who letters
	bits uint32 // the bits to add, remove or set
	// condX marks execute bits that come from X: they count only for a
	// directory or for a mode that already has some execute bit.
	condX uint32
}

// Unix permission bits as chmod(2) takes them; fs.FileMode keeps the
// special bits elsewhere, so Apply converts on the way in and out.
const (
	unixSetuid = 04000
	unixSetgid = 02000
	unixSticky = 01000
	unixAll    = 07777
)

// whoBits gives the bits each who letter may touch, as GNU chmod does:
// the user's rwx and setuid, the group's rwx and setgid, others' rwx and
// sticky. So u+s sets only setuid, o+t sets sticky and u+t does nothing.
var whoBits = map[byte]uint32{
	'u': unixSetuid | 0700,
	'g': unixSetgid | 0070,
	'o': unixSticky | 0007,
	'a': unixAll,
}

// permBits gives the bits each permission letter names for all classes,
// before the who letters narrow them.
var permBits = map[byte]uint32{
	'r': 0444,
	'w': 0222,
	'x': 0111,
	'X': 0111,
	's': unixSetuid | unixSetgid,
	't': unixSticky,
}

// ParseChmod parses a --chmod value such as "Dg+s,ug+w,Fo-w,+X" or
// "D2775,F664". It fails on an empty value and on any item that is neither
// an octal mode of up to four digits nor a chmod clause, naming the item.
func ParseChmod(spec string) (ModeSpec, error) {
	if spec == "" {
		return ModeSpec{}, fmt.Errorf(`--chmod "": empty; give octal modes or chmod clauses such as D755,F644 or u+rwX,go-w`)
	}
	m := ModeSpec{spec: spec}
	for _, item := range strings.Split(spec, ",") {
		if item == "" {
			return ModeSpec{}, fmt.Errorf("--chmod %q: empty item; remove the extra comma", spec)
		}
		it, err := parseModeItem(item)
		if err != nil {
			return ModeSpec{}, fmt.Errorf("--chmod %q: %w", item, err)
		}
		m.items = append(m.items, it)
	}
	return m, nil
}

func parseModeItem(item string) (modeItem, error) {
	var it modeItem
	body := item
	switch body[0] {
	case 'D':
		it.only, body = forDirs, body[1:]
	case 'F':
		it.only, body = forFiles, body[1:]
	}
	if body == "" {
		return modeItem{}, fmt.Errorf("%q must be followed by an octal mode or a chmod clause, as in D755 or Fu+rw", item)
	}
	var ok bool
	if body[0] >= '0' && body[0] <= '9' {
		it.steps, ok = parseOctal(body)
	} else {
		it.steps, ok = parseClause(body)
	}
	if !ok {
		return modeItem{}, fmt.Errorf("%q is not an octal mode or a chmod clause like u+rwX,go-w", body)
	}
	return it, nil
}

// parseOctal parses an octal mode of one to four digits, which sets the
// whole mode, special bits included, as rsync and chmod(1) do.
func parseOctal(s string) ([]modeStep, bool) {
	if len(s) > 4 {
		return nil, false
	}
	var v uint32
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '7' {
			return nil, false
		}
		v = v<<3 | uint32(c-'0')
	}
	return []modeStep{{op: '=', who: unixAll, bits: v}}, true
}

// parseClause parses [ugoa]*([-+=][rwxXst]*)+.
func parseClause(s string) ([]modeStep, bool) {
	var who uint32
	i := 0
	for ; i < len(s); i++ {
		w, ok := whoBits[s[i]]
		if !ok {
			break
		}
		who |= w
	}
	if who == 0 {
		who = unixAll
	}
	var steps []modeStep
	for i < len(s) {
		op := s[i]
		if op != '+' && op != '-' && op != '=' {
			return nil, false
		}
		st := modeStep{op: op, who: who}
		for i++; i < len(s); i++ {
			p, ok := permBits[s[i]]
			if !ok {
				break
			}
			if s[i] == 'X' {
				st.condX |= p & who
			} else {
				st.bits |= p & who
			}
		}
		steps = append(steps, st)
	}
	return steps, len(steps) > 0
}

// IsZero reports whether m is the zero ModeSpec, which changes nothing.
func (m ModeSpec) IsZero() bool { return len(m.items) == 0 }

// String returns the --chmod value m was parsed from.
func (m ModeSpec) String() string { return m.spec }

// Apply returns the permission bits to set on a file (isDir false) or
// directory (isDir true) whose current mode is mode: the fs.ModePerm bits
// plus fs.ModeSetuid, fs.ModeSetgid and fs.ModeSticky. Type bits in mode
// are ignored and not returned.
func (m ModeSpec) Apply(mode fs.FileMode, isDir bool) fs.FileMode {
	u := toUnix(mode)
	for _, it := range m.items {
		if it.only == forDirs && !isDir || it.only == forFiles && isDir {
			continue
		}
		for _, st := range it.steps {
			bits := st.bits
			// X looks at the mode as the earlier steps left it, as chmod(1) does.
			if st.condX != 0 && (isDir || u&0111 != 0) {
				bits |= st.condX
			}
			switch st.op {
			case '+':
				u |= bits
			case '-':
				u &^= bits
			case '=':
				u = u&^st.who | bits
			}
		}
	}
	return fromUnix(u)
}

func toUnix(mode fs.FileMode) uint32 {
	u := uint32(mode.Perm())
	if mode&fs.ModeSetuid != 0 {
		u |= unixSetuid
	}
	if mode&fs.ModeSetgid != 0 {
		u |= unixSetgid
	}
	if mode&fs.ModeSticky != 0 {
		u |= unixSticky
	}
	return u
}

func fromUnix(u uint32) fs.FileMode {
	mode := fs.FileMode(u & 0777)
	if u&unixSetuid != 0 {
		mode |= fs.ModeSetuid
	}
	if u&unixSetgid != 0 {
		mode |= fs.ModeSetgid
	}
	if u&unixSticky != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}
