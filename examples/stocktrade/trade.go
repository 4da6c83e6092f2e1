package stocktrade

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
)

// TradeType says whether a trade buys or sells.
type TradeType string

// The two trade types.
const (
	Buy  TradeType = "BUY"
	Sell TradeType = "SELL"
)

// StockTrade is one trade as written to the stream, JSON-encoded with the field names of
// the AWS StockTradeStream tutorial.
type StockTrade struct {
	TickerSymbol string    `json:"tickerSymbol"`
	TradeType    TradeType `json:"tradeType"`
	Price        float64   `json:"price"`
	Quantity     int64     `json:"quantity"`
	ID           int64     `json:"id"`
}

// ValueCents is the trade's price times its quantity in cents, exact (prices have two
// decimals), so totals do not depend on the order trades are added in.
func (t StockTrade) ValueCents() int64 { return int64(math.Round(t.Price*100)) * t.Quantity }

// Encode returns the JSON bytes written to the stream.
func (t StockTrade) Encode() ([]byte, error) { return json.Marshal(t) }

// Decode parses a trade written by Encode and checks its fields.
func Decode(data []byte) (StockTrade, error) {
	var t StockTrade
	if err := json.Unmarshal(data, &t); err != nil {
		return t, fmt.Errorf("stocktrade: decoding trade: %w", err)
	}
	if t.TickerSymbol == "" || (t.TradeType != Buy && t.TradeType != Sell) || t.Quantity <= 0 || t.Price <= 0 {
		return t, fmt.Errorf("stocktrade: invalid trade %+v", t)
	}
	return t, nil
}

// ticker is a stock the generator trades: its reference price and how popular it is.
type ticker struct {
	symbol string
	price  float64
	weight float64 // relative share of trades
}

// tickers is a realistic mix: a few very popular large caps and a long tail.
var tickers = []ticker{
	{"AAPL", 190.0, 12}, {"AMZN", 180.0, 11}, {"MSFT", 420.0, 10}, {"NVDA", 120.0, 12},
	{"GOOGL", 170.0, 8}, {"META", 500.0, 7}, {"TSLA", 240.0, 9}, {"NFLX", 650.0, 4},
	{"INTC", 30.0, 5}, {"AMD", 160.0, 6}, {"ORCL", 140.0, 3}, {"CSCO", 50.0, 3},
	{"IBM", 190.0, 2}, {"JPM", 200.0, 4}, {"BAC", 40.0, 3}, {"WFC", 60.0, 2},
	{"XOM", 115.0, 3}, {"CVX", 155.0, 2}, {"KO", 62.0, 2}, {"PEP", 170.0, 2},
	{"DIS", 100.0, 3}, {"NKE", 95.0, 2}, {"WMT", 68.0, 3}, {"COST", 880.0, 2},
	{"V", 280.0, 2}, {"MA", 460.0, 2}, {"PFE", 28.0, 2}, {"MRK", 125.0, 1},
	{"BA", 180.0, 2}, {"GE", 165.0, 1}, {"UBER", 70.0, 2}, {"SHOP", 75.0, 1},
}

// Generator makes random but plausible trades: tickers drawn by popularity, prices that
// drift around each ticker's reference price, mostly small orders with a few large ones.
// The same seed gives the same trades.
type Generator struct {
	rng    *rand.Rand
	cum    []float64 // cumulative weights for drawing tickers
	prices []float64 // current price per ticker
	nextID int64
}

// NewGenerator returns a generator seeded with seed.
func NewGenerator(seed uint64) *Generator {
	g := &Generator{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), nextID: 1}
	total := 0.0
	for _, tk := range tickers {
		total += tk.weight
		g.cum = append(g.cum, total)
		g.prices = append(g.prices, tk.price)
	}
	return g
}

// Next returns the next trade.
func (g *Generator) Next() StockTrade {
	x := g.rng.Float64() * g.cum[len(g.cum)-1]
	i := 0
	for g.cum[i] < x {
		i++
	}
	tk := tickers[i]
	// A random walk pulled back towards the reference price keeps prices realistic.
	p := g.prices[i]
	p += p*0.002*g.rng.NormFloat64() + (tk.price-p)*0.01
	p = math.Max(p, tk.price*0.5)
	g.prices[i] = p

	tt := Buy
	if g.rng.IntN(2) == 1 {
		tt = Sell
	}
	qty := int64(1 + g.rng.IntN(100))
	if g.rng.IntN(50) == 0 { // occasional block trade
		qty = int64(1000 + g.rng.IntN(9000))
	}
	t := StockTrade{
		TickerSymbol: tk.symbol,
		TradeType:    tt,
		Price:        math.Round(p*100) / 100,
		Quantity:     qty,
		ID:           g.nextID,
	}
	g.nextID++
	return t
}
