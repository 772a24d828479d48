package kafka

import (
	"context"
	"strconv"
	"strings"
)

// Acknowledged reports, for each message ID (as Message.ID makes them,
// "kafka:<topic>:<partition>:<offset>"), whether the consumer group has
// acknowledged it for good: its offset is below the group's committed
// offset for its partition, which the group reads from and never before.
// The committed offsets are the client's own view (fetched when it was
// assigned the partition, then its own commits), so a partition this
// member has not been assigned, an ID of another topic or a malformed one
// is reported false: never acknowledged by mistake, only not yet known.
// The lake sink asks it about ledger entries left by stopped runs
// (sink.Options.Acknowledged), so that it retires them before its
// horizon. It does not block.
func (s *Source) Acknowledged(_ context.Context, ids []string) ([]bool, error) {
	committed := s.cl.CommittedOffsets()[s.cfg.Topic]
	prefix := "kafka:" + s.cfg.Topic + ":"
	out := make([]bool, len(ids))
	for i, id := range ids {
		rest, ok := strings.CutPrefix(id, prefix)
		if !ok {
			continue
		}
		ps, offs, ok := strings.Cut(rest, ":")
		if !ok {
			continue
		}
		part, err1 := strconv.ParseInt(ps, 10, 32)
		off, err2 := strconv.ParseInt(offs, 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		c, ok := committed[int32(part)]
		out[i] = ok && off >= 0 && off < c.Offset
	}
	return out, nil
}
