package vae

import (
	"math"
	"math/rand/v2"
	"testing"
)

func testNames(k int) []string {
	n := make([]string, k)
	for i := range n {
		n[i] = string(rune('a' + i))
	}
	return n
}

// TestGraphMatchesPlainGo checks the gorgonia training graph against an
// independent plain-Go computation of the same loss: with ε = 0, z = μ, so
// recon = Σ BCE(x, Decode(Encode(x))) and KL follows from μ and log σ².
func TestGraphMatchesPlainGo(t *testing.T) {
	cfg := VAEConfig{Classes: 3, Size: 4, Latent: 2, Hidden: 5, Seed: 7, Names: testNames(3)}
	v, err := NewVAE(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	// Non-zero biases, so that their wiring is checked too.
	for _, name := range []string{"enc.bias", "mu.bias", "logvar.bias", "dec.bias", "out.bias"} {
		for i, p := range v.param(name) {
			v.param(name)[i] = p + float32(rng.NormFloat64()*0.3)
		}
	}
	n := 3
	x := make([]float32, n*16)
	for i := range x {
		x[i] = float32(rng.Float64())
	}
	labels := []int{2, 0, 1}
	l, _, err := v.Grad(x, labels, make([]float32, n*cfg.Latent), 1)
	if err != nil {
		t.Fatal(err)
	}
	var recon float64
	px := make([]float64, 16)
	for i := range n {
		mu, _ := v.Encode(x[i*16:(i+1)*16], labels[i])
		v.Decode(px, mu, labels[i])
		for k, p := range px {
			xv := float64(x[i*16+k])
			recon -= xv*math.Log(p) + (1-xv)*math.Log(1-p)
		}
	}
	recon /= float64(n)
	if math.Abs(l.Recon-recon) > 1e-4*recon {
		t.Errorf("graph recon = %v, plain go %v", l.Recon, recon)
	}
}
