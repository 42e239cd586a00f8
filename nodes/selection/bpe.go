package selection

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"html"
	"os"
	"regexp"
	"strings"
)

// ContextLength is CLIP's text context: start token, up to 75 tokens, end
// token, zero padding.
const ContextLength = 77

// clipMerges is how many merges CLIP's vocabulary uses (49152 − 256 − 2).
const clipMerges = 49152 - 256 - 2

// Tokenizer is CLIP's byte-level BPE tokenizer.
type Tokenizer struct {
	encoder    map[string]int
	ranks      map[[2]string]int
	byteRune   [256]rune
	sot, eot   int
	preTokenRE *regexp.Regexp
}

// byteRunes is GPT-2/CLIP's reversible byte → printable rune table, in the
// order the vocabulary lists them: the printable Latin-1 bytes map to
// themselves, the others to 256, 257, ... in byte order.
func byteRunes() (order []byte, table [256]rune) {
	printable := func(b int) bool {
		return b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE && b <= 0xFF
	}
	for b := 0; b < 256; b++ {
		if printable(b) {
			order = append(order, byte(b))
			table[b] = rune(b)
		}
	}
	n := 0
	for b := 0; b < 256; b++ {
		if !printable(b) {
			order = append(order, byte(b))
			table[b] = rune(256 + n)
			n++
		}
	}
	return order, table
}

// LoadTokenizer reads a BPE merges file — OpenAI CLIP's
// bpe_simple_vocab_16e6.txt (optionally gzipped) or a Hugging Face
// merges.txt: an optional "#version" line, then one "a b" merge per line —
// and builds CLIP's vocabulary from it: the 256 byte runes, the same with
// "</w>", one token per merge (at most 48894), <|startoftext|>,
// <|endoftext|>. vocabPath, when not empty, is a Hugging Face vocab.json
// whose ids replace the built ones.
func LoadTokenizer(mergesPath, vocabPath string) (*Tokenizer, error) {
	b, err := os.ReadFile(mergesPath)
	if err != nil {
		return nil, fmt.Errorf("load bpe merges: %w", err)
	}
	if bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("load bpe merges %q: %w", mergesPath, err)
		}
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(zr); err != nil {
			return nil, fmt.Errorf("load bpe merges %q: gunzip: %w", mergesPath, err)
		}
		b = buf.Bytes()
	}
	var merges [][2]string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimRight(sc.Text(), "\r")
		if line == 1 && strings.HasPrefix(s, "#version") || s == "" {
			continue
		}
		f := strings.Split(s, " ")
		if len(f) != 2 || f[0] == "" || f[1] == "" {
			return nil, fmt.Errorf("load bpe merges %q: line %d: %q is not a merge \"a b\"", mergesPath, line, s)
		}
		merges = append(merges, [2]string{f[0], f[1]})
		if len(merges) == clipMerges {
			break
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("load bpe merges %q: %w", mergesPath, err)
	}
	t := &Tokenizer{encoder: map[string]int{}, ranks: make(map[[2]string]int, len(merges)),
		preTokenRE: regexp.MustCompile(`(?i)<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+`)}
	order, table := byteRunes()
	t.byteRune = table
	vocab := make([]string, 0, 512+len(merges)+2)
	for _, b := range order {
		vocab = append(vocab, string(table[b]))
	}
	for _, b := range order {
		vocab = append(vocab, string(table[b])+"</w>")
	}
	for i, m := range merges {
		vocab = append(vocab, m[0]+m[1])
		t.ranks[m] = i
	}
	vocab = append(vocab, "<|startoftext|>", "<|endoftext|>")
	for i, v := range vocab {
		t.encoder[v] = i
	}
	if vocabPath != "" {
		vb, err := os.ReadFile(vocabPath)
		if err != nil {
			return nil, fmt.Errorf("load bpe vocab: %w", err)
		}
		enc := map[string]int{}
		if err := json.Unmarshal(vb, &enc); err != nil {
			return nil, fmt.Errorf("load bpe vocab %q: %w", vocabPath, err)
		}
		t.encoder = enc
	}
	var ok1, ok2 bool
	t.sot, ok1 = t.encoder["<|startoftext|>"]
	t.eot, ok2 = t.encoder["<|endoftext|>"]
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("load bpe vocab %q: no <|startoftext|> or <|endoftext|> token", vocabPath)
	}
	return t, nil
}

// VocabSize is the number of token ids.
func (t *Tokenizer) VocabSize() int { return len(t.encoder) }

// Encode tokenizes text as CLIP does — HTML entities unescaped, whitespace
// collapsed, lowercased, split by CLIP's pattern, each piece's UTF-8 bytes
// mapped to byte runes and merged by BPE with "</w>" marking the word end —
// and returns ContextLength ids: <|startoftext|>, the tokens, <|endoftext|>,
// zeros. Longer texts are cut so that the end token stays last. (CLIP also
// runs ftfy.fix_text first; that repairs broken Unicode, which prompts
// built from category names do not have.) n is the number of ids before
// the padding.
func (t *Tokenizer) Encode(text string) (ids []int64, n int, err error) {
	text = html.UnescapeString(html.UnescapeString(text))
	text = strings.ToLower(strings.Join(strings.Fields(text), " "))
	ids = make([]int64, 0, ContextLength)
	ids = append(ids, int64(t.sot))
	for _, piece := range t.preTokenRE.FindAllString(text, -1) {
		if piece == "<|startoftext|>" || piece == "<|endoftext|>" {
			ids = append(ids, int64(t.encoder[piece]))
			continue
		}
		var word []rune
		for _, b := range []byte(piece) {
			word = append(word, t.byteRune[b])
		}
		for _, tok := range t.bpe(word) {
			id, ok := t.encoder[tok]
			if !ok {
				return nil, 0, fmt.Errorf("tokenize %q: token %q is not in the vocabulary", text, tok)
			}
			ids = append(ids, int64(id))
		}
	}
	if len(ids) > ContextLength-1 {
		ids = ids[:ContextLength-1]
	}
	ids = append(ids, int64(t.eot))
	n = len(ids)
	for len(ids) < ContextLength {
		ids = append(ids, 0)
	}
	return ids, n, nil
}

// bpe merges the runes of one pre-token: start from single runes with
// "</w>" on the last, then repeatedly merge every occurrence of the
// adjacent pair of lowest rank until no pair has one.
func (t *Tokenizer) bpe(runes []rune) []string {
	word := make([]string, len(runes))
	for i, r := range runes {
		word[i] = string(r)
	}
	word[len(word)-1] += "</w>"
	for len(word) > 1 {
		best, bestRank := [2]string{}, -1
		for i := 0; i+1 < len(word); i++ {
			p := [2]string{word[i], word[i+1]}
			if r, ok := t.ranks[p]; ok && (bestRank < 0 || r < bestRank) {
				best, bestRank = p, r
			}
		}
		if bestRank < 0 {
			break
		}
		merged := make([]string, 0, len(word))
		for i := 0; i < len(word); {
			if i+1 < len(word) && word[i] == best[0] && word[i+1] == best[1] {
				merged = append(merged, best[0]+best[1])
				i += 2
			} else {
				merged = append(merged, word[i])
				i++
			}
		}
		word = merged
	}
	return word
}
