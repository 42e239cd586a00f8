//go:build race

package vae

// raceEnabled reports a -race build, where gorgonia runs several times
// slower and the real-data test trains a smaller model.
const raceEnabled = true
