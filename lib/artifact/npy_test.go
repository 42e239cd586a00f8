package artifact

import (
	"bytes"
	"reflect"
	"testing"
)

func TestNPYRoundTrip(t *testing.T) {
	cases := []*Array{
		F32Array([]float32{1, -2.5, 3e-8, 4, 5, 6}, 2, 3),
		F64Array([]float64{1.25}, 1),
		U8Array([]uint8{0, 255, 7}, 3),
		I32Array([]int32{-1, 2}, 2, 1),
		I64Array([]int64{1 << 40}, 1),
	}
	for _, a := range cases {
		var b bytes.Buffer
		if err := WriteNPY(&b, a); err != nil {
			t.Fatal(err)
		}
		if (b.Len()-len(dataBytes(a)))%64 != 0 {
			t.Errorf("%s: header not padded to 64 bytes: total %d", a.DType, b.Len())
		}
		got, err := ReadNPY(&b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, a) {
			t.Errorf("round trip of %s: got %+v, want %+v", a.DType, got, a)
		}
	}
}

func dataBytes(a *Array) []byte {
	n, _ := a.dataLen()
	size := map[string]int{"<f4": 4, "<f8": 8, "|u1": 1, "<i4": 4, "<i8": 8}[a.DType]
	return make([]byte, n*size)
}

// A file written by numpy.save(np.arange(3, dtype='<f4').reshape(3,)).
func TestNPYReadsNumpyHeader(t *testing.T) {
	h := "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }"
	for (10+len(h)+1)%64 != 0 {
		h += " "
	}
	h += "\n"
	b := []byte("\x93NUMPY\x01\x00")
	b = append(b, byte(len(h)), byte(len(h)>>8))
	b = append(b, h...)
	b = append(b, 0, 0, 0, 0, 0, 0, 0x80, 0x3f, 0, 0, 0, 0x40)
	a, err := ReadNPY(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{0, 1, 2}; !reflect.DeepEqual(a.F32, want) || !reflect.DeepEqual(a.Shape, []int{3}) {
		t.Errorf("got %v %v, want %v [3]", a.F32, a.Shape, want)
	}
}

func TestNPYRejects(t *testing.T) {
	for name, in := range map[string]string{
		"magic":     "NOTNUMPY....",
		"truncated": "\x93NUMPY\x01\x00\x10\x00{'descr'",
	} {
		if _, err := ReadNPY(bytes.NewReader([]byte(in))); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}
