package modules

import (
	"context"
	"fmt"
	"strings"
)

func init() { register("stat", runStat) }

var statOpts = []optSpec{
	{name: "path", kind: optPath, required: true, aliases: []string{"dest", "name"}},
	{name: "follow", kind: optBool, def: false},
	{name: "get_checksum", kind: optBool, def: true},
	{name: "get_md5", kind: optBool, def: false},
	{name: "get_mime", kind: optBool, def: true, aliases: []string{"mime", "mime_type", "mime-type"}},
	{name: "get_attributes", kind: optBool, def: true, aliases: []string{"attr", "attributes"}},
	{name: "checksum_algorithm", kind: optStr, def: "sha1", aliases: []string{"checksum", "checksum_algo"},
		choices: []string{"md5", "sha1", "sha224", "sha256", "sha384", "sha512"}},
}

// fileAttributes names lsattr's flags as Ansible's FILE_ATTRIBUTES does.
var fileAttributes = map[byte]string{
	'A': "noatime", 'a': "append", 'c': "compressed", 'C': "nocow", 'd': "nodump",
	'D': "dirsync", 'e': "extents", 'E': "encrypted", 'h': "blocksize", 'i': "immutable",
	'I': "indexed", 'j': "journalled", 'N': "inline", 's': "zero", 'S': "synchronous",
	't': "notail", 'T': "blockroot", 'u': "undelete", 'X': "compressedraw", 'Z': "compresseddirty",
}

// runStat reports on a path as Ansible's stat module does, from one
// remote script: GNU stat, test -r/-w/-x, readlink, the coreutils
// checksum tools, and file(1) and lsattr(1) when the host has them.
func runStat(ctx context.Context, c *Call) (Result, error) {
	o, msg := readOpts(c.Module, c.Args, statOpts)
	if msg != "" {
		return failedResult(msg, nil), nil
	}
	follow := ""
	if o.boolean("follow") {
		follow = "-L"
	}
	var sh shScript
	sh.b.WriteString(shellStatFuncs)
	w := sh.pyWord(o.str("path"), false)
	sh.line("p=%s; fleet_rec path \"$p\"; fleet_st st \"$p\" %s", w, follow)
	sh.line(`if [ -e "$p" ] || [ -L "$p" ]; then`)
	sh.line(`  [ -r "$p" ] && fleet_rec r 1; [ -w "$p" ] && fleet_rec w 1; [ -x "$p" ] && fleet_rec x 1`)
	if follow == "" {
		sh.line(`  if [ -L "$p" ]; then fleet_rec lt "$(readlink -- "$p")"; fleet_rec ls "$(realpath -m -- "$p")"; fi`)
	}
	if o.boolean("get_checksum") {
		sh.line(`  if [ -f "$p" ] && [ -r "$p" ] && { [ ! -L "$p" ] || [ -n %s ]; }; then fleet_rec sum "$(%ssum < "$p")"; fi`, shq(follow), o.str("checksum_algorithm"))
	}
	if o.boolean("get_md5") {
		sh.line(`  if [ -f "$p" ] && [ -r "$p" ] && { [ ! -L "$p" ] || [ -n %s ]; }; then fleet_rec md5 "$(md5sum < "$p")"; fi`, shq(follow))
	}
	if o.boolean("get_mime") {
		sh.line(`  if command -v file >/dev/null 2>&1; then fleet_rec mime "$(file -b --mime-type --mime-encoding -- "$p" 2>/dev/null)"; fi`)
	}
	if o.boolean("get_attributes") {
		sh.line(`  if command -v lsattr >/dev/null 2>&1; then fleet_rec attr "$(lsattr -vd -- "$p" 2>/dev/null)"; fi`)
	}
	sh.line("fi")
	out, err := exec(ctx, c, sh.String(), nil)
	if err != nil {
		return Result{}, err
	}
	if m := sudoFailed(c, out); m != "" {
		return failedResult(m, nil), nil
	}
	recs := parseShellRecords(out.Stdout)
	stv, _ := recs.get("st")
	st, ok := parseRemoteStat(stv)
	if !ok {
		return failedResult(fmt.Sprintf("could not stat %s on the host: %s", o.str("path"), strings.TrimSpace(outputText(out.Stderr))), nil), nil
	}
	if !st.exists {
		return Result{Fields: map[string]any{"stat": map[string]any{"exists": false}}}, nil
	}
	path, _ := recs.get("path")
	s := statFields(path, st)
	_, s["readable"] = recs.get("r")
	_, s["writeable"] = recs.get("w")
	_, s["executable"] = recs.get("x")
	if st.isLink() {
		s["lnk_target"], _ = recs.get("lt")
		s["lnk_source"], _ = recs.get("ls")
	}
	if st.owner != "" {
		s["pw_name"] = st.owner
	}
	if st.group != "" {
		s["gr_name"] = st.group
	}
	if v, ok := recs.get("sum"); ok {
		s["checksum"], _, _ = strings.Cut(v, " ")
	}
	if v, ok := recs.get("md5"); ok {
		s["md5"], _, _ = strings.Cut(v, " ")
	}
	if o.boolean("get_mime") {
		s["mimetype"], s["charset"] = "unknown", "unknown"
		if v, ok := recs.get("mime"); ok {
			if typ, cs, ok := strings.Cut(v, ";"); ok {
				if _, val, ok := strings.Cut(cs, "="); ok {
					s["mimetype"], s["charset"] = strings.TrimSpace(typ), strings.TrimSpace(val)
				}
			}
		}
	}
	if o.boolean("get_attributes") {
		s["version"], s["attributes"], s["attr_flags"] = nil, []any{}, ""
		if v, ok := recs.get("attr"); ok {
			if f := strings.Fields(v); len(f) >= 2 {
				flags := strings.ReplaceAll(f[1], "-", "")
				names := []any{}
				for i := 0; i < len(flags); i++ {
					if n, ok := fileAttributes[flags[i]]; ok {
						names = append(names, n)
					}
				}
				s["version"], s["attr_flags"], s["attributes"] = f[0], flags, names
			}
		}
	}
	return Result{Fields: map[string]any{"stat": s}}, nil
}

// statFields is the part of the stat module's result that comes from
// stat(2) alone (format_output).
func statFields(path string, st remoteStat) map[string]any {
	m := st.mode
	ft := m & sIFMT
	return map[string]any{
		"exists": true,
		"path":   path,
		"mode":   fmt.Sprintf("%04o", m&permAll),
		"isdir":  ft == sIFDIR, "ischr": ft == sIFCHR, "isblk": ft == sIFBLK,
		"isreg": ft == sIFREG, "isfifo": ft == sIFIFO, "islnk": ft == sIFLNK, "issock": ft == sIFSOCK,
		"uid": st.uid, "gid": st.gid, "size": st.size,
		"inode": st.inode, "dev": st.dev, "nlink": st.nlink,
		"atime": st.atime, "mtime": st.mtime, "ctime": st.ctime,
		"wusr": m&0o200 != 0, "rusr": m&0o400 != 0, "xusr": m&0o100 != 0,
		"wgrp": m&0o020 != 0, "rgrp": m&0o040 != 0, "xgrp": m&0o010 != 0,
		"woth": m&0o002 != 0, "roth": m&0o004 != 0, "xoth": m&0o001 != 0,
		"isuid": m&0o4000 != 0, "isgid": m&0o2000 != 0,
		"blocks": st.blocks, "block_size": st.blockSize,
		"device_type": linuxMakedev(st.rdevMajor, st.rdevMin),
	}
}

// linuxMakedev combines a device's major and minor numbers as glibc's
// makedev does, which is what Python's st_rdev holds.
func linuxMakedev(major, minor int64) int64 {
	return (major&0xfffff000)<<32 | (major&0xfff)<<8 | (minor&0xffffff00)<<12 | minor&0xff
}
