package lambda_test

import (
	"bytes"
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/recoflow/recoflow/lambda"
)

func ExampleHandler() {
	upper := func(_ context.Context, data []byte) ([]byte, error) {
		if len(data) == 0 {
			return nil, lambda.ErrDrop
		}
		return bytes.ToUpper(data), nil
	}
	h := lambda.Handler(upper) // in main: awslambda.Start(h)
	resp, _ := h(context.Background(), events.KinesisFirehoseEvent{Records: []events.KinesisFirehoseEventRecord{
		{RecordID: "1", Data: []byte(`{"a":"b"}`)},
		{RecordID: "2", Data: nil},
	}})
	for _, r := range resp.Records {
		fmt.Printf("%s %s %q\n", r.RecordID, r.Result, r.Data)
	}
	// Output:
	// 1 Ok "{\"A\":\"B\"}\n"
	// 2 Dropped ""
}
