package version

import "testing"

func TestSame(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"1.2.0", "v1.2.0", true},
		{"v1.2", "1.2.0", true},
		{"1.2.0", "1.2.1", false},
		{"1.2.0-rc.1", "1.2.0", false},
		{"latest", "vlatest", true},
		{"latest", "stable", false},
		{"1.2.0", "latest", false},
	} {
		if got := Same(c.a, c.b); got != c.want {
			t.Errorf("Same(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
