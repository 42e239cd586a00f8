// Package chunkrng is the noise streams every generator kind draws from, so
// that pools are prefix-stable: item j of category c draws from the
// stream of (seed, c, j/Size), so the first n items of a category never
// depend on how many are generated in all.
//
// Invariants: a stream is a math/rand/v2 PCG seeded only by (seed,
// category, chunk); changing Size or the stream's seeding changes every
// generated pool and needs the generator kinds' versions bumped.
package chunkrng

import "math/rand/v2"

// Size is how many items of one category share a noise stream.
const Size = 64

// Stream is the noise stream of one (seed, category, chunk).
func Stream(seed uint64, c, chunk int) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x73616d706c65<<16^uint64(c)<<32^uint64(chunk))) // "sample"
}
