package remote

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

func queued(s *slots) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.urgent) + len(s.rest)
}

func free(s *slots) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.free
}

// waitQueued waits until n callers wait for a slot.
func waitQueued(t *testing.T, s *slots, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); queued(s) != n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d waiters, want %d", queued(s), n)
		}
	}
}

// A freed slot goes to an urgent waiter (a lookup) before others that
// waited longer (downloads); waiters of one class are served in arrival
// order; every slot comes back.
func TestSlotsUrgentFirst(t *testing.T) {
	s := newSlots(1)
	ctx := context.Background()
	if err := s.acquire(ctx, false); err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		order []string
		wg    sync.WaitGroup
	)
	start := func(name string, urgent bool, n int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.acquire(ctx, urgent)
			mu.Lock()
			if err != nil {
				name = err.Error()
			}
			order = append(order, name)
			mu.Unlock()
			if err == nil {
				s.release()
			}
		}()
		waitQueued(t, s, n)
	}
	start("download 1", false, 1)
	start("download 2", false, 2)
	start("lookup", true, 3)
	s.release()
	wg.Wait()
	if want := []string{"lookup", "download 1", "download 2"}; !slices.Equal(order, want) {
		t.Fatalf("served %q, want %q", order, want)
	}
	if free(s) != 1 || queued(s) != 0 {
		t.Fatalf("free %d, queued %d at the end; want 1, 0", free(s), queued(s))
	}
}

// A waiter whose context ends leaves the queue without a slot, and the
// slot count stays whole.
func TestSlotsCancelledWaiter(t *testing.T) {
	s := newSlots(1)
	if err := s.acquire(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.acquire(ctx, true) }()
	waitQueued(t, s, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("acquire: %v, want context.Canceled", err)
	}
	if queued(s) != 0 {
		t.Fatalf("%d waiters after the cancel, want 0", queued(s))
	}
	s.release()
	if free(s) != 1 {
		t.Fatalf("free %d, want 1", free(s))
	}
	// A cancelled context with a slot free still gets it (as a send on a
	// channel with room would).
	if err := s.acquire(ctx, false); err != nil {
		t.Fatalf("acquire with a free slot: %v", err)
	}
}
