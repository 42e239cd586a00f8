package artifact

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// Array is an n-dimensional array read from or written to .npy. Exactly one
// of the data slices is set, matching DType.
type Array struct {
	DType string // "<f4", "<f8", "|u1", "<i4", "<i8"
	Shape []int
	F32   []float32
	F64   []float64
	U8    []uint8
	I32   []int32
	I64   []int64
}

// Len is the number of elements the shape describes.
func (a *Array) Len() int {
	n := 1
	for _, d := range a.Shape {
		n *= d
	}
	return n
}

// F32Array wraps data with a shape.
func F32Array(data []float32, shape ...int) *Array {
	return &Array{DType: "<f4", Shape: shape, F32: data}
}

// F64Array wraps data with a shape.
func F64Array(data []float64, shape ...int) *Array {
	return &Array{DType: "<f8", Shape: shape, F64: data}
}

// U8Array wraps data with a shape.
func U8Array(data []uint8, shape ...int) *Array { return &Array{DType: "|u1", Shape: shape, U8: data} }

// I32Array wraps data with a shape.
func I32Array(data []int32, shape ...int) *Array {
	return &Array{DType: "<i4", Shape: shape, I32: data}
}

// I64Array wraps data with a shape.
func I64Array(data []int64, shape ...int) *Array {
	return &Array{DType: "<i8", Shape: shape, I64: data}
}

func (a *Array) dataLen() (int, error) {
	switch a.DType {
	case "<f4":
		return len(a.F32), nil
	case "<f8":
		return len(a.F64), nil
	case "|u1":
		return len(a.U8), nil
	case "<i4":
		return len(a.I32), nil
	case "<i8":
		return len(a.I64), nil
	}
	return 0, fmt.Errorf("unsupported dtype %q", a.DType)
}

// WriteNPY writes a as NumPy format version 1.0.
func WriteNPY(w io.Writer, a *Array) error {
	n, err := a.dataLen()
	if err != nil {
		return err
	}
	if n != a.Len() {
		return fmt.Errorf("npy: shape %v holds %d elements, data has %d", a.Shape, a.Len(), n)
	}
	dims := make([]string, len(a.Shape))
	for i, d := range a.Shape {
		dims[i] = strconv.Itoa(d)
	}
	shape := strings.Join(dims, ", ")
	if len(a.Shape) == 1 {
		shape += ","
	}
	header := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", a.DType, shape)
	// magic(6) + version(2) + len(2) + header + '\n' padded to 64 bytes.
	total := 10 + len(header) + 1
	pad := (64 - total%64) % 64
	header += strings.Repeat(" ", pad) + "\n"
	bw := bufio.NewWriter(w)
	bw.WriteString("\x93NUMPY\x01\x00")
	binary.Write(bw, binary.LittleEndian, uint16(len(header)))
	bw.WriteString(header)
	var buf [8]byte
	switch a.DType {
	case "<f4":
		for _, v := range a.F32 {
			binary.LittleEndian.PutUint32(buf[:4], math.Float32bits(v))
			bw.Write(buf[:4])
		}
	case "<f8":
		for _, v := range a.F64 {
			binary.LittleEndian.PutUint64(buf[:8], math.Float64bits(v))
			bw.Write(buf[:8])
		}
	case "|u1":
		bw.Write(a.U8)
	case "<i4":
		for _, v := range a.I32 {
			binary.LittleEndian.PutUint32(buf[:4], uint32(v))
			bw.Write(buf[:4])
		}
	case "<i8":
		for _, v := range a.I64 {
			binary.LittleEndian.PutUint64(buf[:8], uint64(v))
			bw.Write(buf[:8])
		}
	}
	return bw.Flush()
}

// SaveNPY writes a to path.
func SaveNPY(path string, a *Array) error {
	var b bytes.Buffer
	if err := WriteNPY(&b, a); err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

var (
	descrRE = regexp.MustCompile(`'descr':\s*'([^']*)'`)
	orderRE = regexp.MustCompile(`'fortran_order':\s*(True|False)`)
	shapeRE = regexp.MustCompile(`'shape':\s*\(([^)]*)\)`)
)

// ReadNPY reads a version 1.0/2.0 .npy stream in C order.
func ReadNPY(r io.Reader) (*Array, error) {
	br := bufio.NewReader(r)
	var magic [8]byte
	if _, err := io.ReadFull(br, magic[:]); err != nil {
		return nil, fmt.Errorf("npy: read magic: %w", err)
	}
	if string(magic[:6]) != "\x93NUMPY" {
		return nil, errors.New("npy: not a .npy file (bad magic)")
	}
	var hlen int
	switch magic[6] {
	case 1:
		var l uint16
		if err := binary.Read(br, binary.LittleEndian, &l); err != nil {
			return nil, fmt.Errorf("npy: read header length: %w", err)
		}
		hlen = int(l)
	case 2, 3:
		var l uint32
		if err := binary.Read(br, binary.LittleEndian, &l); err != nil {
			return nil, fmt.Errorf("npy: read header length: %w", err)
		}
		hlen = int(l)
	default:
		return nil, fmt.Errorf("npy: unsupported version %d", magic[6])
	}
	if hlen > 1<<20 {
		return nil, fmt.Errorf("npy: header of %d bytes is too long", hlen)
	}
	hb := make([]byte, hlen)
	if _, err := io.ReadFull(br, hb); err != nil {
		return nil, fmt.Errorf("npy: read header: %w", err)
	}
	h := string(hb)
	m := descrRE.FindStringSubmatch(h)
	if m == nil {
		return nil, errors.New("npy: header has no descr")
	}
	a := &Array{DType: m[1]}
	if a.DType == "<u1" {
		a.DType = "|u1"
	}
	if o := orderRE.FindStringSubmatch(h); o != nil && o[1] == "True" {
		return nil, errors.New("npy: fortran order is not supported")
	}
	s := shapeRE.FindStringSubmatch(h)
	if s == nil {
		return nil, errors.New("npy: header has no shape")
	}
	n := 1
	for _, f := range strings.Split(s[1], ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		d, err := strconv.Atoi(f)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("npy: bad shape %q", s[1])
		}
		if d > 0 && n > math.MaxInt32/d {
			return nil, fmt.Errorf("npy: shape %q is too large", s[1])
		}
		a.Shape = append(a.Shape, d)
		n *= d
	}
	var size int
	switch a.DType {
	case "<f4", "<i4":
		size = 4
	case "<f8", "<i8":
		size = 8
	case "|u1":
		size = 1
	default:
		return nil, fmt.Errorf("npy: unsupported dtype %q", a.DType)
	}
	raw := make([]byte, n*size)
	if _, err := io.ReadFull(br, raw); err != nil {
		return nil, fmt.Errorf("npy: read %d elements: %w", n, err)
	}
	switch a.DType {
	case "<f4":
		a.F32 = make([]float32, n)
		for i := range a.F32 {
			a.F32[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case "<f8":
		a.F64 = make([]float64, n)
		for i := range a.F64 {
			a.F64[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
		}
	case "|u1":
		a.U8 = raw
	case "<i4":
		a.I32 = make([]int32, n)
		for i := range a.I32 {
			a.I32[i] = int32(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case "<i8":
		a.I64 = make([]int64, n)
		for i := range a.I64 {
			a.I64[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
		}
	}
	return a, nil
}

// LoadNPY reads the .npy file at path.
func LoadNPY(path string) (*Array, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	a, err := ReadNPY(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}
