package metrics

import "fmt"

// Accuracy returns the fraction of i with pred[i] == label[i], or 0 when
// there are no samples. It panics if the lengths differ (a programming error).
func Accuracy(pred, label []int) float64 {
	if len(pred) != len(label) {
		panic(fmt.Sprintf("metrics: accuracy: %d predictions for %d labels", len(pred), len(label)))
	}
	if len(label) == 0 {
		return 0
	}
	ok := 0
	for i, l := range label {
		if pred[i] == l {
			ok++
		}
	}
	return float64(ok) / float64(len(label))
}

// GroupAccuracy returns the accuracy per group, where a sample's group is
// groupOf[its true label]. Groups without samples are absent from the map.
// A label missing from groupOf or a length mismatch is an error.
func GroupAccuracy(pred, label []int, groupOf map[int]string) (map[string]float64, error) {
	if len(pred) != len(label) {
		return nil, fmt.Errorf("group accuracy: %d predictions for %d labels", len(pred), len(label))
	}
	ok := map[string]int{}
	n := map[string]int{}
	for i, l := range label {
		g, found := groupOf[l]
		if !found {
			return nil, fmt.Errorf("group accuracy: class %d of sample %d has no group", l, i)
		}
		n[g]++
		if pred[i] == l {
			ok[g]++
		}
	}
	acc := make(map[string]float64, len(n))
	for g, c := range n {
		acc[g] = float64(ok[g]) / float64(c)
	}
	return acc, nil
}
