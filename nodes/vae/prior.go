package vae

import (
	"fmt"
	"math"
)

// Prior is a Gaussian over the latent space per category, N(Mean[c],
// Chol[c]·Chol[c]ᵀ). A plain conditional VAE samples z ~ N(0, I) whatever
// the category; but a short training run lets the encoder put the category
// into z too, and prior samples then decode to other categories. Fitting
// each category's aggregate posterior after training (mean and covariance
// of μ over its images, plus the mean posterior variance) keeps samples
// where that category's images lie.
type Prior struct {
	Classes, Latent int
	Mean            []float64 // [Classes·Latent]
	Chol            []float64 // [Classes·Latent·Latent], lower triangular
}

// standardPrior is N(0, I) for every category.
func standardPrior(classes, latent int) *Prior {
	p := &Prior{Classes: classes, Latent: latent, Mean: make([]float64, classes*latent), Chol: make([]float64, classes*latent*latent)}
	for c := range classes {
		for i := range latent {
			p.Chol[(c*latent+i)*latent+i] = 1
		}
	}
	return p
}

// priorMinItems is the fewest images a category needs for its own fit;
// categories with fewer keep the base prior.
const priorMinItems = 5

// priorMaxItems caps the images per category a fit encodes (the first ones
// in data order).
const priorMaxItems = 500

// fitPrior fits each category's latent Gaussian from the images xs (bytes)
// with their labels, starting from base (copied) and replacing
// every category that has at least priorMinItems images.
func fitPrior(v *VAE, base *Prior, xs []uint8, labels []int) (*Prior, error) {
	cfg := v.Config()
	L, P := cfg.Latent, cfg.Pixels()
	out := &Prior{Classes: base.Classes, Latent: L, Mean: append([]float64(nil), base.Mean...), Chol: append([]float64(nil), base.Chol...)}
	byClass := make([][]int, cfg.Classes)
	for i, l := range labels {
		if len(byClass[l]) < priorMaxItems {
			byClass[l] = append(byClass[l], i)
		}
	}
	for c, idx := range byClass {
		if len(idx) < priorMinItems {
			continue
		}
		mean := make([]float64, L)
		cov := make([]float64, L*L)
		vsum := make([]float64, L)
		mus := make([][]float64, len(idx))
		x := make([]float32, P)
		for j, i := range idx {
			toUnit(x, xs[i*P:(i+1)*P])
			mu, lv := v.Encode(x, c)
			mus[j] = mu
			for k := range L {
				mean[k] += mu[k]
				vsum[k] += math.Exp(lv[k])
			}
		}
		n := float64(len(idx))
		for k := range mean {
			mean[k] /= n
		}
		for _, mu := range mus {
			for a := range L {
				for b := range a + 1 {
					cov[a*L+b] += float64((mu[a] - mean[a]) * (mu[b] - mean[b]))
				}
			}
		}
		for a := range L {
			for b := range a + 1 {
				cov[a*L+b] /= n
				cov[b*L+a] = cov[a*L+b]
			}
			cov[a*L+a] += vsum[a]/n + 1e-6
		}
		chol, err := cholesky(cov, L)
		if err != nil {
			return nil, fmt.Errorf("fit prior of category %d: %w", c, err)
		}
		copy(out.Mean[c*L:], mean)
		copy(out.Chol[c*L*L:], chol)
	}
	return out, nil
}

// cholesky returns the lower-triangular L with L·Lᵀ = a (n×n, symmetric
// positive definite).
func cholesky(a []float64, n int) ([]float64, error) {
	l := make([]float64, n*n)
	for i := range n {
		for j := range i + 1 {
			s := a[i*n+j]
			for k := range j {
				s -= float64(l[i*n+k] * l[j*n+k])
			}
			if i == j {
				if !(s > 0) {
					return nil, fmt.Errorf("matrix is not positive definite (pivot %d is %v)", i, s)
				}
				l[i*n+i] = math.Sqrt(s)
			} else {
				l[i*n+j] = s / l[j*n+j]
			}
		}
	}
	return l, nil
}

// sample returns Mean[c] + temperature·Chol[c]·eps.
func (p *Prior) sample(c int, eps []float64, temperature float64) []float64 {
	L := p.Latent
	z := make([]float64, L)
	for i := range L {
		var s float64
		for k := range i + 1 {
			s += float64(p.Chol[(c*L+i)*L+k] * eps[k])
		}
		z[i] = p.Mean[c*L+i] + float64(temperature*s)
	}
	return z
}
