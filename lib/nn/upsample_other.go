//go:build !amd64 || purego

package nn

// up2Row32 leaves every pixel to upsamplePlanes in this build.
func up2Row32(y0, y1, x []float32) int { return 0 }

// down2Row32 leaves every output to down2SumPlanes in this build.
func down2Row32(y, r0, r1 []float32) int { return 0 }
