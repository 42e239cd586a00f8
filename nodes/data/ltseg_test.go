package data

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"dagrun/format"
	"dagrun/lib/artifact"
	"dagrun/nodes"
)

// smallLTSeg sets params for a fast run with shrunken group thresholds.
func smallLTSeg(seed uint64) func(*LTSegParams) {
	return func(p *LTSegParams) {
		p.Size, p.RareMax, p.CommonMax, p.FrequentMax = 32, 2, 5, 8
		p.TestScenesPerClass, p.ValScenesPerClass, p.Preview, p.Seed = 3, 3, 4, seed
	}
}

func synthInputs(t *testing.T) map[string][]string {
	t.Helper()
	mn := synthDataset(t, 11, 30)
	fdir := t.TempDir()
	writeIDXSet(t, fdir, 12, 30, false)
	fa := runKind(t, DatasetKind(), nodes.Build{}, func(p *DatasetParams) {
		p.Name, p.Dir, p.Classes, p.MirrorSafe = "idx", fdir, FashionClasses(), true
	}, nil)
	return map[string][]string{"mnist": {mn}, "fashion": {fa}}
}

// checkScenes verifies a segmentation split independently of the
// generator and returns, per category, the number of images holding it.
func checkScenes(t *testing.T, s *format.Segmentation, maxInst int) []int {
	t.Helper()
	H, W := s.H, s.W
	per := H * W
	imgCats := make([]map[int]bool, s.N)
	for i := range imgCats {
		imgCats[i] = map[int]bool{}
	}
	// Annotations decode to exactly the instance maps.
	annByImage := map[int64][]artifact.COCOAnnotation{}
	for _, a := range s.COCO.Annotations {
		annByImage[a.ImageID] = append(annByImage[a.ImageID], a)
	}
	for i := 0; i < s.N; i++ {
		ins := s.Instances[i*per : (i+1)*per]
		sem := s.Semantic[i*per : (i+1)*per]
		anns := annByImage[int64(i+1)]
		if len(anns) < 1 || len(anns) > maxInst {
			t.Fatalf("image %d has %d instances, want 1..%d", i, len(anns), maxInst)
		}
		for k, a := range anns {
			m, err := a.Segmentation.Mask(H, W)
			if err != nil {
				t.Fatal(err)
			}
			area := 0
			for p := range m {
				if (m[p] == 1) != (ins[p] == int32(k+1)) {
					t.Fatalf("image %d annotation %d: rle and instances.npy differ at pixel %d", i, k, p)
				}
				if m[p] == 1 {
					area++
					if int64(sem[p]) != a.CategoryID {
						t.Fatalf("image %d pixel %d: semantic %d, annotation category %d", i, p, sem[p], a.CategoryID)
					}
				}
			}
			if area == 0 || float64(area) != a.Area {
				t.Fatalf("image %d annotation %d: area %v, mask has %d pixels", i, k, a.Area, area)
			}
			if imgCats[i][int(a.CategoryID)-1] {
				t.Fatalf("image %d holds category %d twice", i, a.CategoryID)
			}
			imgCats[i][int(a.CategoryID)-1] = true
		}
		seen := map[int32]int{}
		for p, a := range ins {
			if (a == 0) != (sem[p] == 0) {
				t.Fatalf("image %d pixel %d: instance %d but semantic %d", i, p, a, sem[p])
			}
			if a < 0 || int(a) > len(anns) {
				t.Fatalf("image %d: instance id %d outside 1..%d", i, a, len(anns))
			}
			if a == 0 {
				continue
			}
			seen[a]++
			y, x := p/W, p%W
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					yy, xx := y+dy, x+dx
					if yy < 0 || yy >= H || xx < 0 || xx >= W {
						continue
					}
					if b := ins[yy*W+xx]; b != 0 && b != a {
						t.Fatalf("image %d: instances %d and %d touch at (%d,%d)", i, a, b, x, y)
					}
				}
			}
		}
		// Each instance is one 8-connected component: a flood fill from
		// its first pixel reaches all of it.
		for id, n := range seen {
			start := -1
			for p, a := range ins {
				if a == id {
					start = p
					break
				}
			}
			reached := map[int]bool{start: true}
			stack := []int{start}
			for len(stack) > 0 {
				p := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				for dy := -1; dy <= 1; dy++ {
					for dx := -1; dx <= 1; dx++ {
						yy, xx := p/W+dy, p%W+dx
						q := yy*W + xx
						if yy >= 0 && yy < H && xx >= 0 && xx < W && ins[q] == id && !reached[q] {
							reached[q] = true
							stack = append(stack, q)
						}
					}
				}
			}
			if len(reached) != n {
				t.Fatalf("image %d instance %d: %d pixels, %d connected", i, id, n, len(reached))
			}
		}
	}
	counts := make([]int, len(s.Meta.Classes))
	for _, m := range imgCats {
		for c := range m {
			counts[c]++
		}
	}
	for c, cat := range s.COCO.Categories {
		if cat.ImageCount != counts[c] || cat.ID != int64(c+1) || cat.Name != s.Meta.Classes[c] {
			t.Errorf("category %d = %+v, want id %d, name %q, image_count %d", c, cat, c+1, s.Meta.Classes[c], counts[c])
		}
		if cat.Frequency != s.Meta.Groups[cat.Name][:1] {
			t.Errorf("category %q: frequency %q, group %q", cat.Name, cat.Frequency, s.Meta.Groups[cat.Name])
		}
		if st := s.Meta.SizeStats[cat.Name]; st.Count != cat.InstanceCount || (st.Count > 0 && st.AreaMean <= 0) {
			t.Errorf("category %q: size stats %+v for %d instances", cat.Name, st, cat.InstanceCount)
		}
	}
	return counts
}

func TestLTSegInvariants(t *testing.T) {
	in := synthInputs(t)
	out := runKind(t, LTSegKind(), nodes.Build{}, smallLTSeg(7), in)
	train, err := format.LoadSegmentation(filepath.Join(out, "train"))
	if err != nil {
		t.Fatal(err)
	}
	test, err := format.LoadSegmentation(filepath.Join(out, "test"))
	if err != nil {
		t.Fatal(err)
	}
	val, err := format.LoadSegmentation(filepath.Join(out, "val"))
	if err != nil {
		t.Fatal(err)
	}
	if train.H != 32 || len(train.Meta.Classes) != 20 || train.Meta.Classes[0] != "digit 0" || train.Meta.Classes[19] != "ankle boot" {
		t.Fatalf("train: %dx%d, classes %v", train.H, train.W, train.Meta.Classes)
	}

	// Groups hold exactly as counted over the training images.
	counts := checkScenes(t, train, 4)
	perGroup := map[string]int{}
	for c, n := range counts {
		name := train.Meta.Classes[c]
		want := format.Frequent
		switch {
		case n >= 1 && n <= 2:
			want = format.Rare
		case n >= 3 && n <= 5:
			want = format.Common
		case n <= 0:
			want = "absent"
		}
		if train.Meta.Groups[name] != want {
			t.Errorf("category %q in %d training images is %q, want %q", name, n, train.Meta.Groups[name], want)
		}
		perGroup[want]++
	}
	if want := map[string]int{format.Rare: 6, format.Common: 7, format.Frequent: 7}; !reflect.DeepEqual(perGroup, want) {
		t.Errorf("categories per group = %v, want %v", perGroup, want)
	}

	// The test set is balanced.
	for c, n := range checkScenes(t, test, 4) {
		if n != 3 {
			t.Errorf("category %q is in %d test images, want 3", test.Meta.Classes[c], n)
		}
	}
	if !reflect.DeepEqual(test.Meta.Groups, train.Meta.Groups) {
		t.Error("test groups differ from train groups")
	}
	// So is the val set, with the training groups.
	for c, n := range checkScenes(t, val, 4) {
		if n != 3 {
			t.Errorf("category %q is in %d val images, want 3", val.Meta.Classes[c], n)
		}
	}
	if !reflect.DeepEqual(val.Meta.Groups, train.Meta.Groups) {
		t.Error("val groups differ from train groups")
	}
	// Mirror-safety comes from the inputs: mnist's digits are not
	// mirror-safe, the idx fashion set says all of its classes are.
	wantSafe := make([]bool, 20)
	for c := 10; c < 20; c++ {
		wantSafe[c] = true
	}
	for name, got := range map[string][]bool{"train": train.Meta.MirrorSafe, "val": val.Meta.MirrorSafe, "test": test.Meta.MirrorSafe} {
		if !reflect.DeepEqual(got, wantSafe) {
			t.Errorf("%s mirror_safe %v, want digits false and fashion true", name, got)
		}
	}

	// The reference corpus is exactly the unused training images.
	ref, err := format.LoadClassification(filepath.Join(out, "reference"))
	if err != nil {
		t.Fatal(err)
	}
	srcArr, err := artifact.LoadNPY(filepath.Join(out, "reference", "sources.npy"))
	if err != nil {
		t.Fatal(err)
	}
	usedSrc := map[string]bool{}
	for _, s := range train.Meta.InstanceSources {
		usedSrc[s] = true
	}
	if len(usedSrc) != len(train.COCO.Annotations) {
		t.Errorf("%d distinct sources for %d training instances", len(usedSrc), len(train.COCO.Annotations))
	}
	// Val takes train-split images no training scene took, each once.
	valSrc := map[string]bool{}
	for _, s := range val.Meta.InstanceSources {
		if usedSrc[s] || valSrc[s] {
			t.Fatalf("val source %q is also in a training scene or twice in val", s)
		}
		valSrc[s] = true
	}
	if len(valSrc) != len(val.COCO.Annotations) || len(valSrc) == 0 {
		t.Errorf("%d distinct val sources for %d val instances", len(valSrc), len(val.COCO.Annotations))
	}
	srcData := map[string]*format.Classification{}
	for i, name := range []string{"mnist", "fashion"} {
		c, err := format.LoadClassification(filepath.Join(in[name][0], "train"))
		if err != nil {
			t.Fatal(err)
		}
		srcData[strconv.Itoa(i)] = c
	}
	refSrc := map[string]bool{}
	for i := 0; i < ref.N; i++ {
		d, idx := srcArr.I64[2*i], srcArr.I64[2*i+1]
		key := []string{"mnist", "fashion"}[d] + ":" + strconv.Itoa(int(idx))
		if usedSrc[key] || valSrc[key] {
			t.Fatalf("reference image %d (%s) was used in a training or val scene", i, key)
		}
		refSrc[key] = true
		sd := srcData[strconv.Itoa(int(d))]
		if want := d*10 + sd.Labels[idx]; ref.Labels[i] != want {
			t.Fatalf("reference image %d (%s): label %d, want %d", i, key, ref.Labels[i], want)
		}
		if fmt.Sprint(ref.Image(i)) != fmt.Sprint(sd.Image(int(idx))) {
			t.Fatalf("reference image %d differs from its source %s", i, key)
		}
	}
	if got, want := len(refSrc)+len(usedSrc)+len(valSrc), 600; got != want || len(refSrc) != ref.N {
		t.Errorf("reference %d + train %d + val %d = %d source images, want all %d", len(refSrc), len(usedSrc), len(valSrc), got, want)
	}
	if !reflect.DeepEqual(ref.Meta.MirrorSafe, wantSafe) {
		t.Errorf("reference mirror_safe %v", ref.Meta.MirrorSafe)
	}
	for _, s := range test.Meta.InstanceSources {
		if !strings.HasPrefix(s, "mnist:") && !strings.HasPrefix(s, "fashion:") {
			t.Errorf("test source %q", s)
		}
	}

	// Same seed, same bytes; another seed, other bytes.
	a := treeBytes(t, out)
	if _, ok := a["preview.png"]; !ok {
		t.Error("no preview.png")
	}
	b := treeBytes(t, runKind(t, LTSegKind(), nodes.Build{}, smallLTSeg(7), in))
	if !reflect.DeepEqual(a, b) {
		for k := range a {
			if string(a[k]) != string(b[k]) {
				t.Errorf("same seed: %s differs", k)
			}
		}
	}
	c := treeBytes(t, runKind(t, LTSegKind(), nodes.Build{}, smallLTSeg(8), in))
	for _, k := range []string{"train/images.npy", "train/meta.json", "val/images.npy", "test/instances.npy", "reference/labels.npy"} {
		if string(a[k]) == string(c[k]) {
			t.Errorf("seeds 7 and 8 gave the same %s", k)
		}
	}
}

func TestLTSegParams(t *testing.T) {
	tests := []struct {
		name    string
		set     func(*LTSegParams)
		wantErr string
	}{
		{"defaults", func(*LTSegParams) {}, ""},
		{"groups not 20", func(p *LTSegParams) { p.Rare = 5 }, "summing to 20"},
		{"thresholds", func(p *LTSegParams) { p.FrequentMax = 100 }, "rare_max < common_max < frequent_max"},
		{"too few scenes", func(p *LTSegParams) { p.TrainScenes = 200 }, "train_scenes"},
		{"size", func(p *LTSegParams) { p.Size = 8 }, "size"},
		{"sides", func(p *LTSegParams) { p.MaxSide = 40 }, "max_side"},
		{"threshold", func(p *LTSegParams) { p.Threshold = 1 }, "threshold"},
		{"no val", func(p *LTSegParams) { p.ValScenesPerClass = 0 }, "val_scenes_per_class"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultLTSegParams()
			tt.set(&p)
			_, err := LTSegKind().Construct(nodes.Build{}, &p)
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("New error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestLTSegPlanDefaults(t *testing.T) {
	pl, err := planLTSeg(DefaultLTSegParams())
	if err != nil {
		t.Fatal(err)
	}
	groups := map[string][]int{}
	total := 0
	for c, g := range pl.groups {
		groups[g] = append(groups[g], pl.counts[c])
		total += pl.counts[c]
	}
	for g, lohi := range map[string][2]int{format.Rare: {1, 10}, format.Common: {11, 100}, format.Frequent: {101, 300}} {
		for _, n := range groups[g] {
			if n < lohi[0] || n > lohi[1] {
				t.Errorf("%s category with %d images, want %d..%d", g, n, lohi[0], lohi[1])
			}
		}
	}
	if len(groups[format.Rare]) != 6 || len(groups[format.Common]) != 7 || len(groups[format.Frequent]) != 7 {
		t.Errorf("group sizes %d/%d/%d, want 6/7/7", len(groups[format.Rare]), len(groups[format.Common]), len(groups[format.Frequent]))
	}
	// 2.5 instances per scene on average.
	if want := (2*total + 4) / 5; pl.trainScenes != want {
		t.Errorf("train scenes = %d for %d instances, want %d", pl.trainScenes, total, want)
	}
}

func TestLTSegRealData(t *testing.T) {
	if testing.Short() {
		t.Skip("reads all of MNIST and Fashion-MNIST")
	}
	mdir := realDataDir(t)
	fdir := "../../third_party/data/fashion-mnist"
	if _, err := findIDX(fdir); err != nil {
		t.Skip("Fashion-MNIST idx files not present (run make data)")
	}
	mn := runKind(t, DatasetKind(), nodes.Build{}, func(p *DatasetParams) { p.Dir = mdir }, nil)
	fa := runKind(t, DatasetKind(), nodes.Build{}, func(p *DatasetParams) { p.Name, p.Dir = "fashion-mnist", fdir }, nil)
	out := runKind(t, LTSegKind(), nodes.Build{}, func(p *LTSegParams) { p.Seed = 1 },
		map[string][]string{"mnist": {mn}, "fashion": {fa}})
	train, err := format.LoadSegmentation(filepath.Join(out, "train"))
	if err != nil {
		t.Fatal(err)
	}
	for c, n := range checkScenes(t, train, 4) {
		name := train.Meta.Classes[c]
		if g := groupOf(n, 10, 100); n < 1 || train.Meta.Groups[name] != g {
			t.Errorf("category %q in %d training images is %q, want %q", name, n, train.Meta.Groups[name], g)
		}
	}
	ref, err := format.LoadClassification(filepath.Join(out, "reference"))
	if err != nil {
		t.Fatal(err)
	}
	val, err := format.LoadSegmentation(filepath.Join(out, "val"))
	if err != nil {
		t.Fatal(err)
	}
	if want := 120000 - len(train.COCO.Annotations) - len(val.COCO.Annotations); ref.N != want {
		t.Errorf("reference has %d images, want %d", ref.N, want)
	}
	for c, n := range checkScenes(t, val, 4) {
		if n != 20 {
			t.Errorf("category %q is in %d val images, want 20", val.Meta.Classes[c], n)
		}
	}
	for c, safe := range val.Meta.MirrorSafe {
		if safe != (c >= 10) {
			t.Errorf("category %q: mirror_safe %v, want %v (digits no, fashion yes)", val.Meta.Classes[c], safe, c >= 10)
		}
	}
	t.Logf("train %d scenes, %d instances; val %d scenes; reference %d; output in %s", train.N, len(train.COCO.Annotations), val.N, ref.N, out)
}
