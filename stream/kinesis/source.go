package kinesis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/recoflow/recoflow/stream"
	"github.com/recoflow/recoflow/stream/internal/commit"
	"github.com/recoflow/recoflow/stream/internal/inflight"
)

// checkpointTimeout bounds a checkpoint write whose context has no
// deadline.
const checkpointTimeout = 30 * time.Second

// Source reads every shard assigned to this worker, one reader goroutine
// per shard, and checkpoints each shard up to its longest acked prefix. It
// implements stream.Source.
type Source struct {
	cfg     Config
	kc      readAPI
	limiter *inflight.Limiter
	recs    chan fetched // records read, not yet handed out

	ctx    context.Context // the readers' lifetime
	cancel context.CancelFunc
	wg     sync.WaitGroup
	wake   chan struct{} // asks the shard lister to look again (a shard ended)

	ckMu    sync.Mutex // serializes computing and writing checkpoints
	mu      sync.Mutex
	shards  map[string]*shard // shards this worker reads or has finished
	closed  bool
	closing chan struct{}
	fatal   error
	failed  chan struct{} // closed when fatal is set
}

// readAPI is the part of the Kinesis API a Source uses.
type readAPI interface {
	ListShards(context.Context, *kinesis.ListShardsInput, ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
	GetShardIterator(context.Context, *kinesis.GetShardIteratorInput, ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error)
	GetRecords(context.Context, *kinesis.GetRecordsInput, ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error)
}

type fetched struct {
	sh  *shard
	rec types.Record
}

// shard is one shard this worker has taken on.
type shard struct {
	id     string
	q      commit.Queue[string] // sequence numbers handed out, not yet checkpointed
	queued int                  // records read into recs, not yet handed out
	ended  bool                 // the reader reached the end of a closed shard
	done   bool                 // ShardEnd is checkpointed (or was found)
	gone   bool                 // the source closed: acks no longer checkpoint
}

// NewSource lists the shards, starts a reader for each of this worker's
// shards whose parents are finished, and keeps following resharding.
func NewSource(ctx context.Context, cfg Config) (*Source, error) {
	cfg, err := cfg.withDefaults(true)
	if err != nil {
		return nil, err
	}
	kc, err := client(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := ensureStream(ctx, kc, cfg); err != nil {
		return nil, err
	}
	return newSource(ctx, cfg, kc)
}

func newSource(ctx context.Context, cfg Config, kc readAPI) (*Source, error) {
	s := &Source{
		cfg:     cfg,
		kc:      kc,
		limiter: inflight.New(cfg.Source.MaxInFlight),
		recs:    make(chan fetched, cfg.Source.MaxBatch),
		wake:    make(chan struct{}, 1),
		shards:  map[string]*shard{},
		closing: make(chan struct{}),
		failed:  make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if err := s.discover(ctx); err != nil {
		s.cancel()
		s.wg.Wait()
		return nil, err
	}
	s.wg.Go(s.follow)
	cfg.Source.Logger.Info("kinesis source open", "source", s.String())
	return s, nil
}

// String describes the source.
func (s *Source) String() string {
	str := fmt.Sprintf("%s group %s checkpoints %s", s.cfg.where(), s.cfg.Group, s.cfg.Checkpoints)
	if s.cfg.Workers > 1 {
		str += fmt.Sprintf(" worker %d of %d", s.cfg.Worker, s.cfg.Workers)
	}
	return str
}

// listShards returns every shard of the stream, sorted by id.
func (s *Source) listShards(ctx context.Context) ([]types.Shard, error) {
	var all []types.Shard
	in := &kinesis.ListShardsInput{StreamName: aws.String(s.cfg.Stream)}
	for {
		out, err := s.kc.ListShards(ctx, in)
		if err != nil {
			return nil, s.translate("list shards of", err)
		}
		all = append(all, out.Shards...)
		if out.NextToken == nil {
			break
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
	slices.SortFunc(all, func(a, b types.Shard) int {
		return cmpString(aws.ToString(a.ShardId), aws.ToString(b.ShardId))
	})
	return all, nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *Source) translate(what string, err error) error {
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return fmt.Errorf("%s %s: %w: %w", what, s.cfg.where(), stream.ErrNotFound, err)
	}
	return fmt.Errorf("%s %s: %w", what, s.cfg.where(), err)
}

// discover starts readers for this worker's shards that are ready: not
// finished, and with every parent still listed finished.
func (s *Source) discover(ctx context.Context) error {
	all, err := s.listShards(ctx)
	if err != nil {
		return err
	}
	listed := map[string]bool{}
	for _, sh := range all {
		listed[aws.ToString(sh.ShardId)] = true
	}
	for i, sh := range all {
		id := aws.ToString(sh.ShardId)
		if i%s.cfg.Workers != s.cfg.Worker {
			continue
		}
		s.mu.Lock()
		_, known := s.shards[id]
		s.mu.Unlock()
		if known {
			continue
		}
		ready := true
		for _, parent := range []string{aws.ToString(sh.ParentShardId), aws.ToString(sh.AdjacentParentShardId)} {
			if parent == "" || !listed[parent] {
				continue // no parent, or one past retention
			}
			ck, err := s.cfg.Checkpoints.Get(ctx, s.cfg.Stream, s.cfg.Group, parent)
			if err != nil {
				return err
			}
			if ck != ShardEnd {
				ready = false // read the parent to its end first (here or by its worker)
			}
		}
		if !ready {
			continue
		}
		ck, err := s.cfg.Checkpoints.Get(ctx, s.cfg.Stream, s.cfg.Group, id)
		if err != nil {
			return err
		}
		st := &shard{id: id, done: ck == ShardEnd}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return stream.ErrClosed
		}
		s.shards[id] = st
		s.mu.Unlock()
		if !st.done {
			s.cfg.Source.Logger.Info("kinesis shard reader start", "source", s.String(), "shard", id, "after", ck)
			s.wg.Go(func() { s.readShard(st, ck) })
		}
	}
	return nil
}

// follow lists the shards again every ListInterval, and whenever a shard
// ends, to start the children of resharded shards.
func (s *Source) follow() {
	t := time.NewTicker(s.cfg.ListInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
		if err := s.discover(s.ctx); err != nil && s.ctx.Err() == nil {
			if errors.Is(err, stream.ErrNotFound) {
				s.fail(err)
				return
			}
			s.cfg.Source.Logger.Warn("kinesis list shards", "source", s.String(), "err", err)
		}
	}
}

func (s *Source) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fatal == nil {
		s.fatal = err
		close(s.failed)
	}
}

// readShard reads one shard from after checkpoint ck ("" for its start)
// until its end (resharding) or until the source closes, handing records
// to ReadBatch through s.recs.
func (s *Source) readShard(sh *shard, ck string) {
	log := s.cfg.Source.Logger.With("source", s.String(), "shard", sh.id)
	last := ck
	iter := ""
	backoff := 200 * time.Millisecond
	retry := func(what string, err error) bool {
		if s.ctx.Err() != nil {
			return false
		}
		var tput *types.ProvisionedThroughputExceededException
		var limit *types.LimitExceededException
		if !errors.As(err, &tput) && !errors.As(err, &limit) {
			log.Warn("kinesis "+what, "err", err, "retry_in", backoff)
		}
		if !s.sleep(backoff) {
			return false
		}
		backoff = min(2*backoff, 10*time.Second)
		return true
	}
	for {
		if iter == "" {
			in := &kinesis.GetShardIteratorInput{StreamName: aws.String(s.cfg.Stream), ShardId: aws.String(sh.id),
				ShardIteratorType: types.ShardIteratorTypeTrimHorizon}
			if last != "" {
				in.ShardIteratorType = types.ShardIteratorTypeAfterSequenceNumber
				in.StartingSequenceNumber = aws.String(last)
			}
			out, err := s.kc.GetShardIterator(s.ctx, in)
			if err != nil {
				var nf *types.ResourceNotFoundException
				if errors.As(err, &nf) {
					s.fail(s.translate("read shard "+sh.id+" of", err))
					return
				}
				if retry("get shard iterator", err) {
					continue
				}
				return
			}
			iter = aws.ToString(out.ShardIterator)
		}
		out, err := s.kc.GetRecords(s.ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(iter), Limit: aws.Int32(s.cfg.RecordsLimit)})
		if err != nil {
			var expired *types.ExpiredIteratorException
			var nf *types.ResourceNotFoundException
			switch {
			case errors.As(err, &expired): // held back longer than an iterator lives: start again after the last record
				iter = ""
				continue
			case errors.As(err, &nf):
				s.fail(s.translate("read shard "+sh.id+" of", err))
				return
			}
			if retry("get records", err) {
				iter = ""
				continue
			}
			return
		}
		backoff = 200 * time.Millisecond
		for _, r := range out.Records {
			s.mu.Lock()
			sh.queued++
			s.mu.Unlock()
			select {
			case s.recs <- fetched{sh, r}:
			case <-s.ctx.Done():
				return
			}
			last = aws.ToString(r.SequenceNumber)
		}
		if out.NextShardIterator == nil { // a closed shard, read to its end
			s.mu.Lock()
			sh.ended = true
			s.mu.Unlock()
			log.Info("kinesis shard ended")
			if err := s.finishIfDone(s.ctx, sh); err != nil {
				log.Warn("kinesis shard end checkpoint", "err", err)
			}
			return
		}
		iter = aws.ToString(out.NextShardIterator)
		pause := s.cfg.PollInterval
		if len(out.Records) > 0 && aws.ToInt64(out.MillisBehindLatest) > 0 {
			pause = 200 * time.Millisecond // behind: as fast as five calls a second allow
		}
		if !s.sleep(pause) {
			return
		}
	}
}

func (s *Source) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// finishIfDone checkpoints ShardEnd for a shard read to its end whose every
// record is acked, and asks for its children to be started.
func (s *Source) finishIfDone(ctx context.Context, sh *shard) error {
	s.ckMu.Lock()
	defer s.ckMu.Unlock()
	s.mu.Lock()
	ready := sh.ended && !sh.done && !sh.gone && sh.queued == 0 && sh.q.Len() == 0
	s.mu.Unlock()
	if !ready {
		return nil
	}
	if err := s.cfg.Checkpoints.Set(ctx, s.cfg.Stream, s.cfg.Group, sh.id, ShardEnd); err != nil {
		return err
	}
	s.mu.Lock()
	sh.done = true
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// ReadBatch implements stream.Source.
func (s *Source) ReadBatch(ctx context.Context) (stream.Batch, stream.AckFunc, error) {
	s.mu.Lock()
	closed, fatal := s.closed, s.fatal
	s.mu.Unlock()
	if closed {
		return nil, nil, stream.ErrClosed
	}
	if fatal != nil {
		return nil, nil, fatal
	}
	n, err := s.limiter.Acquire(ctx, s.cfg.Source.MaxBatch)
	if err != nil {
		return nil, nil, err
	}
	var got []fetched
	select {
	case f := <-s.recs:
		got = append(got, f)
	case <-ctx.Done():
		s.limiter.Release(n)
		return nil, nil, ctx.Err()
	case <-s.closing:
		s.limiter.Release(n)
		return nil, nil, stream.ErrClosed
	case <-s.failed:
		s.limiter.Release(n)
		return nil, nil, s.fatal
	}
more:
	for len(got) < n {
		select {
		case f := <-s.recs:
			got = append(got, f)
		default:
			break more
		}
	}
	s.limiter.Release(n - len(got))

	type mark struct {
		sh     *shard
		ticket uint64
	}
	marks := make([]mark, len(got))
	batch := make(stream.Batch, len(got))
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.limiter.Release(len(got))
		return nil, nil, stream.ErrClosed
	}
	for i, f := range got {
		seq := aws.ToString(f.rec.SequenceNumber)
		f.sh.queued--
		marks[i] = mark{f.sh, f.sh.q.Push(seq)}
		batch[i] = stream.Message{
			Data:      f.rec.Data,
			Key:       aws.ToString(f.rec.PartitionKey),
			ID:        "kinesis:" + s.cfg.Stream + ":" + f.sh.id + ":" + seq,
			Partition: f.sh.id,
			Position:  seq,
			Time:      aws.ToTime(f.rec.ApproximateArrivalTimestamp),
		}
	}
	s.mu.Unlock()

	ack := commit.AckOnce(checkpointTimeout, func() { s.limiter.Release(len(marks)) }, func(ctx context.Context) error {
		var ackErr error
		s.ckMu.Lock()
		to := map[*shard]string{}
		gone := false
		s.mu.Lock()
		for _, m := range marks {
			if m.sh.gone {
				gone = true
				continue
			}
			if seq, ok := m.sh.q.Ack(m.ticket); ok {
				to[m.sh] = seq
			}
		}
		s.mu.Unlock()
		for sh, seq := range to {
			if err := s.cfg.Checkpoints.Set(ctx, s.cfg.Stream, s.cfg.Group, sh.id, seq); err != nil && ackErr == nil {
				ackErr = fmt.Errorf("ack on %s: %w", s, err)
			}
		}
		s.ckMu.Unlock()
		if gone && ackErr == nil {
			ackErr = fmt.Errorf("ack on %s: %w", s, stream.ErrClosed)
		}
		for sh := range to {
			if err := s.finishIfDone(ctx, sh); err != nil && ackErr == nil {
				ackErr = fmt.Errorf("ack on %s: %w", s, err)
			}
		}
		return ackErr
	})
	return batch, ack, nil
}

// Close implements stream.Source: the shard readers stop; records handed
// out and not acked are read again, from the checkpoints, by the next
// Source of the group.
func (s *Source) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for _, sh := range s.shards {
		sh.gone = true
	}
	close(s.closing)
	s.mu.Unlock()
	s.cancel()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("close %s: %w", s, ctx.Err())
	}
	s.cfg.Source.Logger.Info("kinesis source closed", "source", s.String())
	return nil
}
