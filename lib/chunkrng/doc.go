// Package chunkrng is the noise streams every generator kind draws from, so
// that pools are prefix-stable: item j of category c draws from the
// stream of (seed, c, j/Size), so the first n items of a category never
// depend on how many are generated in all.
//
// Invariants: a stream is a math/rand/v2 PCG seeded only by (seed,
// category, chunk); changing Size or the stream's seeding changes every
// generated pool and needs the generator kinds' versions bumped.
package chunkrng
