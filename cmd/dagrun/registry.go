package main

import (
	"dagrun/nodes"
	"dagrun/nodes/annotate"
	"dagrun/nodes/command"
	"dagrun/nodes/data"
	"dagrun/nodes/evaluate"
	"dagrun/nodes/file"
	"dagrun/nodes/generate"
	"dagrun/nodes/noise"
	"dagrun/nodes/score"
	"dagrun/nodes/selection"
	"dagrun/nodes/spoil"
	"dagrun/nodes/train"
	"dagrun/nodes/vae"
)

// registry lists every node kind dagrun knows. It is the one place where
// concrete kinds are chosen.
func registry() *nodes.Registry {
	kinds := []*nodes.Kind{
		command.Kind(),
		file.Kind(),
		train.Kind(),
		evaluate.Kind(),
		score.Kind(),
		noise.Kind(),
		selection.Kind(),
		selection.RescoreKind(),
	}
	kinds = append(kinds, data.Kinds()...)
	kinds = append(kinds, annotate.Kinds()...)
	kinds = append(kinds, generate.Kinds()...)
	kinds = append(kinds, vae.Kinds()...)
	kinds = append(kinds, spoil.Kinds()...)
	return nodes.NewRegistry(kinds...)
}
