package metrics

// LVIS frequency groups, spelled as LVIS's "frequency" field spells them.
const (
	Rare     = "r" // in 1–10 training images
	Common   = "c" // in 11–100 training images
	Frequent = "f" // in more than 100 training images
)

// GroupOf returns the LVIS group of a category seen in trainImages training
// images: Rare up to 10 (including 0), Common up to 100, Frequent above.
func GroupOf(trainImages int) string {
	switch {
	case trainImages <= 10:
		return Rare
	case trainImages <= 100:
		return Common
	default:
		return Frequent
	}
}
