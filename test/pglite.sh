#!/usr/bin/env bash
# Starts a real pgvector (PGlite with the pgvector extension, PostgreSQL wire
# protocol) on 127.0.0.1:${PGLITE_PORT:-55433} for tests and benchmarks, and
# waits until it accepts connections. See SERVICES.md, "pgvector".
#
#   test/pglite.sh            start in the background (in-memory database),
#                             print the pid, and exit once it is ready
#   test/pglite.sh --db DIR   persist the database under DIR
#
# The server's log goes to ${PGLITE_LOG:-/tmp/recoflow-pglite.log}; its pid to
# ${PGLITE_PID:-/tmp/recoflow-pglite.pid}. Stop it with
#   kill "$(cat /tmp/recoflow-pglite.pid)"
# Then connect with
#   postgres://postgres@127.0.0.1:55433/postgres?sslmode=disable&default_query_exec_mode=exec
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
port="${PGLITE_PORT:-55433}"
maxconn="${PGLITE_MAX_CONNECTIONS:-8}"
log="${PGLITE_LOG:-/tmp/recoflow-pglite.log}"
pidfile="${PGLITE_PID:-/tmp/recoflow-pglite.pid}"
db=()
if [[ "${1:-}" == "--db" ]]; then
	db=(--db="$2")
fi

accepting() {
	# A TCP connect is not enough: the server listens before PGlite is up.
	# Send an SSLRequest and wait for the one-byte answer ('N').
	node -e '
		const s = require("net").connect(+process.argv[1], "127.0.0.1");
		s.setTimeout(2000, () => process.exit(1));
		s.on("error", () => process.exit(1));
		s.on("connect", () => s.write(Buffer.from([0,0,0,8,4,210,22,47])));
		s.on("data", d => process.exit(d[0] === 78 ? 0 : 1));
	' "$port" 2>/dev/null
}

if accepting; then
	echo "pglite: something already accepts connections on 127.0.0.1:$port" >&2
	exit 0
fi

if [[ ! -x "$here/node_modules/.bin/pglite-server" ]]; then
	(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

nohup "$here/node_modules/.bin/pglite-server" --host=127.0.0.1 --port="$port" \
	--max-connections="$maxconn" --extensions=@electric-sql/pglite-pgvector:vector \
	"${db[@]}" >"$log" 2>&1 &
pid=$!
echo "$pid" >"$pidfile"

for _ in $(seq 1 120); do
	if accepting; then
		echo "$pid"
		exit 0
	fi
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "pglite: server exited; its log ($log):" >&2
		cat "$log" >&2
		exit 1
	fi
	sleep 0.5
done
echo "pglite: not accepting connections on 127.0.0.1:$port after 60 s; log: $log" >&2
exit 1
