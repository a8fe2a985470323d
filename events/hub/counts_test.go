package hub

import (
	"maps"
	"testing"
)

func TestChannelCounts(t *testing.T) {
	c := ChannelCounts{Channels: []string{"b", "a"}, Counts: []int{2, 1}}
	tests := []struct {
		ch     string
		want   int
		wantOK bool
	}{
		{"a", 1, true},
		{"b", 2, true},
		{"z", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.ch, func(t *testing.T) {
			if got, ok := c.Of(tt.ch); got != tt.want || ok != tt.wantOK {
				t.Errorf("Of(%q) = %d, %v; want %d, %v", tt.ch, got, ok, tt.want, tt.wantOK)
			}
		})
	}
	if got, want := c.Map(), map[string]int{"a": 1, "b": 2}; !maps.Equal(got, want) {
		t.Errorf("Map() = %v, want %v", got, want)
	}
	if got := (ChannelCounts{}).Map(); got != nil {
		t.Errorf("Map() of no channels = %v, want nil (null in JSON)", got)
	}
}

// TestCountsOfSharesOneSliceSafely: countsOf hands each event its part of
// one slice, clipped, so appending to one part cannot write into the next.
func TestCountsOfSharesOneSliceSafely(t *testing.T) {
	all := make([]int, 3)
	first := countsOf([]string{"a", "b"}, &all)
	second := countsOf([]string{"c"}, &all)
	if len(first.Counts) != 2 || len(second.Counts) != 1 || len(all) != 0 {
		t.Fatalf("parts of %d and %d, %d left; want 2, 1 and 0", len(first.Counts), len(second.Counts), len(all))
	}
	second.Counts[0] = 7
	_ = append(first.Counts, 99)
	if second.Counts[0] != 7 {
		t.Errorf("appending to the first part changed the second: %d, want 7", second.Counts[0])
	}
	if cap(first.Counts) != 2 {
		t.Errorf("first part's capacity %d, want 2", cap(first.Counts))
	}
}
