package stocktrade_test

import (
	"fmt"

	"github.com/kinesis-go/kinesis/examples/stocktrade"
)

// The generator is seeded, so the same seed always gives the same trades, and Stats
// picks the same winners whatever order the trades arrive in.
func Example() {
	gen := stocktrade.NewGenerator(1)
	stats := stocktrade.NewStats()
	for i := 0; i < 1000; i++ {
		stats.Add(gen.Next())
	}
	again := stocktrade.NewGenerator(1)
	fmt.Println("deterministic:", again.Next() == stocktrade.NewGenerator(1).Next())
	fmt.Println("trades:", stats.Total())
	buys := stats.ByType[stocktrade.Buy]
	sym, n := buys.MostPopular()
	fmt.Printf("most popular BUY: %s (%d trades)\n", sym, n)
	fmt.Printf("largest BUY order: %s, %d shares\n", buys.LargestByQuantity.TickerSymbol, buys.LargestByQuantity.Quantity)
	// Output:
	// deterministic: true
	// trades: 1000
	// most popular BUY: NVDA (52 trades)
	// largest BUY order: KO, 8641 shares
}
