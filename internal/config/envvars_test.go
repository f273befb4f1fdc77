package config

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestEnvVarsComplete reads the source of the api's and worker's packages and
// fails if a variable they read is missing from EnvVars, so --help cannot fall
// behind the code.
func TestEnvVarsComplete(t *testing.T) {
	known := map[string]bool{}
	for _, v := range EnvVars {
		known[v.Name] = true
		if v.Help == "" || len(v.For) == 0 {
			t.Errorf("%s: no help or no process", v.Name)
		}
	}
	// Test-only and local-stack packages have variables of their own.
	skip := map[string]bool{"devenv": true, "devstack": true, "testenv": true, "stacktest": true, "bedrocksim": true}
	ref := regexp.MustCompile(`"((?:SLUICE|AWS)_[A-Z_]+|DATABASE_URL)"`)
	found := 0
	for _, root := range []string{"..", "../../cmd/api", "../../cmd/worker"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && skip[d.Name()] {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || path == "envvars.go" {
				return nil
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range ref.FindAllStringSubmatch(string(src), -1) {
				found++
				// Other AWS_ names are the SDK's (or LiteLLM's) to document.
				if !known[m[1]] && !strings.HasPrefix(m[1], "AWS_") {
					t.Errorf("%s reads %s, which config.EnvVars does not list", path, m[1])
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if found < 20 {
		t.Fatalf("found only %d references: is the walk reading the source?", found)
	}
}
