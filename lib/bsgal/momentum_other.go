//go:build !amd64 || purego

package bsgal

func momentumScore(cc []float64, g, y []float32, m, k float64, l *lanes) {
	momentumScoreGo(cc, g, y, m, k, l)
}

func nonFinite(x []float32) bool { return nonFiniteGo(x) }
