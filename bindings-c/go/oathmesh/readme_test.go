package oathmesh_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The README's Go quickstart must be the Example test's code, so it is tested as written.
func TestReadmeGoQuickstartIsTheExample(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```go\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	if len(blocks) == 0 {
		t.Fatal("README has no Go code block")
	}
	for _, block := range blocks {
		if !strings.Contains(string(example), block[1]) {
			t.Fatalf("README Go block is not in example_test.go:\n%s", block[1])
		}
	}
}
