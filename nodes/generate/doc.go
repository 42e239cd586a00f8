// Package generate holds the generator kinds that plug in real generators:
//
//   - onnx-generate draws a pool from any ONNX decoder (category, z) -> image;
//   - pool-import turns PNGs written by any program (a command node running
//     a diffusers script) into a pool.
//
// Both write a pool dir (format.TypePool). The embedded generator
// (vae-train, vae-sample) is in nodes/vae.
//
// Invariants:
//   - Every random draw comes from a math/rand/v2 PCG stream seeded from
//     params. Same params and input bytes give identical output bytes on
//     one machine.
//   - Pools are category-major. onnx-generate draws item j of category c
//     from the noise stream of (seed, c, j / chunkrng.Size), and decoding
//     one item never depends on the others, so the first n items of a
//     category are bit-identical for every n_per_class ≥ n (prefix
//     stability).
//   - pool-import reads each category's PNG files in name order and scales
//     them by area averaging (resample.FitCentered), rounding half away
//     from zero.
//   - onnx-generate's model file enters the key by content digest; errors
//     name the file and the expected input or output.
package generate
