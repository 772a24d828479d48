// Package pgvector is the vector store in PostgreSQL with the pgvector
// extension, opened from a postgres:// URL by internal/connect.
//
// It keeps the lab's tables, so SQL written for the lab keeps working:
//
//	SELECT id, embedding <=> $1 AS distance FROM item_emb ORDER BY embedding <=> $1 LIMIT 10;
//
// item_emb(id varchar PRIMARY KEY, embedding vector(32)) and
// user_emb(id int PRIMARY KEY, embedding vector(32)), each with an HNSW
// index for cosine distance, plus recoflow_vector_version, one row naming
// the live model version and its id types. Those are the tables of the
// lab's id types; a version loaded with string user ids (a dataset spec's,
// vector.WithIDTypes) gets user_emb(id text PRIMARY KEY, …), and integer
// item ids are kept in item_emb's varchar in canonical decimal form. Load builds a version in staging tables beside
// the live ones and swaps them in with one transaction (see Store).
//
// Bulk loads use binary COPY on PostgreSQL, and batched
// INSERT … SELECT FROM unnest($1, $2) where COPY is unavailable — PGlite, the
// WebAssembly PostgreSQL the tests run pgvector in, which COPY
// desynchronises; Options.LoadMethod overrides the automatic choice. Every
// statement is parameterised; the identifiers in SQL text come from code
// and a validated schema name only.
//
// The store works in pgx's default query mode and with
// default_query_exec_mode=exec (or simple_protocol) in the URL, as a
// connection pooler or PGlite requires: it keeps no session state other
// than hnsw.ef_search, which is set identically on every connection.
package pgvector
