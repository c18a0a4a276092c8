package oathmesh_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The README's Go blocks must be the code of the Example test or of the Client quickstart
// test, so they are tested as written.
func TestReadmeGoQuickstartIsTheExample(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var example []byte
	for _, name := range []string{"example_test.go", "readme_client_test.go"} {
		text, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		example = append(example, text...)
	}
	blocks := regexp.MustCompile("(?s)```go\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	if len(blocks) == 0 {
		t.Fatal("README has no Go code block")
	}
	for _, block := range blocks {
		if !strings.Contains(string(example), block[1]) {
			t.Fatalf("README Go block is not in example_test.go or readme_client_test.go:\n%s", block[1])
		}
	}
}
