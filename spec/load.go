package spec

import (
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load reads the spec at path (and its includes) and returns it expanded and validated.
// Errors are an ErrorList; a root file that cannot be read gives one error at
// Pos{File: path}.
func Load(path string, opt Options) (*Spec, error) {
	read := opt.ReadFile
	if read == nil {
		read = readLimited
	}
	data, err := read(path)
	if err == nil && len(data) > MaxFileSize {
		err = &sizeError{int64(len(data))}
	}
	if err != nil {
		var l ErrorList
		l.Add(Pos{File: path}, "", "%s", ioMessage(err))
		return nil, l.Err()
	}
	return Parse(path, data, opt)
}

// Parse is Load with the root file's content already read; includes are still read
// through opt.ReadFile.
func Parse(path string, data []byte, opt Options) (*Spec, error) {
	ld := &loader{read: opt.ReadFile, loaded: map[string]bool{}}
	if ld.read == nil {
		ld.read = readLimited
	}
	if len(data) > MaxFileSize {
		ld.errs.Add(Pos{File: path}, "", "%s", (&sizeError{int64(len(data))}).Error())
		return nil, ld.errs.Err()
	}
	st := newState()
	root := ld.mergeFile(st, path, data)
	if root == nil {
		return nil, ld.errs.Err()
	}
	sp := &Spec{
		Name:        root.name,
		NamePos:     root.namePos,
		File:        path,
		Dir:         absDir(path),
		Executor:    root.executor,
		ExecutorPos: root.executorPos,
	}
	if sp.Name == "" {
		sp.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	ld.applyProfile(st, path, opt.Profile)
	ld.applySet(st, path, opt.Set)
	sp.Profiles = st.profileNames()
	sp.Vars = map[string]*yaml.Node{}
	for name, v := range st.vars {
		sp.Vars[name] = v.node
	}
	for _, a := range st.axes {
		sp.Matrix = append(sp.Matrix, *a)
	}
	if len(ld.errs) > 0 {
		return nil, ld.errs.Err()
	}
	ex := newExpander(st, &ld.errs)
	sp.Nodes = ex.run()
	if root.report != nil {
		sp.Report = ex.report(root.file, root.report)
	}
	if len(ld.errs) > 0 {
		return nil, ld.errs.Err()
	}
	return sp, nil
}

func absDir(path string) string {
	d, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return filepath.Dir(path)
	}
	return d
}
