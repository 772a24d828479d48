package nats

import (
	"context"
	"strconv"
	"strings"
)

// Acknowledged reports, for each message ID (as Message.ID makes them,
// "nats:<stream>:<sequence>"), whether the consumer group has acknowledged
// it for good: its sequence is at or below the durable consumer's
// acknowledgement floor, below which every message is acknowledged and
// JetStream delivers nothing again. An ID above the floor, of another
// stream, or malformed, is reported false. The lake sink asks it about
// ledger entries left by stopped runs (sink.Options.Acknowledged). It
// blocks on one consumer-info request, which ctx bounds; repeating it is
// safe.
func (s *Source) Acknowledged(ctx context.Context, ids []string) ([]bool, error) {
	info, err := s.cons.Info(ctx)
	if err != nil {
		return nil, s.wrap(err)
	}
	floor := info.AckFloor.Stream
	prefix := "nats:" + s.cfg.Stream + ":"
	out := make([]bool, len(ids))
	for i, id := range ids {
		rest, ok := strings.CutPrefix(id, prefix)
		if !ok {
			continue
		}
		seq, err := strconv.ParseUint(rest, 10, 64)
		out[i] = err == nil && seq <= floor
	}
	return out, nil
}
