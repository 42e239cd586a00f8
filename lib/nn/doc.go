// Package nn holds the small networks the experiments train: an mlp and a
// cnn classifier for 28×28 digits and clothes, and an fcn that labels every
// pixel of a grey scene with one of K categories or background.
//
// Networks are gorgonia expression graphs on the CPU, with the hot
// operations (convolution, bias+ReLU, max pooling, upsampling, a 1×1 conv
// of two inputs concatenated by channel, softmax cross-entropy) written
// here as gorgonia ops with explicit backward ops, and every float32 matrix
// product in one GEMM whose bits do not depend on the CPU, the number of
// cores or cgo (gemm.go).
//
// Invariants:
//   - Initialization is He-normal from a PCG generator seeded by
//     Config.Seed, never gorgonia's clock-seeded initializers: equal configs
//     give bit-identical weights, gradients and saved files.
//   - A graph is compiled once per batch size (one with and one without the
//     backward pass) and reused; inputs are fed with gorgonia.Let.
//   - Gradients are per batch: every FlatGrad recomputes them from scratch,
//     nothing accumulates between calls.
//   - All parameters live in one flat vector in a fixed order (Params); the
//     flat gradient, the optimizers and the saved manifest use that order.
//   - The loss is the softmax cross-entropy weighted per image or per pixel
//     and divided by the sum of the weights, so a weight map selecting the
//     pasted instances gives the loss on those instances alone.
//   - float64 models exist for gradient checks; training uses float32.
package nn
