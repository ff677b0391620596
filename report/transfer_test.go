package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

func TestHumanBytes(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"},
		{1, "1 B"},
		{512, "512 B"},
		{1023, "1023 B"},
		{1024, "1.0 KiB"},
		{1536, "1.5 KiB"},
		{10*1024 + 1023, "11.0 KiB"},
		{1<<20 - 1, "1.0 MiB"}, // 1023.999 KiB must not print as "1024.0 KiB"
		{1<<20 - 52, "1023.9 KiB"},
		{64 << 20, "64.0 MiB"},
		{1288490189, "1.2 GiB"},
		{5 << 40, "5.0 TiB"},
		{3 << 50, "3.0 PiB"},
		{math.MaxInt64, "8.0 EiB"},
		{-1536, "-1.5 KiB"},
		{math.MinInt64, "-9223372036854775808 B"},
	}
	for _, tt := range tests {
		if got := HumanBytes(tt.n); got != tt.want {
			t.Errorf("HumanBytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

// transferEvents sends a small push to s: web01 creates, updates and
// deletes files and fails one, web02 changes nothing, db1 stops with an
// error, db2 is unreachable.
func transferEvents(s Sink, dryRun bool) {
	fs := s.(FileSink)
	file := func(host, path string, a Action, n int64, err error, ms int) {
		fs.File(FileResult{Host: host, Path: path, Action: a, Bytes: n, DryRun: dryRun, Err: err, Time: at(ms)})
	}
	file("web01", "/srv/app/a.txt", Created, 1229, nil, 1)
	file("web01", "/srv/app/dir", Created, 0, nil, 2)
	file("web01", "/srv/b", Updated, 3, nil, 3)
	file("web01", "/srv/c", Metadata, 0, nil, 4)
	file("web01", "/srv/old", Deleted, 0, nil, 5)
	file("web01", "/srv/d", Unchanged, 0, nil, 6)
	file("web01", "/srv/app/x.conf", FileFailed, 0, errors.New("permission denied"), 7)
	file("web02", "/srv/d", Unchanged, 0, nil, 8)
	s.Host(HostResult{Host: "web01", Status: Failed, Start: at(0), End: at(10),
		Transfer: &TransferStats{Changed: 3, Unchanged: 297, Deleted: 1, Failed: 1, Bytes: 1258291, DryRun: dryRun}})
	s.Host(HostResult{Host: "web02", Status: OK, Start: at(0), End: at(9),
		Transfer: &TransferStats{Unchanged: 300, DryRun: dryRun}})
	s.Host(HostResult{Host: "db1", Status: Failed, Err: errors.New("sftp: connection lost"), Start: at(0), End: at(20),
		Transfer: &TransferStats{Changed: 2, Bytes: 100, DryRun: dryRun}})
	s.Host(HostResult{Host: "db2", Status: Unreachable, Err: errors.New("dial tcp 10.0.0.2:22: connect: connection refused"), Start: at(0), End: at(3),
		Transfer: &TransferStats{DryRun: dryRun}})
}

func TestLiveTransfer(t *testing.T) {
	tests := []struct {
		name   string
		opt    LiveOptions
		dryRun bool
		want   string
	}{
		{"failures and summaries", LiveOptions{}, false, `
web01 ! failed /srv/app/x.conf: permission denied
web01 | 3 changed, 297 unchanged, 1 deleted, 1.2 MiB sent, 1 failed
web02 | 0 changed, 300 unchanged, 0 B sent
db1   ! sftp: connection lost
db1   | 2 changed, 0 unchanged, 100 B sent
db2   ! unreachable: dial tcp 10.0.0.2:22: connect: connection refused
`},
		{"every file", LiveOptions{Files: true}, false, `
web01 | created /srv/app/a.txt (1.2 KiB)
web01 | created /srv/app/dir
web01 | updated /srv/b (3 B)
web01 | metadata /srv/c
web01 | deleted /srv/old
web01 | unchanged /srv/d
web01 ! failed /srv/app/x.conf: permission denied
web02 | unchanged /srv/d
web01 | 3 changed, 297 unchanged, 1 deleted, 1.2 MiB sent, 1 failed
web02 | 0 changed, 300 unchanged, 0 B sent
db1   ! sftp: connection lost
db1   | 2 changed, 0 unchanged, 100 B sent
db2   ! unreachable: dial tcp 10.0.0.2:22: connect: connection refused
`},
		{"dry run", LiveOptions{Files: true}, true, `
web01 | would create /srv/app/a.txt (1.2 KiB)
web01 | would create /srv/app/dir
web01 | would update /srv/b (3 B)
web01 | would change metadata of /srv/c
web01 | would delete /srv/old
web01 | unchanged /srv/d
web01 ! failed /srv/app/x.conf: permission denied
web02 | unchanged /srv/d
web01 | would change 3, 297 unchanged, would delete 1, 1 failed (1.2 MiB to send)
web02 | would change 0, 300 unchanged (0 B to send)
db1   ! sftp: connection lost
db1   | would change 2, 0 unchanged (100 B to send)
db2   ! unreachable: dial tcp 10.0.0.2:22: connect: connection refused
`},
		{"color", LiveOptions{Color: true}, false, `
` + ansiRed + `web01 ! failed /srv/app/x.conf: permission denied` + ansiReset + `
` + hostColor("web01") + `web01` + ansiReset + ` | 3 changed, 297 unchanged, 1 deleted, 1.2 MiB sent, 1 failed
` + hostColor("web02") + `web02` + ansiReset + ` | 0 changed, 300 unchanged, 0 B sent
` + ansiRed + `db1   ! sftp: connection lost` + ansiReset + `
` + hostColor("db1") + `db1` + ansiReset + `   | 2 changed, 0 unchanged, 100 B sent
` + ansiRed + `db2   ! unreachable: dial tcp 10.0.0.2:22: connect: connection refused` + ansiReset + `
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			s := NewLive(&b, runHosts, tt.opt)
			transferEvents(s, tt.dryRun)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if want := strings.TrimPrefix(tt.want, "\n"); b.String() != want {
				t.Errorf("output:\n%s\nwant:\n%s", b.String(), want)
			}
		})
	}
}

func TestLiveFileEdgeCases(t *testing.T) {
	tests := []struct {
		name string
		r    FileResult
		want string
	}{
		{"failure without error", FileResult{Host: "a", Path: "/x", Action: FileFailed}, "a ! failed /x\n"},
		{"dry-run failure", FileResult{Host: "a", Path: "/x", Action: FileFailed, DryRun: true, Err: errors.New("no such directory")}, "a ! failed /x: no such directory\n"},
		{"empty file created", FileResult{Host: "a", Path: "/x", Action: Created}, "a | created /x\n"},
		{"dry-run unchanged", FileResult{Host: "a", Path: "/x", Action: Unchanged, DryRun: true}, "a | unchanged /x\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			s := NewLive(&b, []string{"a"}, LiveOptions{Files: true})
			s.File(tt.r)
			if b.String() != tt.want {
				t.Errorf("File(%+v) printed %q, want %q", tt.r, b.String(), tt.want)
			}
		})
	}
}

func TestLiveTransferShowStep(t *testing.T) {
	var b bytes.Buffer
	s := NewLive(&b, []string{"web01"}, LiveOptions{ShowStep: true, Files: true})
	s.File(FileResult{Host: "web01", Path: "/srv/a", Action: Deleted})
	s.Host(HostResult{Host: "web01", Status: OK, Transfer: &TransferStats{Deleted: 1}})
	want := "web01 [-] | deleted /srv/a\nweb01 [-] | 0 changed, 0 unchanged, 1 deleted, 0 B sent\n"
	if b.String() != want {
		t.Errorf("output %q, want %q", b.String(), want)
	}
}

func TestJSONTransfer(t *testing.T) {
	var b bytes.Buffer
	s := NewJSON(&b)
	transferEvents(s, false)
	s.File(FileResult{Host: "web02", Path: "/srv/caf\xe9", Action: Updated, Bytes: 5, DryRun: true, Time: at(30)})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	want := strings.TrimPrefix(`
{"type":"file","host":"web01","path":"/srv/app/a.txt","action":"created","bytes":1229,"dry_run":false,"error":"","time":"2024-05-01T10:00:00.001Z"}
{"type":"file","host":"web01","path":"/srv/app/dir","action":"created","bytes":0,"dry_run":false,"error":"","time":"2024-05-01T10:00:00.002Z"}
{"type":"file","host":"web01","path":"/srv/b","action":"updated","bytes":3,"dry_run":false,"error":"","time":"2024-05-01T10:00:00.003Z"}
{"type":"file","host":"web01","path":"/srv/c","action":"metadata","bytes":0,"dry_run":false,"error":"","time":"2024-05-01T10:00:00.004Z"}
{"type":"file","host":"web01","path":"/srv/old","action":"deleted","bytes":0,"dry_run":false,"error":"","time":"2024-05-01T10:00:00.005Z"}
{"type":"file","host":"web01","path":"/srv/d","action":"unchanged","bytes":0,"dry_run":false,"error":"","time":"2024-05-01T10:00:00.006Z"}
{"type":"file","host":"web01","path":"/srv/app/x.conf","action":"failed","bytes":0,"dry_run":false,"error":"permission denied","time":"2024-05-01T10:00:00.007Z"}
{"type":"file","host":"web02","path":"/srv/d","action":"unchanged","bytes":0,"dry_run":false,"error":"","time":"2024-05-01T10:00:00.008Z"}
{"type":"host","host":"web01","status":"failed","error":"","steps":0,"start":"2024-05-01T10:00:00Z","end":"2024-05-01T10:00:00.01Z","duration_ms":10,"transfer":{"changed":3,"unchanged":297,"deleted":1,"failed":1,"bytes":1258291,"dry_run":false}}
{"type":"host","host":"web02","status":"ok","error":"","steps":0,"start":"2024-05-01T10:00:00Z","end":"2024-05-01T10:00:00.009Z","duration_ms":9,"transfer":{"changed":0,"unchanged":300,"deleted":0,"failed":0,"bytes":0,"dry_run":false}}
{"type":"host","host":"db1","status":"failed","error":"sftp: connection lost","steps":0,"start":"2024-05-01T10:00:00Z","end":"2024-05-01T10:00:00.02Z","duration_ms":20,"transfer":{"changed":2,"unchanged":0,"deleted":0,"failed":0,"bytes":100,"dry_run":false}}
{"type":"host","host":"db2","status":"unreachable","error":"dial tcp 10.0.0.2:22: connect: connection refused","steps":0,"start":"2024-05-01T10:00:00Z","end":"2024-05-01T10:00:00.003Z","duration_ms":3,"transfer":{"changed":0,"unchanged":0,"deleted":0,"failed":0,"bytes":0,"dry_run":false}}
{"type":"file","host":"web02","path":"/srv/caf\ufffd","path_base64":"L3Nydi9jYWbp","action":"updated","bytes":5,"dry_run":true,"error":"","time":"2024-05-01T10:00:00.03Z"}
{"type":"summary","ok":["web02"],"failed":["db1","web01"],"unreachable":["db2"]}
`, "\n")
	if b.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", b.String(), want)
	}

	// A dry run says so in the host's transfer object, and path_base64
	// gives back the exact bytes of the path.
	b.Reset()
	s = NewJSON(&b)
	s.Host(HostResult{Host: "a", Transfer: &TransferStats{Changed: 1, DryRun: true}})
	lines := strings.Split(b.String(), "\n")
	var host struct{ Transfer map[string]any }
	if err := json.Unmarshal([]byte(lines[0]), &host); err != nil || host.Transfer["dry_run"] != true || host.Transfer["changed"] != 1.0 {
		t.Errorf("host object %s (%v): want a transfer with changed 1 and dry_run true", lines[0], err)
	}
}

// fileRecorder is a recorder that also keeps the paths it was given.
type fileRecorder struct {
	recorder
	files []string
}

func (r *fileRecorder) File(f FileResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.files = append(r.files, f.Host+" "+string(f.Action)+" "+f.Path)
}

func TestMultiFile(t *testing.T) {
	a, b := &fileRecorder{}, &fileRecorder{}
	plain := &recorder{} // no File method: skipped, not a panic
	m := Multi(a, nil, plain, Multi(b, nil))
	fs, ok := m.(FileSink)
	if !ok {
		t.Fatalf("Multi(...) is a %T, which does not implement FileSink", m)
	}
	fs.File(FileResult{Host: "web1", Path: "/srv/a", Action: Created})
	m.Host(HostResult{Host: "web1", Status: OK, Transfer: &TransferStats{Changed: 1}})
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	for i, r := range []*fileRecorder{a, b} {
		if got := fmt.Sprint(r.files); got != "[web1 created /srv/a]" {
			t.Errorf("sink %d got files %s, want [web1 created /srv/a]", i, got)
		}
		if got := fmt.Sprint(r.events); got != "[host web1 ok]" || r.closed != 1 {
			t.Errorf("sink %d got events %s, closed %d times; want [host web1 ok], closed once", i, got, r.closed)
		}
	}
	if len(plain.events) != 1 || plain.closed != 1 {
		t.Errorf("sink without File got %q, closed %d times; want the host event, closed once", plain.events, plain.closed)
	}
}

// TestTransferInOtherSinks checks what the grouped sink makes of a
// transfer (failed paths and the summary as each host's output) and that
// the summary sink, which knows nothing of files, reports its hosts.
func TestTransferInOtherSinks(t *testing.T) {
	var grouped, summary bytes.Buffer
	s := Multi(NewGrouped(&grouped, GroupedOptions{}), NewSummary(&summary, SummaryOptions{}))
	transferEvents(s, false)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wantGrouped := strings.TrimPrefix(`
---------------
db1 (1) sftp: connection lost
---------------
2 changed, 0 unchanged, 100 B sent
---------------
db2 (1) unreachable
---------------
(no output)
---------------
web01 (1) failed
---------------
failed /srv/app/x.conf: permission denied
3 changed, 297 unchanged, 1 deleted, 1.2 MiB sent, 1 failed
---------------
web02 (1)
---------------
0 changed, 300 unchanged, 0 B sent
`, "\n")
	if grouped.String() != wantGrouped {
		t.Errorf("grouped output:\n%s\nwant:\n%s", grouped.String(), wantGrouped)
	}
	wantSummary := strings.TrimPrefix(`
ok: 1  failed: 2  unreachable: 1  (4 hosts, 20ms)
failed: db1 web01 (2)
unreachable: db2
  db2: dial tcp 10.0.0.2:22: connect: connection refused
`, "\n")
	if summary.String() != wantSummary {
		t.Errorf("summary output:\n%s\nwant:\n%s", summary.String(), wantSummary)
	}
}

// TestGroupedTransferFolds checks that hosts whose transfers came out the
// same share one group, as 500 unchanged hosts should.
func TestGroupedTransferFolds(t *testing.T) {
	var out bytes.Buffer
	s := NewGrouped(&out, GroupedOptions{})
	for _, h := range []string{"web03", "web01", "web02"} {
		s.Host(HostResult{Host: h, Status: OK, Transfer: &TransferStats{Unchanged: 300}})
	}
	s.File(FileResult{Host: "web04", Path: "/srv/a", Action: Created, Bytes: 5})
	s.Host(HostResult{Host: "web04", Status: OK, Transfer: &TransferStats{Changed: 1, Unchanged: 299, Bytes: 5}})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	want := strings.TrimPrefix(`
---------------
web[01-03] (3)
---------------
0 changed, 300 unchanged, 0 B sent
---------------
web04 (1)
---------------
1 changed, 299 unchanged, 5 B sent
`, "\n")
	if out.String() != want {
		t.Errorf("grouped output:\n%s\nwant:\n%s", out.String(), want)
	}
}
