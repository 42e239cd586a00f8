package selection

import (
	"compress/gzip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// testMerges is a tiny merges file: CLIP's header line, then six merges
// (ranks 0..5). Token ids: the 256 byte runes (0..255, printable ASCII
// first: '!' = 0, ',' = 11, 'd' = 67, 'i' = 72, 'l' = 75, 's' = 82,
// 't' = 83), the same with </w> (256..511), the merges (512..517),
// <|startoftext|> = 518, <|endoftext|> = 519.
const testMerges = "#version: 0.2\nh e\nl l\nhe ll\nhell o</w>\nw o\nwo r\n"

func writeMerges(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "merges.txt")
	if err := os.WriteFile(p, []byte(testMerges), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTokenizerHand checks tokenizations worked by hand:
//
//	"Hello,  hello WORLD!!" → lowercased, spaces collapsed → pieces
//	"hello" "," "hello" "world" "!!".
//	hello: h e l l o</w> → (h,e) rank 0 → he l l o</w> → (l,l) rank 1 →
//	  he ll o</w> → (he,ll) rank 2 → hell o</w> → rank 3 → hello</w> = 515.
//	",": ,</w> = 256+11 = 267.
//	world: w o r l d</w> → (w,o) rank 4 → wo r l d</w> → (wo,r) rank 5 →
//	  wor l d</w>: wor = 517, l = 75, d</w> = 256+67 = 323.
//	"!!": ! !</w> = 0, 256.
func TestTokenizerHand(t *testing.T) {
	tok, err := LoadTokenizer(writeMerges(t, t.TempDir()), "")
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != 520 {
		t.Errorf("VocabSize = %d, want 520", tok.VocabSize())
	}
	for _, tc := range []struct {
		text string
		want []int64
	}{
		{"Hello,  hello WORLD!!", []int64{518, 515, 267, 515, 517, 75, 323, 0, 256, 519}},
		// 's splits off; é is the bytes C3 A9, byte runes Ã (index 127) and
		// © (index 102): 127, 256+102.
		{"it's é", []int64{518, 72, 256 + 83, 6, 256 + 82, 127, 256 + 102, 519}},
		// Digits are single pieces; &amp; unescapes to &.
		{"12 &amp; x", []int64{518, 256 + 16, 256 + 17, 256 + 5, 256 + 87, 519}},
	} {
		ids, n, err := tok.Encode(tc.text)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != ContextLength || n != len(tc.want) {
			t.Fatalf("Encode(%q): %d ids, n %d, want %d, n %d", tc.text, len(ids), n, ContextLength, len(tc.want))
		}
		if !slices.Equal(ids[:n], tc.want) || slices.ContainsFunc(ids[n:], func(x int64) bool { return x != 0 }) {
			t.Errorf("Encode(%q) = %v, want %v then zeros", tc.text, ids[:n], tc.want)
		}
	}
	long, n, err := tok.Encode(strings.Repeat("a ", 100))
	if err != nil {
		t.Fatal(err)
	}
	if n != ContextLength || long[0] != 518 || long[76] != 519 || long[75] != 256+64 {
		t.Errorf("a long text: n %d, first %d, last %d, before it %d", n, long[0], long[76], long[75])
	}
}

func TestTokenizerFiles(t *testing.T) {
	dir := t.TempDir()
	plain := writeMerges(t, dir)
	gz := filepath.Join(dir, "bpe.txt.gz")
	f, err := os.Create(gz)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	zw.Write([]byte(testMerges))
	zw.Close()
	f.Close()
	a, _ := LoadTokenizer(plain, "")
	b, err := LoadTokenizer(gz, "")
	if err != nil {
		t.Fatal(err)
	}
	x, _, _ := a.Encode("hello world")
	y, _, _ := b.Encode("hello world")
	if !slices.Equal(x, y) {
		t.Errorf("gzipped merges tokenize differently: %v vs %v", y, x)
	}
	// A vocab.json replaces the ids.
	vocab := filepath.Join(dir, "vocab.json")
	os.WriteFile(vocab, []byte(`{"hello</w>": 7, "<|startoftext|>": 1, "<|endoftext|>": 2}`), 0o644)
	v, err := LoadTokenizer(plain, vocab)
	if err != nil {
		t.Fatal(err)
	}
	if ids, n, err := v.Encode("hello"); err != nil || !slices.Equal(ids[:n], []int64{1, 7, 2}) {
		t.Errorf("with vocab.json: %v, %v", ids[:n], err)
	}
	if _, _, err := v.Encode("world"); err == nil || !strings.Contains(err.Error(), "not in the vocabulary") {
		t.Errorf("unknown token: %v", err)
	}
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(bad, []byte("#version: 0.2\nabc\n"), 0o644)
	if _, err := LoadTokenizer(bad, ""); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad merges: %v", err)
	}
}
