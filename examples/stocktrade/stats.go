package stocktrade

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// Stats are the trade statistics of one reporting interval, the numbers the AWS tutorial's
// consumer reports, per trade type.
type Stats struct {
	ByType map[TradeType]*TypeStats
}

// TypeStats are the statistics of one trade type (BUY or SELL).
type TypeStats struct {
	// Trades is the number of trades, Quantity and ValueCents their totals.
	Trades     int64
	Quantity   int64
	ValueCents int64
	// CountByTicker is the number of trades per ticker symbol.
	CountByTicker map[string]int64
	// LargestByQuantity and LargestByValue are the largest single orders.
	LargestByQuantity StockTrade
	LargestByValue    StockTrade
}

// NewStats returns empty statistics.
func NewStats() *Stats {
	s := &Stats{ByType: map[TradeType]*TypeStats{}}
	for _, tt := range []TradeType{Buy, Sell} {
		s.ByType[tt] = &TypeStats{CountByTicker: map[string]int64{}}
	}
	return s
}

// Add counts one trade. Ties for the largest order keep the lowest trade id, so the
// result does not depend on the order trades arrive in from different shards.
func (s *Stats) Add(t StockTrade) {
	ts := s.ByType[t.TradeType]
	if ts == nil {
		return
	}
	ts.Trades++
	ts.Quantity += t.Quantity
	ts.ValueCents += t.ValueCents()
	ts.CountByTicker[t.TickerSymbol]++
	if larger(t, ts.LargestByQuantity, t.Quantity, ts.LargestByQuantity.Quantity) {
		ts.LargestByQuantity = t
	}
	if larger(t, ts.LargestByValue, t.ValueCents(), ts.LargestByValue.ValueCents()) {
		ts.LargestByValue = t
	}
}

func larger(t, cur StockTrade, v, curV int64) bool {
	return cur.ID == 0 || v > curV || (v == curV && t.ID < cur.ID)
}

// MostPopular returns the ticker with the most trades of this type and its count; ties go
// to the alphabetically first symbol.
func (ts *TypeStats) MostPopular() (string, int64) {
	best, n := "", int64(0)
	for sym, c := range ts.CountByTicker {
		if c > n || (c == n && sym < best) {
			best, n = sym, c
		}
	}
	return best, n
}

// Total returns the number of trades of both types.
func (s *Stats) Total() int64 { return s.ByType[Buy].Trades + s.ByType[Sell].Trades }

// Report writes a readable report of the statistics.
func (s *Stats) Report(w io.Writer, title string) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d trades\n", title, s.Total())
	types := []TradeType{Buy, Sell}
	sort.Slice(types, func(i, j int) bool { return types[i] < types[j] })
	for _, tt := range types {
		ts := s.ByType[tt]
		if ts.Trades == 0 {
			fmt.Fprintf(&b, "  %-4s no trades\n", tt)
			continue
		}
		sym, n := ts.MostPopular()
		q, v := ts.LargestByQuantity, ts.LargestByValue
		fmt.Fprintf(&b, "  %-4s %6d trades, %9d shares, $%14s | most popular %-5s (%d trades) | largest order %-5s %d shares (id %d) | largest value %-5s $%s (id %d)\n",
			tt, ts.Trades, ts.Quantity, dollars(ts.ValueCents), sym, n, q.TickerSymbol, q.Quantity, q.ID, v.TickerSymbol, dollars(v.ValueCents()), v.ID)
	}
	io.WriteString(w, b.String())
}

func dollars(cents int64) string { return fmt.Sprintf("%d.%02d", cents/100, cents%100) }
