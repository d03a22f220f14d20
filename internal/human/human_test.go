package human

import (
	"math"
	"testing"
	"time"
)

func TestBytes(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int64
		want string
	}{
		{"zero", 0, "0 B"},
		{"bytes", 512, "512 B"},
		{"just under a KiB", 1023, "1023 B"},
		{"one KiB", 1024, "1.0 KiB"},
		{"MiB", 52 << 20, "52.0 MiB"},
		{"GiB with a decimal", 1288490189, "1.2 GiB"},
		{"TiB", 3 << 40, "3.0 TiB"},
		{"largest", math.MaxInt64, "8.0 EiB"},
		{"negative", -2048, "-2.0 KiB"},
		{"most negative", math.MinInt64, "-8.0 EiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Bytes(tc.n); got != tc.want {
				t.Errorf("Bytes(%d) = %q, want %q", tc.n, got, tc.want)
			}
		})
	}
}

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    time.Duration
		want string
	}{
		{"zero", 0, "0s"},
		{"negative", -time.Second, "0s"},
		{"microseconds", 420 * time.Microsecond, "420µs"},
		{"milliseconds", 850 * time.Millisecond, "850ms"},
		{"rounds to ms", 850*time.Millisecond + 400*time.Microsecond, "850ms"},
		{"tenths", 4200 * time.Millisecond, "4.2s"},
		{"whole seconds under ten", 3 * time.Second, "3s"},
		{"seconds", 12 * time.Second, "12s"},
		{"rounds up to a minute", 59*time.Second + 600*time.Millisecond, "1m00s"},
		{"minutes", 80 * time.Second, "1m20s"},
		{"padded seconds", 65 * time.Second, "1m05s"},
		{"rounds up to an hour", time.Hour - 200*time.Millisecond, "1h00m"},
		{"hours", 2*time.Hour + 5*time.Minute + 10*time.Second, "2h05m"},
		{"days stay hours", 50 * time.Hour, "50h00m"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Duration(tc.d); got != tc.want {
				t.Errorf("Duration(%v) = %q, want %q", tc.d, got, tc.want)
			}
		})
	}
}
