package ui

import (
	"fmt"
	"strings"
	"time"

	"github.com/hookd/hookd/internal/service"
)

// The chart of an endpoint's attempts by hour is an inline SVG drawn on
// the server: one column per hour, stacked by outcome, coloured by the
// style sheet (the page's CSP allows no inline style, and needs no
// script). Its viewBox is stretched to the width of the page, so it holds
// no text; the axes are HTML beside and below it.

// outcome is one series of the chart, an outcome as the statistics count
// it, bottom of the stack first.
type outcome struct {
	Class string // chart-<Class> colours it
	Label string
	Help  string // what it counts
	n     func(service.HourStats) int64
}

var outcomes = []outcome{
	{"ok", "Succeeded", "answered 2xx", func(h service.HourStats) int64 { return h.Succeeded }},
	{"3xx", "3xx", "redirects, which are not followed", func(h service.HourStats) int64 { return h.Failed3xx }},
	{"4xx", "4xx", "refused by the endpoint", func(h service.HourStats) int64 { return h.Failed4xx }},
	{"5xx", "5xx", "server errors and other statuses", func(h service.HourStats) int64 { return h.Failed5xx }},
	{"timeout", "Timed out", "no answer in time", func(h service.HourStats) int64 { return h.TimedOut }},
	{"conn", "Connection failed", "refused, reset, DNS, TLS or a blocked address", func(h service.HourStats) int64 { return h.ConnectionFailed }},
}

const (
	chartColumn = 10  // viewBox units per hour
	chartHeight = 100 // viewBox height
	// minSegment keeps an outcome seen once visible beside a peak of
	// thousands (about 2 px of the chart's 160).
	minSegment = 1.25
)

type chart struct {
	Width    int // of the viewBox
	Max, Mid int64
	Hours    int
	Bars     []bar
	Ticks    []tick // one per hour, most without text
	Legend   []legendItem
	// Rows are the hours with attempts, newest first: the chart as a
	// table, for screen readers and anyone who wants the numbers.
	Rows    []hourRow
	Busiest hourRow
	// Summary says what the chart shows in a sentence.
	Summary string
}

// tick is the x axis under one hour. Minor ticks (every other day of a
// week) are left out on a phone, where their text would not fit.
type tick struct {
	Text  string
	Minor bool
}

type bar struct {
	X, W  int
	Label string // the hour and its counts, in words
	Segs  []segment
}

type segment struct {
	Class string
	Y, H  float64
}

type legendItem struct {
	outcome
	Index int // in outcomes, and in hourRow.Counts
	Total int64
}

type hourRow struct {
	service.HourStats
	Label  string // "Wed 2 Dec 14:00"
	Counts []int64
}

// newChart draws st, whose window people call window ("24 hours").
func newChart(st service.EndpointStats, window string) chart {
	c := chart{Hours: len(st.Hours), Width: len(st.Hours) * chartColumn, Ticks: make([]tick, len(st.Hours))}
	var peak int64
	totals := make([]int64, len(outcomes))
	for _, h := range st.Hours {
		peak = max(peak, h.Attempts)
		for k, o := range outcomes {
			totals[k] += o.n(h)
		}
	}
	c.Max = niceCeil(peak)
	c.Mid = c.Max / 2
	for k, o := range outcomes {
		// Succeeded always, the failures that happened.
		if k == 0 || totals[k] > 0 {
			c.Legend = append(c.Legend, legendItem{o, k, totals[k]})
		}
	}
	day := len(st.Hours) > 48
	for i, h := range st.Hours {
		hour := h.Hour.UTC()
		// A label where there is room for it before the next one and
		// before the right edge: every 6 hours over a day, every
		// midnight over a week.
		switch {
		case i > len(st.Hours)-len(st.Hours)/8:
		case hour.Hour() == 0:
			c.Ticks[i] = tick{Text: hour.Format("2 Jan"), Minor: day && hour.YearDay()%2 == 1}
		case !day && hour.Hour()%6 == 0:
			c.Ticks[i] = tick{Text: hour.Format("15:04")}
		}
		b := bar{X: i*chartColumn + 1, W: chartColumn - 2, Label: hourLabel(h)}
		y := float64(chartHeight)
		for _, o := range outcomes {
			n := o.n(h)
			if n == 0 {
				continue
			}
			height := max(float64(n)/float64(c.Max)*chartHeight, minSegment)
			y = max(y-height, 0)
			b.Segs = append(b.Segs, segment{Class: o.Class, Y: round2(y), H: round2(height)})
		}
		c.Bars = append(c.Bars, b)
	}
	for i := len(st.Hours) - 1; i >= 0; i-- {
		h := st.Hours[i]
		if h.Attempts == 0 {
			continue
		}
		row := hourRow{HourStats: h, Label: h.Hour.UTC().Format("Mon 2 Jan 15:04")}
		for _, o := range outcomes {
			row.Counts = append(row.Counts, o.n(h))
		}
		c.Rows = append(c.Rows, row)
		if h.Attempts > c.Busiest.Attempts {
			c.Busiest = row
		}
	}
	c.Summary = fmt.Sprintf("%s in the last %s, %s succeeded.", pluralize(int(st.Attempts), "attempt", "attempts"), window, grouped(st.Succeeded))
	if c.Busiest.Attempts > 0 {
		c.Summary += fmt.Sprintf(" The busiest hour was %s UTC, with %s.", c.Busiest.Label, grouped(c.Busiest.Attempts))
	}
	return c
}

// hourLabel says an hour's counts in words, for the bar's title.
func hourLabel(h service.HourStats) string {
	var b strings.Builder
	from := h.Hour.UTC()
	fmt.Fprintf(&b, "%s–%s UTC: ", from.Format("Mon 2 Jan 15:04"), from.Add(time.Hour).Format("15:04"))
	if h.Attempts == 0 {
		b.WriteString("no attempts")
		return b.String()
	}
	b.WriteString(pluralize(int(h.Attempts), "attempt", "attempts"))
	sep := ": "
	for _, o := range outcomes {
		if n := o.n(h); n > 0 {
			fmt.Fprintf(&b, "%s%s %s", sep, grouped(n), strings.ToLower(o.Label))
			sep = ", "
		}
	}
	return b.String()
}

// niceCeil is the top of the chart's scale: a round number at or above
// peak whose half is a whole number too (2, 4, 6, 8, 10, 20, 40, …).
func niceCeil(peak int64) int64 {
	for scale := int64(1); ; scale *= 10 {
		for _, m := range []int64{2, 4, 6, 8, 10} {
			if m*scale >= peak {
				return m * scale
			}
		}
	}
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }
