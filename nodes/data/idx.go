package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// IDX is a parsed idx file of unsigned bytes (the format of MNIST): Dims
// are the sizes, outermost first, and Data holds their product of bytes in
// row-major order.
type IDX struct {
	Dims []int
	Data []uint8
}

// ReadIDX parses an idx stream of unsigned bytes; a gzip stream (magic
// 1f 8b) is decompressed first.
func ReadIDX(r io.Reader) (*IDX, error) {
	br := bufio.NewReader(r)
	if m, err := br.Peek(2); err == nil && m[0] == 0x1f && m[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("idx: gunzip: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	var magic [4]byte
	if _, err := io.ReadFull(br, magic[:]); err != nil {
		return nil, fmt.Errorf("idx: read magic: %w", err)
	}
	if magic[0] != 0 || magic[1] != 0 {
		return nil, errors.New("idx: not an idx file (bad magic)")
	}
	if magic[2] != 0x08 {
		return nil, fmt.Errorf("idx: element type 0x%02x is not supported (want 0x08, unsigned byte)", magic[2])
	}
	nd := int(magic[3])
	if nd < 1 || nd > 4 {
		return nil, fmt.Errorf("idx: %d dimensions are not supported", nd)
	}
	x := &IDX{Dims: make([]int, nd)}
	n := 1
	for i := range x.Dims {
		var d uint32
		if err := binary.Read(br, binary.BigEndian, &d); err != nil {
			return nil, fmt.Errorf("idx: read dimension %d: %w", i, err)
		}
		if d > 1<<28 || (d > 0 && n > (1<<31)/int(d)) {
			return nil, fmt.Errorf("idx: dimension %d of size %d is too large", i, d)
		}
		x.Dims[i] = int(d)
		n *= int(d)
	}
	x.Data = make([]uint8, n)
	if _, err := io.ReadFull(br, x.Data); err != nil {
		return nil, fmt.Errorf("idx: read %d bytes of data: %w", n, err)
	}
	return x, nil
}

// LoadIDX reads the idx file at path, gzipped or raw.
func LoadIDX(path string) (*IDX, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	x, err := ReadIDX(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return x, nil
}
