// Package artifact reads and writes the files nodes exchange: tensors as
// NumPy .npy (so anyone can open them with numpy.load), metadata as JSON.
//
// Invariants: writers are deterministic (same values, same bytes), always
// little-endian and C order; readers reject what they do not understand with
// an error naming the file instead of guessing.
package artifact
