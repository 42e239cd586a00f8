// Package onnx is the one place dagrun talks to ONNX Runtime (through
// github.com/yalue/onnxruntime_go): it finds and loads the shared library,
// opens model files with errors that name the file and say what is wrong,
// and runs float32 (and integer token) tensors.
//
// Usage:
//
//	rt, err := onnx.Load(build.Dir)        // once per node; cheap after the first
//	m, err := rt.Open(path, onnx.Options{}) // one session per model file
//	defer m.Close()
//	if err := m.ExpectInput("input", "float32", 1, 3, -1, -1); err != nil { ... }
//	outs, err := m.Run(onnx.F32("input", x, 1, 3, 64, 64))
//
// Finding the library: $DAGRUN_ONNXRUNTIME if set, else
// third_party/onnxruntime/libonnxruntime.so.1 in the spec's directory or
// one of its ancestors. When neither exists the error says to run
// `make onnxruntime` (scripts/fetch-onnxruntime.sh).
//
// Invariants:
//   - The library is located and the runtime initialised at most once per
//     process (a sync.Once and its result are the package's only state):
//     every later Load returns the first one's runtime or error.
//   - Sessions run on IntraOpThreads threads (default 1) with sequential
//     execution, so a model run twice on the same machine gives the same
//     bytes. Bitwise equality across CPU models is not promised: ONNX
//     Runtime picks kernels by instruction set.
//   - Run copies outputs into Go memory and frees every native tensor before
//     returning; a Model is safe for concurrent Run calls and must be Closed.
package onnx
