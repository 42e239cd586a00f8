package format

import (
	"encoding/json"
	"fmt"
	"os"
)

// JSON indentations of the writers. They differ for historical reasons
// and must stay as they are: the bytes enter downstream keys.
const (
	indent1 = " "  // dataset dirs and generator pools
	indent2 = "  " // masks, instances, sourced classification dirs
)

// writeJSON writes v as indented JSON with a final newline.
func writeJSON(path string, v any, indent string) error {
	b, err := json.MarshalIndent(v, "", indent)
	if err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// readJSON decodes the JSON file at path into v.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %q: %w", path, err)
	}
	return nil
}
