package batch_test

import (
	"fmt"
	"time"

	"github.com/recoflow/recoflow/batch"
)

func Example() {
	clock := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	b := batch.New(batch.Policy{Count: 3, Period: time.Second}, func() time.Time { return clock })
	fmt.Println(b.Add(1, 100), b.Add(1, 100)) // two of three records
	clock = clock.Add(time.Second)            // the period ends first
	fmt.Println(b.Full(), b.Due())
	b.Reset()
	// Output:
	// false false
	// false true
}
