//go:build !amd64 || purego

package nn

func maxInto(mx, z []float32)                   { maxIntoGo(mx, z) }
func widenAdd(acc []float64, x []float32)       { widenAddGo(acc, x) }
func xentGrad(q, t []float32, sc, ts []float64) { xentGradGo(q, t, sc, ts) }

func nonzeroMasks(m []uint8, t []float32) { nonzeroMasksGo(m, t) }
