// Package generate holds the generator node kinds, the embedded stand-ins
// for X-Paste's text-to-image generator and the ways to plug in real ones:
//
//   - vae-train trains a class-conditional VAE (gorgonia, CPU) on the
//     reference corpus, optionally fine-tuned on the real training
//     instances (the "more consistent" variant);
//   - vae-sample draws a pool from it (a temperature above 1 is the "more
//     diverse" variant);
//   - onnx-generate draws a pool from any ONNX decoder (category, z) -> image;
//   - pool-import turns PNGs written by any program (a command node running
//     a diffusers script) into a pool.
//
// A pool dir holds images.npy (uint8 [N,S,S]), labels.npy (int64 [N]: the
// category each item was generated for), meta.json ({"task":"pool",
// "classes","source","per_class"}) and preview.png.
//
// Invariants:
//   - Every random draw comes from a math/rand/v2 PCG stream seeded from
//     params, one stream per purpose; gorgonia's clock-seeded initializers
//     are never used. Same params and input bytes give identical output
//     bytes on one machine.
//   - Pools are category-major. Item j of category c draws its noise from
//     the stream of (seed, c, j / ChunkSize), and decoding one item never
//     depends on the others, so the first n items of a category are
//     bit-identical for every n_per_class ≥ n (prefix stability).
//   - vae-sample draws z from a per-category Gaussian fitted to the
//     encoder's posteriors after training (see Prior), scaled by the
//     temperature, so samples stay in their category's region of z.
//   - Decoding and pixel rounding are plain float64 Go with explicit
//     conversions (no fused multiply-add), rounding half away from zero.
//   - onnx-generate's model file enters the key by content digest; errors
//     name the file and the expected input or output.
package generate
