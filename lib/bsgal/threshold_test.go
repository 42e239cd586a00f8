package bsgal

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestQuantileHandWorked(t *testing.T) {
	x := []float64{1, 2, 4, 8, 16}
	tests := []struct {
		q, want float64
	}{
		{0, 1},
		{0.25, 2},   // h = 4·0.25 = 1
		{0.3, 2.4},  // h = 1.2: 2 + 0.2·(4−2)
		{0.5, 4},    // h = 2
		{0.9, 12.8}, // h = 3.6: 8 + 0.6·(16−8)
		{1, 16},
	}
	for _, tt := range tests {
		if got := Quantile(x, tt.q); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("Quantile(%v, %v) = %v, want %v", x, tt.q, got, tt.want)
		}
	}
	if got := Quantile([]float64{7}, 0.3); got != 7 {
		t.Errorf("Quantile of one value = %v, want 7", got)
	}
	if got := Quantile(nil, 0.5); !math.IsNaN(got) {
		t.Errorf("Quantile of nothing = %v, want NaN", got)
	}
}

func TestDynamicHandWorked(t *testing.T) {
	// W = 3, r = 0.5: τ is the median of the window before the score enters.
	d, err := NewDynamic(0.5, 3)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		score float64
		want  Decision
	}{
		{5, Decision{5, 0, true}},  // empty window: τ = 0
		{1, Decision{1, 5, false}}, // [5]
		{3, Decision{3, 3, true}},  // [1 5]: median 3, and 3 >= 3
		{7, Decision{7, 3, true}},  // [1 3 5]
		{2, Decision{2, 3, false}}, // 5 left: [1 3 7]
		{0, Decision{0, 3, false}}, // 1 left: [2 3 7]
		{9, Decision{9, 2, true}},  // 3 left: [0 2 7]
	}
	for i, s := range steps {
		if got := Decide(d, i, s.score); got != s.want {
			t.Errorf("step %d: Decide = %+v, want %+v", i, got, s.want)
		}
	}
}

func TestWindowStaysSorted(t *testing.T) {
	// Many duplicates exercise eviction of equal values.
	r := rand.New(rand.NewPCG(5, 6))
	const size = 7
	w := newWindow(size)
	var all []float64
	for i := 0; i < 500; i++ {
		s := float64(r.IntN(5))
		all = append(all, s)
		w.add(s)
		want := slices.Clone(all[max(0, len(all)-size):])
		slices.Sort(want)
		if !slices.Equal(w.sorted, want) {
			t.Fatalf("after %d adds: sorted window %v, want %v", i+1, w.sorted, want)
		}
	}
}

func TestDecideNaN(t *testing.T) {
	d, _ := NewDynamic(0.5, 10)
	if got := Decide(d, 0, math.NaN()); got.Accepted {
		t.Error("NaN score accepted")
	}
	if len(d.w.sorted) != 0 {
		t.Errorf("NaN entered the window: %v", d.w.sorted)
	}
	if got := Decide(Fixed(-0.05), 0, -0.05); !got.Accepted || got.Tau != -0.05 {
		t.Errorf("fixed: Decide(-0.05) = %+v, want accepted at τ -0.05", got)
	}
}

type stream struct {
	name string
	draw func(r *rand.Rand) float64
}

var streams = []stream{
	{"N(0,1)", func(r *rand.Rand) float64 { return r.NormFloat64() }},
	{"N(1000,1e-3)", func(r *rand.Rand) float64 { return 1000 + 1e-3*r.NormFloat64() }},
	{"U(-5,-4)", func(r *rand.Rand) float64 { return -5 + r.Float64() }},
	{"N(0,1e-6) cosine-like", func(r *rand.Rand) float64 { return 1e-6 * r.NormFloat64() }},
}

func TestDynamicHoldsRateWhateverTheScale(t *testing.T) {
	const n = 10000
	for si, s := range streams {
		for ri, rate := range []float64{0.2, 0.5, 0.8} {
			t.Run(fmt.Sprintf("%s/r=%v", s.name, rate), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(100+si), uint64(ri)))
				d, err := NewDynamic(rate, DefaultWindow)
				if err != nil {
					t.Fatal(err)
				}
				acc := 0
				for i := 0; i < n; i++ {
					if Decide(d, i, s.draw(r)).Accepted {
						acc++
					}
				}
				if got := float64(acc) / n; math.Abs(got-rate) > 0.02 {
					t.Errorf("acceptance %v, want %v ± 0.02", got, rate)
				}
			})
		}
	}
}

func TestLinearFollowsSchedule(t *testing.T) {
	const n = 10000
	for si, s := range streams[:3] {
		for _, rr := range [][2]float64{{0.1, 0.9}, {0.8, 0.3}} {
			t.Run(fmt.Sprintf("%s/%v->%v", s.name, rr[0], rr[1]), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(200+si), 7))
				l, err := NewLinear(rr[0], rr[1], n, DefaultWindow)
				if err != nil {
					t.Fatal(err)
				}
				if l.Rate(0) != rr[0] || l.Rate(n-1) != rr[1] || l.Rate(2*n) != rr[1] {
					t.Errorf("schedule ends: %v %v %v, want %v %v %v", l.Rate(0), l.Rate(n-1), l.Rate(2*n), rr[0], rr[1], rr[1])
				}
				const tenth = n / 10
				for k := 0; k < 10; k++ {
					acc, sched := 0, 0.0
					for i := k * tenth; i < (k+1)*tenth; i++ {
						sched += l.Rate(i)
						if Decide(l, i, s.draw(r)).Accepted {
							acc++
						}
					}
					got, want := float64(acc)/tenth, sched/tenth
					if math.Abs(got-want) > 0.05 {
						t.Errorf("tenth %d: acceptance %v, scheduled %v ± 0.05", k, got, want)
					}
				}
			})
		}
	}
}

func TestThresholdParamErrors(t *testing.T) {
	bad := []struct {
		name string
		err  error
	}{
		{"dynamic rate", second(NewDynamic(1.5, 10))},
		{"dynamic window", second(NewDynamic(0.5, 0))},
		{"linear rate", second(NewLinear(0.1, -0.1, 10, 10))},
		{"linear total", second(NewLinear(0.1, 0.2, 0, 10))},
		{"linear window", second(NewLinear(0.1, 0.2, 10, 0))},
	}
	for _, b := range bad {
		if b.err == nil {
			t.Errorf("%s: no error", b.name)
		}
	}
}

func second[T any](_ T, err error) error { return err }
