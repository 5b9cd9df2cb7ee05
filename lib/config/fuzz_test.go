package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// fuzzOptions never touch the network or the disk.
func fuzzOptions() Options {
	return Options{
		Resolver: fakeResolver,
		ReadFile: func(string) ([]byte, error) { return nil, errors.New("no files while fuzzing") },
		Glob:     func(string) ([]string, error) { return nil, nil },
	}
}

func addSeeds(f *testing.F, pattern string) {
	files, _ := filepath.Glob(filepath.Join(testdata, pattern))
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
}

// fuzzOne parses data as name; when it is accepted, the plan and the TOML
// must render, and the TOML must load back to the same plan.
func fuzzOne(t *testing.T, name string, data []byte) {
	c, err := ParseWith(name, data, fuzzOptions())
	if err != nil {
		var errs Errors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("error is not a non-empty Errors: %v", err)
		}
		return
	}
	var plan, toml bytes.Buffer
	if err := WriteTable(&plan, c); err != nil {
		t.Fatal(err)
	}
	if err := WriteTOML(&toml, c); err != nil {
		t.Fatal(err)
	}
	c2, err := ParseWith("fuzz.toml", toml.Bytes(), fuzzOptions())
	if err != nil {
		t.Fatalf("migrated TOML does not load: %v\n%s", err, toml.String())
	}
	if a, b := bothPlans(t, c), bothPlans(t, c2); a != b {
		t.Fatalf("plan changed by migrate:\n%s", diffLines(a, b))
	}
}

func FuzzLdirectord(f *testing.F) {
	addSeeds(f, "ldirectord/*.cf")
	addSeeds(f, "errors/*.cf")
	addSeeds(f, "warnings/*.cf")
	f.Fuzz(func(t *testing.T, data []byte) { fuzzOne(t, "fuzz.cf", data) })
}

func FuzzKeepalived(f *testing.F) {
	addSeeds(f, "keepalived/*.conf")
	addSeeds(f, "errors/ka-*.conf")
	addSeeds(f, "warnings/ka-*.conf")
	f.Fuzz(func(t *testing.T, data []byte) {
		if Detect("keepalived.conf", data) != "keepalived" {
			data = append([]byte("global_defs {\n}\n"), data...)
		}
		fuzzOne(t, "keepalived.conf", data)
	})
}

func FuzzTOML(f *testing.F) {
	addSeeds(f, "toml/*.toml")
	addSeeds(f, "errors/toml-*.toml")
	addSeeds(f, "warnings/toml-*.toml")
	f.Fuzz(func(t *testing.T, data []byte) { fuzzOne(t, "fuzz.toml", data) })
}
