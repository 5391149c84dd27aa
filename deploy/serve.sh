#!/usr/bin/env bash
# A trial of the scaled-out deployment on this machine: Streamlit replicas behind nginx (deploy/nginx.conf),
# everything on 127.0.0.1. Ctrl-C stops them all.
#
#   bash deploy/serve.sh        # http://127.0.0.1:8501, replicas on 8601 and 8602
#
# CAM_EXPLORER_PORT (8501): the proxy's port. CAM_EXPLORER_REPLICA_PORTS ("8601 8602"): one replica per port.
# CAM_EXPLORER_SERVE_DIR: where nginx's files and every log go (default: a temporary folder, removed at the end).
# CAM_EXPLORER_SERVE_USER (nobody): started as root, nginx's workers run as this user; the replicas run as whoever
# started serve.sh, since they write the runs folder and the cache as that user (docs/serving.md).
# CAM_EXPLORER_PROXY_DEBUG=1: every response names the replica that answered (X-Replica), for tests only.
# PYTHON (.venv/bin/python, the README's virtual environment): the Python that runs the replicas.
# The replicas share the runs folder ($CAM_EXPLORER_RUNS, default ./runs) and the cache ($CAM_EXPLORER_CACHE):
# on one machine they are simply the same folders; on several, mount them from one network file system.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${CAM_EXPLORER_PORT:-8501}
replica_ports=${CAM_EXPLORER_REPLICA_PORTS:-8601 8602}
python=${PYTHON:-.venv/bin/python}
if ! command -v "$python" >/dev/null; then  # a path, or a name on $PATH
  echo "serve.sh: no Python at $python: create .venv with the README's command, or set PYTHON=/path/to/python." >&2
  exit 1
fi
directives="daemon off;"
if [ "$(id -u)" = 0 ]; then
  serve_user=${CAM_EXPLORER_SERVE_USER:-nobody}
  if ! serve_group=$(id -gn "$serve_user" 2>/dev/null); then
    echo "serve.sh: no user $serve_user here: set CAM_EXPLORER_SERVE_USER to an unprivileged user's name." >&2
    exit 1
  fi
  directives+=" user $serve_user $serve_group;"
fi
state=${CAM_EXPLORER_SERVE_DIR:-$(mktemp -d)}
temp=$(mktemp -d)  # request bodies nginx's workers buffer: outside $state, whose parents they may not enter
mkdir -p "$state"
[ -z "${serve_user:-}" ] || chown "$serve_user:$serve_group" "$temp"
debug_header=""
[ "${CAM_EXPLORER_PROXY_DEBUG:-}" != 1 ] || debug_header='add_header X-Replica $upstream_addr always;'

pids=()
stop() {
  trap - EXIT INT TERM
  kill "${pids[@]}" 2>/dev/null || true
  wait || true
  rm -rf "$temp"
  [ -n "${CAM_EXPLORER_SERVE_DIR:-}" ] || rm -rf "$state"
}
trap stop EXIT INT TERM

upstreams=""
for replica_port in $replica_ports; do
  "$python" -m streamlit run app.py --server.address 127.0.0.1 --server.port "$replica_port" \
    --server.headless true --browser.gatherUsageStats false >"$state/replica-$replica_port.log" 2>&1 &
  pids+=($!)
  upstreams+="server 127.0.0.1:$replica_port; "
done
sed -e "s|@LISTEN@|127.0.0.1:$port|" -e "s|@UPSTREAMS@|$upstreams|" -e "s|@TEMP@|$temp|g" \
  -e "s|@PROXY_DEBUG@|$debug_header|" deploy/nginx.conf >"$state/nginx.conf"
nginx -p "$state" -e "$state/error.log" -c "$state/nginx.conf" -g "$directives" &
pids+=($!)
echo "CAM Explorer on http://127.0.0.1:$port: replicas on $replica_ports behind nginx; logs in $state"
wait -n  # the first of them to end (a replica that failed to start, nginx refusing its config) ends the trial
