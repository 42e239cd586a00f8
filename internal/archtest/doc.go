// Package archtest holds the test that enforces the import rules between
// dagrun's layers (go test ./internal/archtest). It has no code of its
// own: the rules live in rules_test.go, next to the test that checks them
// against `go list -json ./...`.
//
// The layers, from the bottom:
//
//	spec, cache          import nothing of ours
//	lib/*                libraries kinds use; import only other lib/*
//	format               the directory formats; imports only lib/artifact
//	nodes                what a kind is; imports at most spec
//	nodes/<kind>         one package per kind (or family); import nodes,
//	                     format and lib/*, never a sibling kind
//	dag, executor/*      the engine; import no kind, no lib/*, no format
//	report               reads the cache; imports no kind
//	cmd/dagrun           chooses the kinds (registry.go); imported by none
package archtest
