package vars

import (
	"fmt"
	"math/big"
	"time"
)

// Unsafe is a string marked `!unsafe`: Ansible never templates it. It
// prints in JSON as {"__ansible_unsafe": "..."}, as ansible-inventory does.
type Unsafe string

// Vault is a value encrypted with ansible-vault (`!vault |`). fleet keeps
// the ciphertext and never decrypts it; in JSON it prints as
// {"__ansible_vault": "..."}, as ansible-inventory does.
type Vault struct{ Ciphertext string }

// Date is a YAML timestamp without a time of day (`2024-05-01`), which
// PyYAML turns into a Python date.
type Date struct{ Year, Month, Day int }

// ISO returns the date as Python's date.isoformat does.
func (d Date) ISO() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

func (d Date) String() string { return d.ISO() }

// DateTime is a YAML timestamp with a time of day, which PyYAML turns into
// a Python datetime; HasZone is false for a naive one.
type DateTime struct {
	Time    time.Time
	HasZone bool
}

// ISO returns the time as Python's datetime.isoformat does.
func (t DateTime) ISO() string { return t.format("T") }

// String returns the time as Python's str(datetime) does.
func (t DateTime) String() string { return t.format(" ") }

func (t DateTime) format(sep string) string {
	s := t.Time.Format("2006-01-02") + sep + t.Time.Format("15:04:05")
	if us := t.Time.Nanosecond() / 1000; us != 0 {
		s += fmt.Sprintf(".%06d", us)
	}
	if t.HasZone {
		_, off := t.Time.Zone()
		sign := '+'
		if off < 0 {
			sign, off = '-', -off
		}
		s += fmt.Sprintf("%c%02d:%02d", sign, off/3600, off/60%60)
		if off%60 != 0 {
			s += fmt.Sprintf(":%02d", off%60)
		}
	}
	return s
}

// IsInt reports whether v is an integer value (int64 or *big.Int); Python
// treats bool separately here, as JSON does.
func IsInt(v any) bool {
	switch v.(type) {
	case int64, *big.Int:
		return true
	}
	return false
}

// AsInt64 returns v as an int64 if it is an integer that fits.
func AsInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case *big.Int:
		if n.IsInt64() {
			return n.Int64(), true
		}
	}
	return 0, false
}

// NormInt returns b as an int64 when it fits, else b itself, so that
// small integers have one representation.
func NormInt(b *big.Int) any {
	if b.IsInt64() {
		return b.Int64()
	}
	return b
}
