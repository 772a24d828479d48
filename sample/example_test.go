package sample_test

import (
	"fmt"
	"log"

	"github.com/recoflow/recoflow/sample"
)

func ExampleProducts() {
	products, err := sample.Products()
	if err != nil {
		log.Fatal(err)
	}
	p := products[0]
	fmt.Printf("%s %q %s %s %.2f\n", p.Code, p.Name, p.Line, p.Scale, p.MSRP)
	// Output: S10_1678 "1969 Harley Davidson Ultimate Chopper" Motorcycles 1:10 95.70
}

func ExampleParseDump() {
	tables, err := sample.ParseDump([]byte("insert  into `ratings`(`customerNumber`,`productCode`,`productRating`) values \r\n(103,'S10_2016',3),\r\n(112,'S18_1589',NULL);"))
	if err != nil {
		log.Fatal(err)
	}
	t := tables[0]
	fmt.Println(t.Name, t.Columns, t.Rows)
	// Output: ratings [customerNumber productCode productRating] [[103 S10_2016 3] [112 S18_1589 <nil>]]
}
