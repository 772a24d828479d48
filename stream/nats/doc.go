// Package nats is the NATS JetStream backend of package stream: a Source
// that reads through a durable pull consumer shared by every process of a
// group, and a Producer that publishes with JetStream acknowledgements. It
// talks to a real server (Config.URL) or runs one in-process that stores
// the stream in a local directory (Config.EmbeddedDir).
//
//	src, err := nats.NewSource(ctx, nats.Config{URL: "nats://127.0.0.1:4222"})
//	batch, ack, err := src.ReadBatch(ctx)
//	// … make the outputs of batch durable, then:
//	err = ack(ctx)
//
// # Stream and consumer
//
// Events are published on Config.Subject (default "recoflow.events") with
// the partition key in the Recoflow-Key header. The stream (default
// "RECOFLOW") is created when missing: limits retention with MaxAge
// (default 24 h, like a Kinesis stream), file storage. The durable consumer
// (default "recoflow") is created or updated by every Source that opens:
// explicit acks, AckWait (default 1 min), no delivery limit, and
// MaxAckPending (default 4 × MaxInFlight) bounding the unacked messages of
// the whole group on the server. Any number of processes may open Sources
// with the same consumer name: JetStream hands each message to one of them.
// That is how recoflow stream scales out on NATS.
//
// # Publishing
//
// The Producer gives every record a message id (Nats-Msg-Id) and sends
// again, in order, the records the server has not acknowledged (connection
// lost, server restarted, no ack in time) once it is connected again; the
// server stores a record once within the stream's de-duplication window
// (DefaultDuplicateWindow for a stream created here). It holds up to 4,096
// unacknowledged records, and fails only when one has gone unacknowledged
// for 90 s.
//
// # Reading, acks and redelivery
//
// ReadBatch takes the messages available at once (one pull request without
// waiting); when there are none, it waits for one (a pull of one message,
// renewed every MaxWait) and then takes what arrived with it, so a lone
// event is handed out as soon as it is stored. A waiting pull ends on the
// server's side only: when the ctx of ReadBatch ends first, the pull stays
// live and the next ReadBatch takes what it brings. After a full batch (a
// backlog), a Source on a server given by URL fetches the next batches
// ahead while the caller works (up to four batches in one pull request
// that does not wait, one request on the server at a time so that batches
// keep the stream's order); batches read ahead are held like those handed
// out, and those read before a lost connection are given back. An ack
// sends plain acks for a batch's messages and a double ack (one with a
// reply subject) for the last one, and waits for the server's reply: the
// server applies one connection's acks of a consumer in order, so the
// reply confirms the whole batch in one round trip. When the connection
// was lost and re-established meanwhile (plain acks may have been lost),
// the ack is sent again for each message, each one confirmed. When it
// returns nil, the server has applied the acks; an error means some may
// not be, and those messages come again after AckWait.
//
// While a batch is held, the Source restarts its AckWait (in-progress
// acks) every AckWait/3, so a slow sink never causes a redelivery; only a
// process that dies leaves its messages to be redelivered, to any consumer
// of the group, AckWait after their last extension. Close gives the unacked
// messages back at once (negative acks). The ID of a message is
// "nats:<stream>:<stream sequence>", the same on every delivery.
//
// # The embedded server
//
// With Config.EmbeddedDir, the process that first opens the directory runs
// nats-server in-process, with JetStream storing in <dir>/jetstream,
// listening on a random loopback port; its clients in the same process
// connect in-process. It holds an exclusive lock on <dir>/recoflow-nats.lock
// and writes its client URL to <dir>/server.url. Another process opening the
// same directory meanwhile (say, recoflow produce next to recoflow stream)
// finds the lock held and connects to that URL instead of starting a second
// server. In one process, every Source and Producer of a directory shares
// one server, which shuts down when the last of them closes. Connections
// reach the server through a dialer that runs again on every reconnect: when
// the serving process has gone (exited, or killed: the kernel drops its
// lock), the first other process to reconnect takes the lock and serves the
// same directory, and the rest connect to the URL it writes. The embedded
// server syncs its files to disk every EmbeddedSyncInterval. When the
// server restarts, messages that the previous one had handed out unacked
// are delivered again once AckWait has passed since they were handed out
// (or last extended): the server restores them as pending with that time.
// After a crash of the serving process, acks it had not yet written to its
// files are lost too: those messages come again, with the same IDs.
// Acked messages never come back. The URL form
// that internal/connect gives it is nats-embedded:///abs/dir or
// nats-embedded://relative/dir, and it is recoflow's default stream.
package nats
