package report

import (
	"context"
	"fmt"
	"image/png"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// chromium returns the headless browser, or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium not found: install it (apt-get install -y chromium) to render the report page in a real browser; CI does")
	return ""
}

// browse runs headless Chromium on page with one more flag (--dump-dom or
// --screenshot=…) and returns its stdout.
func browse(t *testing.T, exe, page, flag string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--window-size=1280,2000", flag, "file://"+page)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", flag, err, errb.String())
	}
	return out.String()
}

var (
	attrRE = regexp.MustCompile(`(?:src|href)="([^"]*)"`)
	idRE   = regexp.MustCompile(`id="([^"]*)"`)
)

// widen adds n copies of t's first metric under long names, read from its
// first source, so that the report table is far wider than the window.
func widen(t *Table, n int) {
	for k := range n {
		t.Metrics = append(t.Metrics, fmt.Sprintf("%s_copy_%d_with_a_long_name", t.Metrics[0], k))
		t.From = append(t.From, t.From[0])
		for i := range t.Rows {
			t.Rows[i].Cells = append(t.Rows[i].Cells, t.Rows[i].Cells[0])
		}
	}
}

// TestHTMLInChromium renders the report page of the synthetic experiment
// in headless Chromium and checks what a reader sees: a screenshot of the
// right size that is not blank, and a DOM with the tables, every image
// loaded from an existing file, no broken relative link, and a page no
// wider than the window although the report table (widened to 20 columns)
// is.
func TestHTMLInChromium(t *testing.T) {
	exe := chromium(t)
	r, dir := runSynth(t)
	widen(r.Table, 8)
	out := filepath.Join(dir, "report")
	if err := r.WriteHTML(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	page, err := filepath.Abs(IndexPath(out))
	if err != nil {
		t.Fatal(err)
	}

	dom := browse(t, exe, page, "--dump-dom")
	for _, want := range []string{`<table id="report-table"`, `<table id="nodes-table">`, "metrics of <code>train</code>", `data-page-overflow="0"`, "Δ ap", "baseline", "kept_vs_dropped.png", "evaluate[method=bsgal,amount=50,seed=3]"} {
		if !strings.Contains(dom, want) {
			t.Errorf("DOM lacks %q", want)
		}
	}
	if n := strings.Count(dom, `<tr`); n < 1+4+1+len(r.Plan.Items) {
		t.Errorf("DOM has %d table rows, want at least %d", n, 1+4+1+len(r.Plan.Items))
	}
	imgs := strings.Count(dom, "<img ")
	if imgs < 11 { // 10 plots and the kept-vs-dropped picture
		t.Errorf("DOM has %d images, want at least 11", imgs)
	}
	if want := `data-images="` + strconv.Itoa(imgs) + `" data-broken-images="0"`; !strings.Contains(dom, want) {
		m := regexp.MustCompile(`<body[^>]*>`).FindString(dom)
		t.Errorf("images not all loaded: body is %s, want %s", m, want)
	}
	ids := map[string]bool{}
	for _, m := range idRE.FindAllStringSubmatch(dom, -1) {
		ids[m[1]] = true
	}
	links := 0
	for _, m := range attrRE.FindAllStringSubmatch(dom, -1) {
		ref := strings.ReplaceAll(m[1], "&amp;", "&")
		u, err := url.Parse(ref)
		if err != nil {
			t.Errorf("bad link %q: %v", ref, err)
			continue
		}
		if u.Scheme != "" || u.Host != "" || strings.HasPrefix(u.Path, "/") {
			t.Errorf("link %q is not relative", ref)
			continue
		}
		if u.Path == "" {
			if !ids[u.Fragment] {
				t.Errorf("anchor %q has no target", ref)
			}
			continue
		}
		links++
		if _, err := os.Stat(filepath.Join(out, filepath.FromSlash(u.Path))); err != nil {
			t.Errorf("broken link %q: %v", ref, err)
		}
	}
	if links < imgs {
		t.Errorf("only %d file links checked", links)
	}

	shot := filepath.Join(dir, "shot.png")
	browse(t, exe, page, "--screenshot="+shot)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 2000 {
		t.Errorf("screenshot is %dx%d, want 1280x2000", b.Dx(), b.Dy())
	}
	colors, ink, total := map[[3]uint32]bool{}, 0, 0
	for y := 0; y < img.Bounds().Dy(); y += 4 {
		for x := 0; x < img.Bounds().Dx(); x += 4 {
			r, g, b, _ := img.At(x, y).RGBA()
			colors[[3]uint32{r >> 8, g >> 8, b >> 8}] = true
			if r>>8 < 200 || g>>8 < 200 || b>>8 < 200 {
				ink++
			}
			total++
		}
	}
	if len(colors) < 50 || ink*100 < total*3 {
		t.Errorf("screenshot looks blank: %d colours, %d of %d sampled pixels dark", len(colors), ink, total)
	}
}
