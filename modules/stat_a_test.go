package modules

import (
	"reflect"
	"sort"
	"testing"
)

// statKeys are the keys of Ansible 2.14's stat result for a regular file
// on Linux, captured with
//
//	ansible localhost -c local -m stat -a 'path=/tmp/ans-a/s'
//
// A symlink adds lnk_source and lnk_target and, unfollowed, has no checksum.
var statKeys = []string{"atime", "attr_flags", "attributes", "block_size", "blocks", "charset", "checksum", "ctime", "dev", "device_type", "executable", "exists", "gid", "gr_name", "inode", "isblk", "ischr", "isdir", "isfifo", "isgid", "islnk", "isreg", "issock", "isuid", "mimetype", "mode", "mtime", "nlink", "path", "pw_name", "readable", "rgrp", "roth", "rusr", "size", "uid", "version", "wgrp", "woth", "writeable", "wusr", "xgrp", "xoth", "xusr"}

func TestStatModule(t *testing.T) {
	f := newAConn(t)
	aSh(t, f, "echo hello > s && chmod 0640 s && ln -s s l && ln -s nowhere broken && mkdir d && chmod 2755 d")
	uid := aSh(t, f, "id -u")
	tests := []struct {
		name   string
		args   map[string]any
		want   map[string]any // a subset of the stat dict
		keys   []string       // all of its keys, when given
		absent []string       // keys it must not have
	}{
		// Values captured from Ansible for the same file: checksum,
		// mimetype and charset of "hello\n".
		{name: "file", args: map[string]any{"path": "s"}, keys: statKeys,
			want: map[string]any{"exists": true, "path": "s", "mode": "0640", "isreg": true, "islnk": false, "size": int64(6),
				"checksum": "f572d396fae9206628714fb2ce00f72e94f2258f", "mimetype": "text/plain", "charset": "us-ascii",
				"readable": true, "writeable": true, "executable": false, "rusr": true, "wgrp": false, "rgrp": true, "roth": false,
				"nlink": int64(1), "uid": aInt(uid)}},
		{name: "sha256 and ~", args: map[string]any{"path": "~/s", "checksum_algorithm": "sha256"},
			want: map[string]any{"path": f.dir + "/s", "checksum": "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"}},
		{name: "link", args: map[string]any{"path": "l"},
			want:   map[string]any{"islnk": true, "isreg": false, "mode": "0777", "lnk_target": "s", "lnk_source": f.dir + "/s", "mimetype": "inode/symlink", "charset": "binary"},
			absent: []string{"checksum"}},
		{name: "followed link", args: map[string]any{"path": "l", "follow": true},
			want:   map[string]any{"islnk": false, "isreg": true, "mode": "0640", "checksum": "f572d396fae9206628714fb2ce00f72e94f2258f"},
			absent: []string{"lnk_source", "lnk_target"}},
		{name: "broken link", args: map[string]any{"path": "broken"},
			want: map[string]any{"islnk": true, "exists": true, "readable": false, "lnk_target": "nowhere"}},
		{name: "broken link followed", args: map[string]any{"path": "broken", "follow": true},
			keys: []string{"exists"}, want: map[string]any{"exists": false}},
		{name: "directory", args: map[string]any{"path": "d", "get_checksum": false, "get_mime": false, "get_attributes": false},
			want:   map[string]any{"isdir": true, "mode": "2755", "isgid": true, "executable": true},
			absent: []string{"checksum", "mimetype", "version"}},
		{name: "absent", args: map[string]any{"path": "nope"}, keys: []string{"exists"}, want: map[string]any{"exists": false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := aRun(t, f, "stat", tt.args)
			if r.Changed || r.Failed || r.Skipped {
				t.Fatalf("result %+v, want ok", r)
			}
			st, _ := r.Fields["stat"].(map[string]any)
			if tt.keys != nil {
				var got []string
				for k := range st {
					got = append(got, k)
				}
				sort.Strings(got)
				if !reflect.DeepEqual(got, tt.keys) {
					t.Errorf("keys %v, want %v", got, tt.keys)
				}
			}
			for k, v := range tt.want {
				if !reflect.DeepEqual(st[k], v) {
					t.Errorf("%s = %#v, want %#v", k, st[k], v)
				}
			}
			for _, k := range tt.absent {
				if _, ok := st[k]; ok {
					t.Errorf("has %s = %v, want none", k, st[k])
				}
			}
		})
	}
	r := aRun(t, f, "stat", map[string]any{"path": "s", "checksum_algorithm": "crc"})
	if want := "value of checksum_algorithm must be one of: md5, sha1, sha224, sha256, sha384, sha512, got: crc"; !r.Failed || r.Msg != want {
		t.Errorf("bad algorithm: %+v, want failed %q", r, want)
	}
	r = aRun(t, f, "stat", map[string]any{})
	if !r.Failed || r.Msg != "missing required arguments: path" {
		t.Errorf("no path: %+v", r)
	}
}

func aInt(s string) int64 {
	var n int64
	for _, c := range s {
		n = n*10 + int64(c-'0')
	}
	return n
}
