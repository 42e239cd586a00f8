package main

import (
	"dagrun/nodes"
	"dagrun/nodes/command"
	"dagrun/nodes/source"
)

// registry lists every node kind dagrun knows. It is the one place where
// concrete kinds are chosen.
func registry() *nodes.Registry {
	return nodes.NewRegistry(
		command.Kind(),
		source.Kind(),
	)
}
