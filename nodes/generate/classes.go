package generate

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"dagrun/nodes"
)

// classesSlot is the optional input that names the categories of kinds
// whose params may not: any dir whose meta.json lists "classes" (a
// classification or segmentation dataset dir such as ltseg.reference, or a
// pool).
var classesSlot = nodes.Slot{
	Name:     "classes",
	Doc:      "a dataset or pool dir whose meta.json lists the category names (instead of the classes param)",
	Optional: true,
}

// classNames returns the category names from the classes param or, when
// that is empty, from the meta.json of the dir bound to the classes slot.
func classNames(param []string, env *nodes.Env) ([]string, error) {
	dir := env.Input(classesSlot.Name)
	switch {
	case len(param) > 0 && dir != "":
		return nil, errors.New("classes: give either the classes param or the classes input, not both")
	case len(param) > 0:
		return param, nil
	case dir == "":
		return nil, errors.New("classes: no category names: set the classes param or bind the classes input (e.g. to ltseg.reference)")
	}
	b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		return nil, fmt.Errorf("read classes: %w", err)
	}
	var meta struct {
		Classes []string `json:"classes"`
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return nil, fmt.Errorf("read classes: decode %q: %w", filepath.Join(dir, "meta.json"), err)
	}
	if len(meta.Classes) == 0 {
		return nil, fmt.Errorf("read classes: %q lists no classes", filepath.Join(dir, "meta.json"))
	}
	return meta.Classes, nil
}
