package nn

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// paramSpec declares one trainable tensor. Weights are He-normal with the
// given fan-in; biases start at zero.
type paramSpec struct {
	name  string
	shape []int
	fanIn int // 0 for biases
}

func convSpec(name string, out, in, k int) []paramSpec {
	return []paramSpec{
		{name + ".weight", []int{out, in, k, k}, in * k * k},
		{name + ".bias", []int{out}, 0},
	}
}

// linearSpec declares y = x·W + b with W stored [in, out] (the transpose of
// PyTorch's nn.Linear layout).
func linearSpec(name string, in, out int) []paramSpec {
	return []paramSpec{
		{name + ".weight", []int{in, out}, in},
		{name + ".bias", []int{out}, 0},
	}
}

// specs lists the parameters of a defaulted, valid config in their fixed
// order: the order of Params, of the flat vectors and of the manifest.
func (c Config) specs() []paramSpec {
	var ps []paramSpec
	switch c.Arch {
	case ArchMLP:
		in := c.H * c.W
		for i, h := range c.Hidden {
			ps = append(ps, linearSpec(fmt.Sprintf("fc%d", i+1), in, h)...)
			in = h
		}
		ps = append(ps, linearSpec("out", in, c.Classes)...)
	case ArchCNN:
		c1, c2 := c.Channels[0], c.Channels[1]
		ps = append(ps, convSpec("conv1", c1, 1, 3)...)
		ps = append(ps, convSpec("conv2", c2, c1, 3)...)
		ps = append(ps, linearSpec("fc", c2*(c.H/4)*(c.W/4), c.Classes)...)
	case ArchFCN:
		c1, c2 := c.Channels[0], c.Channels[1]
		ps = append(ps, convSpec("conv1", c1, 1, 3)...)
		ps = append(ps, convSpec("conv2", c1, c1, 3)...)
		ps = append(ps, convSpec("conv3", c2, c1, 3)...)
		ps = append(ps, convSpec("conv4", c2, c2, 3)...)
		ps = append(ps, convSpec("head", c.Classes+1, c1+c2, 1)...)
	}
	return ps
}

// forward builds the logits of x [N, 1, H, W] from the parameter nodes p
// (in specs order): [N, K] for classifiers, [N, K+1, H, W] for the fcn.
//
//	mlp: flatten → (linear → relu)* → linear
//	cnn: conv3x3 → relu → maxpool2 → conv3x3 → relu → maxpool2 → linear
//	fcn: f1 = relu(conv3x3(x)); f2 = relu(conv3x3(f1))            full res
//	     h = relu(conv3x3 dil 2(relu(conv3x3(maxpool2(f2)))))     half res
//	     logits = conv1x1(concat(f2, upsample2(h)))               full res
//
// All 3×3 convolutions are padded to keep their size.
func (c Config) forward(x *G.Node, p []*G.Node, sp *splitState) (*G.Node, error) {
	n := x.Shape()[0]
	switch c.Arch {
	case ArchMLP:
		h, err := G.Reshape(x, tensor.Shape{n, c.H * c.W})
		if err != nil {
			return nil, fmt.Errorf("flatten: %w", err)
		}
		for i := range c.Hidden {
			if h, err = linear(h, p[2*i], p[2*i+1], true, sp); err != nil {
				return nil, fmt.Errorf("layer fc%d: %w", i+1, err)
			}
		}
		l := len(c.Hidden)
		return linear(h, p[2*l], p[2*l+1], false, sp)
	case ArchCNN:
		h, err := conv(x, p[0], p[1], 1, true, true, sp)
		if err == nil {
			h, err = pool2(h, sp)
		}
		if err == nil {
			h, err = conv(h, p[2], p[3], 1, true, false, sp)
		}
		if err == nil {
			h, err = pool2(h, sp)
		}
		if err == nil {
			h, err = G.Reshape(h, tensor.Shape{n, c.Channels[1] * (c.H / 4) * (c.W / 4)})
		}
		if err != nil {
			return nil, err
		}
		return linear(h, p[4], p[5], false, sp)
	case ArchFCN:
		f, err := conv(x, p[0], p[1], 1, true, true, sp)
		if err == nil {
			f, err = conv(f, p[2], p[3], 1, true, false, sp)
		}
		var h *G.Node
		if err == nil {
			h, err = pool2(f, sp)
		}
		if err == nil {
			h, err = conv(h, p[4], p[5], 1, true, false, sp)
		}
		if err == nil {
			h, err = conv(h, p[6], p[7], 2, true, false, sp)
		}
		if err == nil {
			h, err = G.ApplyOp(newUp2(sp), h)
		}
		if err != nil {
			return nil, err
		}
		// The head: a 1×1 conv of concat(f, h) plus its bias, without the
		// concatenation.
		y, err := G.ApplyOp(newCatConv(true, sp), f, h, p[8], p[9])
		if err != nil {
			return nil, fmt.Errorf("head %v: %w", p[8].Shape(), err)
		}
		return y, nil
	}
	return nil, fmt.Errorf("unknown arch %q", c.Arch)
}

// conv is a stride-1 k×k convolution padded to keep the size, dilated by
// dil, plus bias and optional ReLU (one op: convOp with its bias fused
// in); input when x is the network's input (its gradient is not computed).
func conv(x, w, b *G.Node, dil int, relu, input bool, sp *splitState) (*G.Node, error) {
	k := w.Shape()[2]
	pad := dil * (k - 1) / 2
	y, err := G.ApplyOp(newConvBias(k, pad, dil, input, relu, sp), x, w, b)
	if err != nil {
		return nil, fmt.Errorf("conv %v: %w", w.Shape(), err)
	}
	return y, nil
}

func pool2(x *G.Node, sp *splitState) (*G.Node, error) {
	y, err := G.ApplyOp(newPool2(sp), x)
	if err != nil {
		return nil, fmt.Errorf("maxpool: %w", err)
	}
	return y, nil
}

func linear(x, w, b *G.Node, relu bool, sp *splitState) (*G.Node, error) {
	y, err := G.ApplyOp(newLinear(sp), x, w)
	if err != nil {
		return nil, fmt.Errorf("linear %v: %w", w.Shape(), err)
	}
	return G.ApplyOp(newBias(relu, sp), y, b)
}
