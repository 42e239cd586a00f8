// Package vae holds the embedded generator kinds, the stand-in for
// X-Paste's pretrained text-to-image generator:
//
//   - vae-train trains a class-conditional VAE (gorgonia, CPU) on the
//     reference corpus, optionally fine-tuned on the real training
//     instances (the "more consistent" variant), and writes its model dir
//     (format.TypeVAE; the weights and prior files are written and read by
//     this package, vae.go);
//   - vae-sample draws a pool (format.TypePool) from it (a temperature
//     above 1 is the "more diverse" variant).
//
// The generators that plug in real models (onnx-generate, pool-import)
// are in nodes/generate.
//
// Invariants:
//   - Every random draw comes from a math/rand/v2 PCG stream seeded from
//     params, one stream per purpose; gorgonia's clock-seeded initializers
//     are never used. Same params and input bytes give identical output
//     bytes on one machine.
//   - Pools are category-major. Item j of category c draws its noise from
//     the stream of (seed, c, j / chunkrng.Size), and decoding one item
//     never depends on the others, so the first n items of a category are
//     bit-identical for every n_per_class ≥ n (prefix stability).
//   - vae-sample draws z from a per-category Gaussian fitted to the
//     encoder's posteriors after training (see Prior), scaled by the
//     temperature, so samples stay in their category's region of z.
//   - Decoding and pixel rounding are plain float64 Go with explicit
//     conversions (no fused multiply-add), rounding half away from zero.
package vae
