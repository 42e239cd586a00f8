package spec

import (
	"strings"
	"testing"
)

func TestResourcesPartition(t *testing.T) {
	s, err := Parse("p.yaml", []byte(`name: p
nodes:
  a: {kind: k, resources: {cpu: 2, partition: gpu}}
  b: {kind: k, resources: {cpu: 1}}
`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a := s.Nodes[0]; a.Partition != "gpu" || a.Resources["cpu"] != 2 || len(a.Resources) != 1 {
		t.Errorf("a: partition %q, resources %v", a.Partition, a.Resources)
	}
	if b := s.Nodes[1]; b.Partition != "" {
		t.Errorf("b: partition %q, want none", b.Partition)
	}
	_, err = Parse("p.yaml", []byte("name: p\nnodes:\n  a: {kind: k, resources: {partition: 3}}\n"), Options{})
	if err == nil || !strings.Contains(err.Error(), `p.yaml:3:39: node "a": resource "partition" must be a partition name`) {
		t.Errorf("err = %v", err)
	}
}
