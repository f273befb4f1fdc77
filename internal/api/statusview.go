package api

import (
	"embed"
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"
)

//go:embed status.html
var statusFS embed.FS

var statusTemplate = template.Must(template.New("").Funcs(template.FuncMap{
	"pct":      pct,
	"seconds":  fmtSeconds,
	"ago":      ago,
	"tokens":   fmtTokens,
	"deref":    func(f *float64) float64 { return *f },
	"deref2":   func(s *string) string { return *s },
	"deref3":   func(i *int64) int64 { return *i },
	"float":    func(i int) float64 { return float64(i) },
	"unixTime": func(u int64) string { return time.Unix(u, 0).UTC().Format("2006-01-02 15:04:05 UTC") },
}).ParseFS(statusFS, "status.html"))

// statusView is what the template renders: the data and its charts.
type statusView struct {
	*Status
	Refresh int
}

func pct(part, whole float64) float64 {
	if whole <= 0 {
		return 0
	}
	return math.Max(0, math.Min(100, 100*part/whole))
}

func fmtSeconds(s float64) string {
	switch {
	case s <= 0:
		return "0"
	case s < 1:
		return fmt.Sprintf("%.0f ms", s*1000)
	case s < 120:
		return fmt.Sprintf("%.1f s", s)
	case s < 7200:
		return fmt.Sprintf("%.0f min", s/60)
	}
	return fmt.Sprintf("%.1f h", s/3600)
}

func ago(unix int64) string {
	return fmtSeconds(time.Since(time.Unix(unix, 0)).Seconds()) + " ago"
}

func fmtTokens(f float64) string {
	switch a := math.Abs(f); {
	case a >= 1e6:
		return fmt.Sprintf("%.1fM", f/1e6)
	case a >= 1e4:
		return fmt.Sprintf("%.0fk", f/1e3)
	}
	return fmt.Sprintf("%.0f", f)
}

// Bar is one rectangle of an SVG chart.
type Bar struct {
	X, Y, W, H float64
	Class      string
	Title      string
}

// UtilizationBars draws a pool's recent windows, oldest first, as bars of a
// 100×24 chart scaled to the quota (a bar past 100% is clipped at the top).
func (p PoolStatus) UtilizationBars() []Bar {
	n := float64(len(p.Utilization))
	var bars []Bar
	for i, u := range p.Utilization {
		h := math.Min(1, u) * 24
		cls := "ok"
		if u > 0.9 {
			cls = "hot"
		}
		bars = append(bars, Bar{X: float64(i) * 100 / n, Y: 24 - h, W: 100/n - 2, H: h, Class: cls,
			Title: fmt.Sprintf("%.0f%% of TPM, %d windows ago", u*100, len(p.Utilization)-1-i)})
	}
	return bars
}

// BarChart is a chart's bars and the value of its top.
type BarChart struct {
	Bars []Bar
	Top  int
}

// UtilizationText names the share of TPM used in the window under way and
// the highest of the recent windows.
func (p PoolStatus) UtilizationText() string {
	var cur, top float64
	for i, u := range p.Utilization {
		top = math.Max(top, u)
		if i == len(p.Utilization)-1 {
			cur = u
		}
	}
	return fmt.Sprintf("now %.1f%%, peak %.1f%% of TPM %s", cur*100, top*100, fmtTokens(float64(p.TPM)))
}

// RateChart is the per-minute endings as stacked bars in a 600×120 chart.
func (s *Status) RateChart() BarChart {
	bars, top := s.rateBars()
	return BarChart{bars, top}
}

func (s *Status) rateBars() (bars []Bar, top int) {
	for _, m := range s.Minutes {
		top = max(top, m.Succeeded+m.Failed+m.Other)
	}
	if top == 0 {
		return nil, 0
	}
	w := 600 / float64(len(s.Minutes))
	for i, m := range s.Minutes {
		y := 120.0
		for _, part := range []struct {
			n   int
			cls string
		}{{m.Succeeded, "ok"}, {m.Failed, "bad"}, {m.Other, "other"}} {
			if part.n == 0 {
				continue
			}
			h := 120 * float64(part.n) / float64(top)
			y -= h
			bars = append(bars, Bar{X: float64(i)*w + 1, Y: y, W: w - 2, H: h, Class: part.cls,
				Title: fmt.Sprintf("%s: %d %s", time.Unix(m.Start, 0).UTC().Format("15:04"), part.n, map[string]string{"ok": "succeeded", "bad": "failed", "other": "cancelled or expired"}[part.cls])})
		}
	}
	return bars, top
}

// Line is one SVG polyline of a chart, with a marker at each point (a
// single point draws no line).
type Line struct {
	Points string
	Dots   [][2]float64
	Class  string
	Label  string
}

// LineChart is a chart's lines and the value of its top.
type LineChart struct {
	Lines []Line
	Top   float64
}

// LatencyChart draws p50, p95 and p99 per minute in a 600×120 chart, scaled
// to the largest p99; minutes without successes are left out.
func (s *Status) LatencyChart() LineChart {
	lines, top := s.latencyLines()
	return LineChart{lines, top}
}

func (s *Status) latencyLines() (lines []Line, top float64) {
	for _, m := range s.Minutes {
		top = math.Max(top, m.P99Seconds)
	}
	if top == 0 {
		return nil, 0
	}
	w := 600 / float64(len(s.Minutes))
	for _, q := range []struct {
		label string
		get   func(MinuteStatus) float64
	}{{"p50", func(m MinuteStatus) float64 { return m.P50Seconds }}, {"p95", func(m MinuteStatus) float64 { return m.P95Seconds }},
		{"p99", func(m MinuteStatus) float64 { return m.P99Seconds }}} {
		l := Line{Class: q.label, Label: q.label}
		var pts []string
		for i, m := range s.Minutes {
			if m.Succeeded == 0 {
				continue
			}
			x, y := float64(i)*w+w/2, 120-115*q.get(m)/top
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
			l.Dots = append(l.Dots, [2]float64{x, y})
		}
		l.Points = strings.Join(pts, " ")
		lines = append(lines, l)
	}
	return lines, top
}

// Totals sums the minutes.
func (s *Status) Totals() MinuteStatus {
	var t MinuteStatus
	for _, m := range s.Minutes {
		t.Succeeded, t.Failed, t.Other = t.Succeeded+m.Succeeded, t.Failed+m.Failed, t.Other+m.Other
	}
	return t
}

// LastP95 is the p95 latency of the last minute with successes.
func (s *Status) LastP95() float64 {
	for i := len(s.Minutes) - 1; i >= 0; i-- {
		if s.Minutes[i].Succeeded > 0 {
			return s.Minutes[i].P95Seconds
		}
	}
	return 0
}

// MaxDepth is the deepest queue, to scale the queue bars.
func (s *Status) MaxDepth() float64 {
	m := 0
	for _, q := range s.Queues {
		m = max(m, q.Depth)
	}
	return float64(m)
}

// Done is a batch's ended requests.
func (b BatchStatus) Done() int { return b.Completed + b.Failed }
