package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/recoflow/recoflow/stream"
	"github.com/recoflow/recoflow/stream/internal/commit"
	"github.com/recoflow/recoflow/stream/internal/inflight"
)

// commitTimeout bounds a commit whose context has no deadline.
const commitTimeout = 30 * time.Second

// Source reads a topic as a member of a consumer group and commits, per
// partition, only offsets whose records (and every record before them) are
// acked. It implements stream.Source.
type Source struct {
	cfg     Config
	cl      *kgo.Client
	limiter *inflight.Limiter

	commitMu sync.Mutex // serializes computing and sending commits, so offsets only move forward
	mu       sync.Mutex
	parts    map[int32]*partition // partitions read since they were (last) assigned
	closed   bool
}

// partition tracks the records of one assigned partition handed out and not
// yet committed.
type partition struct {
	id   int32
	q    commit.Queue[kgo.EpochOffset]
	gone bool // revoked, lost or closed: its acks no longer commit
}

// NewSource joins the group. The topic must exist. A group without
// committed offsets starts at the beginning of the topic.
func NewSource(ctx context.Context, cfg Config) (*Source, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Source{cfg: cfg, limiter: inflight.New(cfg.Source.MaxInFlight), parts: map[int32]*partition{}}
	s.cl, err = kgo.NewClient(
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID(cfg.ClientID),
		kgo.WithLogger(logger{cfg.Source.Logger}),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.FetchMaxBytes(cfg.FetchMaxBytes),
		kgo.OnPartitionsRevoked(s.revoked),
		kgo.OnPartitionsLost(s.lost),
	)
	if err != nil {
		return nil, fmt.Errorf("kafka client for %s: %w", cfg.where(), err)
	}
	if err := checkTopic(ctx, s.cl, cfg); err != nil {
		s.cl.Close()
		return nil, err
	}
	cfg.Source.Logger.Info("kafka source open", "source", s.String())
	return s, nil
}

// String describes the source.
func (s *Source) String() string { return s.cfg.where() + " group " + s.cfg.Group }

// ReadBatch implements stream.Source.
func (s *Source) ReadBatch(ctx context.Context) (stream.Batch, stream.AckFunc, error) {
	if s.isClosed() {
		return nil, nil, stream.ErrClosed
	}
	n, err := s.limiter.Acquire(ctx, s.cfg.Source.MaxBatch)
	if err != nil {
		return nil, nil, err
	}
	var recs []*kgo.Record
	for len(recs) == 0 {
		fetches := s.cl.PollRecords(ctx, n)
		if fetches.IsClientClosed() {
			s.limiter.Release(n)
			return nil, nil, stream.ErrClosed
		}
		recs = fetches.Records()
		if len(recs) > 0 {
			fetches.EachError(func(t string, p int32, err error) {
				s.cfg.Source.Logger.Warn("kafka fetch", "topic", t, "partition", p, "err", err)
			})
			break
		}
		if err := ctx.Err(); err != nil {
			s.limiter.Release(n)
			return nil, nil, err
		}
		if err := fetches.Err0(); err != nil {
			s.limiter.Release(n)
			return nil, nil, fmt.Errorf("read %s: %w", s, err)
		}
	}
	s.limiter.Release(n - len(recs))

	batch := make(stream.Batch, len(recs))
	type mark struct {
		p      *partition
		ticket uint64
	}
	marks := make([]mark, len(recs))
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.limiter.Release(len(recs))
		return nil, nil, stream.ErrClosed
	}
	for i, r := range recs {
		p := s.parts[r.Partition]
		if p == nil {
			p = &partition{id: r.Partition}
			s.parts[r.Partition] = p
		}
		marks[i] = mark{p, p.q.Push(kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1})}
		off := strconv.FormatInt(r.Offset, 10)
		part := strconv.FormatInt(int64(r.Partition), 10)
		batch[i] = stream.Message{
			Data:      r.Value,
			Key:       string(r.Key),
			ID:        "kafka:" + r.Topic + ":" + part + ":" + off,
			Partition: r.Topic + "/" + part,
			Position:  off,
			Time:      r.Timestamp,
		}
	}
	s.mu.Unlock()

	ack := commit.AckOnce(commitTimeout, func() { s.limiter.Release(len(marks)) }, func(ctx context.Context) error {
		s.commitMu.Lock()
		defer s.commitMu.Unlock()
		to := map[int32]kgo.EpochOffset{}
		gone := false
		s.mu.Lock()
		for _, m := range marks {
			if m.p.gone {
				gone = true
				continue
			}
			if pos, ok := m.p.q.Ack(m.ticket); ok {
				to[m.p.id] = pos
			}
		}
		closed := s.closed
		s.mu.Unlock()
		if err := s.commit(ctx, to); err != nil {
			return err
		}
		if gone {
			return fmt.Errorf("ack on %s: partition no longer assigned to this member: %w", s, errClosedOrMoved(closed))
		}
		return nil
	})
	return batch, ack, nil
}

func errClosedOrMoved(closed bool) error {
	if closed {
		return stream.ErrClosed
	}
	return errMoved
}

var errMoved = errors.New("partition moved to another group member; its records will be delivered again there")

// commit sends offsets synchronously. Callers hold commitMu.
func (s *Source) commit(ctx context.Context, to map[int32]kgo.EpochOffset) error {
	if len(to) == 0 {
		return nil
	}
	var err error
	s.cl.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{s.cfg.Topic: to},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, e error) {
			if e != nil {
				err = e
				return
			}
			for _, t := range resp.Topics {
				for _, p := range t.Partitions {
					if e := kerr.ErrorForCode(p.ErrorCode); e != nil && err == nil {
						err = fmt.Errorf("partition %d: %w", p.Partition, e)
					}
				}
			}
		})
	if err != nil {
		return fmt.Errorf("commit offsets on %s: %w", s, err)
	}
	return nil
}

// revoked forgets the partitions leaving this member: their unacked
// records go to the new owner, from the committed offset. Nothing is left to
// commit: every ack commits the offsets it makes committable before it
// returns.
func (s *Source) revoked(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	s.drop(lost[s.cfg.Topic], "revoked")
}

// lost forgets partitions that a group error took away.
func (s *Source) lost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	s.drop(lost[s.cfg.Topic], "lost")
}

func (s *Source) drop(ids []int32, why string) {
	if len(ids) == 0 {
		return
	}
	s.mu.Lock()
	for _, id := range ids {
		if p := s.parts[id]; p != nil {
			p.gone = true
			delete(s.parts, id)
		}
	}
	s.mu.Unlock()
	s.cfg.Source.Logger.Info("kafka partitions "+why, "source", s.String(), "partitions", ids)
}

func (s *Source) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close implements stream.Source: it leaves the group (its partitions go to
// the other members, from the committed offsets) and closes the client.
func (s *Source) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for id, p := range s.parts {
		p.gone = true
		delete(s.parts, id)
	}
	s.mu.Unlock()
	err := s.cl.LeaveGroupContext(ctx)
	s.cl.Close()
	s.cfg.Source.Logger.Info("kafka source closed", "source", s.String())
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("close %s: leave group: %w", s, err)
	}
	return nil
}
