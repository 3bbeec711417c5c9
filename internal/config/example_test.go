package config

import (
	"flag"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
)

// The example configuration at the repository root must list every key with
// its default. Regenerate it with: go test ./internal/config -run Example -update
var update = flag.Bool("update", false, "rewrite chronik.example.toml")

const examplePath = "../../chronik.example.toml"

func exampleTOML() string {
	var b strings.Builder
	b.WriteString(`# Chronik configuration, listing every key with its default value.
#
# Every key can also be set with a flag (the key with '_' as '-', e.g.
# --data-dir) or an environment variable ("CHRONIK_" + the upper-cased key,
# e.g. CHRONIK_DATA_DIR). Precedence: defaults < this file < environment < flags.
#
#   chronik serve --config chronik.toml
`)
	def := Default()
	section := ""
	for _, k := range Keys() {
		if k.Section != section {
			section = k.Section
			fmt.Fprintf(&b, "\n[%s]\n", section)
		}
		v := k.value(def)
		val := fmt.Sprint(v)
		if s, ok := v.(string); ok {
			val = fmt.Sprintf("%q", s)
		}
		fmt.Fprintf(&b, "# %s\n%s = %s\n", k.Help, k.Name, val)
	}
	return b.String()
}

func TestExampleFile(t *testing.T) {
	want := exampleTOML()
	if *update {
		if err := os.WriteFile(examplePath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatalf("%v (regenerate with -update)", err)
	}
	if string(got) != want {
		t.Errorf("%s is out of date; regenerate with: go test ./internal/config -run ExampleFile -update", examplePath)
	}

	c, err := Load(examplePath, nil, nil)
	if err != nil {
		t.Fatalf("Load(%s): %v", examplePath, err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("%s does not decode to the defaults: %+v", examplePath, c)
	}
	for _, k := range Keys() {
		if !strings.Contains(string(got), "\n"+k.Name+" = ") {
			t.Errorf("%s does not list %s", examplePath, k.Name)
		}
	}
}
