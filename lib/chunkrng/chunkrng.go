package chunkrng

import "math/rand/v2"

// Size is how many items of one category share a noise stream.
const Size = 64

// Stream is the noise stream of one (seed, category, chunk).
func Stream(seed uint64, c, chunk int) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x73616d706c65<<16^uint64(c)<<32^uint64(chunk))) // "sample"
}
