// Package human formats sizes and durations for people: the one way
// upshift prints bytes and times in messages, logs and the TUI.
package human

import (
	"fmt"
	"time"
)

// Bytes prints a size in powers of 1024 with one decimal: "512 B",
// "1.0 KiB", "1.2 GiB". Negative sizes keep their sign.
func Bytes(n int64) string {
	if n < 0 {
		if n == -n { // math.MinInt64 has no positive counterpart
			return "-8.0 EiB"
		}
		return "-" + Bytes(-n)
	}
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for v := n / unit; v >= unit; v /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Duration prints a duration short, with the precision an admin reads:
//
//	< 1ms   "0s" for zero or less, else microseconds ("420µs")
//	< 1s    milliseconds ("850ms")
//	< 10s   tenths of a second ("4.2s")
//	< 1m    seconds ("42s")
//	< 1h    minutes and two-digit seconds ("1m05s", "12m30s")
//	>= 1h   hours and two-digit minutes, seconds dropped ("2h05m")
func Duration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	}
	if d < time.Hour-time.Second/2 {
		d = d.Round(time.Second)
		if d < time.Minute {
			return d.String()
		}
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}
