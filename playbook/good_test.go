package playbook

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestGoodPlaybooks loads every playbook in testdata/good and compares its
// model with the golden NAME.model file beside it.
func TestGoodPlaybooks(t *testing.T) {
	files, err := filepath.Glob("testdata/good/*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no good playbooks: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			pb, err := Load(f)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			golden(t, strings.TrimSuffix(f, ".yml")+".model", dumpPlaybook(pb))
		})
	}
}
