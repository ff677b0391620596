package playbook

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"fleetrun.dev/fleet/diag"
)

// FuzzLoad feeds arbitrary bytes to Load as a playbook file: whatever the
// input, Load must return a playbook or a *diag.Error, never panic or
// hang. Seeds are the playbooks and task files in testdata.
func FuzzLoad(f *testing.F) {
	err := filepath.WalkDir("testdata", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".yml" {
			return err
		}
		data, err := os.ReadFile(path)
		if err == nil {
			f.Add(data)
		}
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`[{"hosts": "all", "tasks": [{"command": "ls", "loop": [1]}]}]`))
	f.Add([]byte("- hosts: all\n  tasks:\n    - include_tasks: play.yml\n    - import_tasks: play.yml\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "play.yml")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		pb, err := Load(path)
		if err != nil {
			var de *diag.Error
			if !errors.As(err, &de) {
				t.Fatalf("Load returned %T %v, want a *diag.Error", err, err)
			}
			if de.File == "" {
				t.Fatalf("error names no file: %v", err)
			}
			return
		}
		if pb == nil || len(pb.Plays) == 0 {
			t.Fatalf("Load returned no error and no plays")
		}
		for _, pl := range pb.Plays {
			for _, tk := range pl.Tasks {
				_ = tk.DisplayName()
			}
		}
	})
}
