// Package resample scales grey images, for the kinds that take images of
// one size to another: Area (area averaging, the generators' and
// pool-import's downscaling to the pool size, with FitCentered and the
// rounding ToByte) and Bilinear (PyTorch's bilinear interpolate, the
// preprocessing ONNX models such as U2Net, ISNet and CLIP were trained
// with).
//
// Invariants: plain Go float arithmetic in a fixed order with explicit
// conversions, nothing random: the same input gives the same output bits.
package resample
