#!/usr/bin/env bash
# Starts and stops the Redis topologies the tests run on besides one
# server, on loopback and free ports, every file under one directory:
#
#   sentinel  one master, one replica, three redis-sentinel processes
#             watching them as master "foyer"
#   cluster   three masters, each with one replica
#
#   bash .ci/redis-topologies.sh start DIR [sentinel|cluster|all]
#   bash .ci/redis-topologies.sh stop DIR
#
# start waits until every deployment is ready (replicas in sync, sentinels
# agreeing on a quorum, every cluster node seeing all slots served), then
# prints the URLs the tests read, as shell exports (also kept in DIR/env):
#
#   export FOYER_TEST_REDIS_SENTINEL_URL='redis+sentinel://...?master_name=foyer&addr=...'
#   export FOYER_TEST_REDIS_CLUSTER_URL='redis+cluster://...?addr=...'
#
# stop ends every process start left a pid file for in DIR. By hand:
#
#   eval "$(bash .ci/redis-topologies.sh start /tmp/foyer-topologies)"
#   go test ./storage/redisstore -run 'TestRedis(Sentinel|Cluster)'
#   bash .ci/redis-topologies.sh stop /tmp/foyer-topologies
#
# Needs redis-server, redis-sentinel and redis-cli (7.0 or later) and
# python3 (for free ports). A failed start stops what it started.
set -euo pipefail

usage() { echo "usage: $0 start DIR [sentinel|cluster|all] | stop DIR" >&2; exit 2; }
(($# >= 2)) || usage
cmd=$1 dir=$2 which=${3:-all}

# stop_all ends the processes of DIR's pid files: TERM, then KILL after 5 s.
# A pid is only signalled while it is still a redis process.
stop_all() {
  local f pid pids=()
  for f in "$dir"/*.pid; do
    [[ -f $f ]] || continue
    pid=$(cat "$f" 2>/dev/null) || continue
    if [[ $pid =~ ^[0-9]+$ ]] && grep -q redis "/proc/$pid/cmdline" 2>/dev/null; then
      kill "$pid" 2>/dev/null && pids+=("$pid")
    fi
    rm -f "$f"
  done
  for _ in $(seq 50); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || return 0
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
}

# wait_for DESCRIPTION COMMAND...: retries COMMAND for up to 60 s.
wait_for() {
  local what=$1; shift
  for _ in $(seq 600); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "redis-topologies: timed out waiting for $what" >&2
  return 1
}

# free_ports N prints N distinct free loopback ports.
free_ports() {
  python3 -c '
import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))
for s in ss: s.close()' "$1"
}

# server NAME PORT ARGS...: a daemonized redis-server with its files in
# DIR/NAME and DIR/NAME.{pid,log}. Replicas sync at once (the diskless
# sync's default 5 s delay would only slow the start).
server() {
  local name=$1 port=$2; shift 2
  mkdir -p "$dir/$name"
  redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --repl-diskless-sync-delay 0 \
    --dir "$dir/$name" --daemonize yes --pidfile "$dir/$name.pid" --logfile "$dir/$name.log" "$@"
}

replica_in_sync() { redis-cli -p "$1" info replication | grep -q '^master_link_status:up'; }

start_sentinel() {
  local ports m r s1 s2 s3 i p
  read -r m r s1 s2 s3 <<<"$(free_ports 5)"
  server sentinel-master "$m"
  server sentinel-replica "$r" --replicaof 127.0.0.1 "$m"
  wait_for "the Sentinel replica to sync" replica_in_sync "$r"
  i=0
  for p in "$s1" "$s2" "$s3"; do
    i=$((i + 1))
    mkdir -p "$dir/sentinel-$i"
    # Sentinel rewrites its configuration file: each has its own.
    cat >"$dir/sentinel-$i/sentinel.conf" <<EOF
bind 127.0.0.1
port $p
daemonize yes
pidfile $dir/sentinel-$i.pid
logfile $dir/sentinel-$i.log
dir $dir/sentinel-$i
sentinel monitor foyer 127.0.0.1 $m 2
sentinel down-after-milliseconds foyer 5000
sentinel failover-timeout foyer 20000
sentinel parallel-syncs foyer 1
EOF
    redis-sentinel "$dir/sentinel-$i/sentinel.conf"
  done
  # Ready when every sentinel sees the replica and a usable quorum (the
  # sentinels find each other through the master within a few seconds).
  sentinel_ready() {
    local p
    for p in "$s1" "$s2" "$s3"; do
      redis-cli -p "$p" sentinel ckquorum foyer | grep -q '^OK 3 usable' || return 1
      [[ $(redis-cli -p "$p" sentinel replicas foyer | grep -c '^ip$') == 1 ]] || return 1
    done
  }
  wait_for "the sentinels" sentinel_ready
  echo "export FOYER_TEST_REDIS_SENTINEL_URL='redis+sentinel://127.0.0.1:$s1/0?master_name=foyer&addr=127.0.0.1:$s2&addr=127.0.0.1:$s3'" >>"$dir/env"
}

start_cluster() {
  local ports bus addrs=() i url
  read -r -a ports <<<"$(free_ports 12)"
  for i in 0 1 2 3 4 5; do
    # cluster-port: the bus port is free too (the default, port+10000, may
    # not be).
    server "cluster-$((i + 1))" "${ports[$i]}" --cluster-enabled yes --cluster-config-file nodes.conf \
      --cluster-node-timeout 5000 --cluster-port "${ports[$((i + 6))]}"
    addrs+=("127.0.0.1:${ports[$i]}")
  done
  for i in 0 1 2 3 4 5; do wait_for "cluster node ${addrs[$i]}" redis-cli -p "${ports[$i]}" ping; done
  redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes >"$dir/cluster-create.log"
  cluster_ready() {
    local i
    redis-cli --cluster check "${addrs[0]}" | grep -q 'All 16384 slots covered' || return 1
    for i in 0 1 2 3 4 5; do
      redis-cli -p "${ports[$i]}" cluster info | grep -q '^cluster_state:ok' || return 1
      # Every node knows all six, and every replica is in sync.
      [[ $(redis-cli -p "${ports[$i]}" cluster nodes | grep -c connected) == 6 ]] || return 1
      # ... and sees three replicas: just after the create, gossip may still
      # show a replica-to-be as a master without slots.
      [[ $(redis-cli -p "${ports[$i]}" cluster nodes | grep -c slave) == 3 ]] || return 1
      if redis-cli -p "${ports[$i]}" info replication | grep -q '^role:slave'; then
        replica_in_sync "${ports[$i]}" || return 1
      fi
    done
  }
  wait_for "the cluster" cluster_ready
  url="redis+cluster://${addrs[0]}?addr=${addrs[1]}"
  for i in 2 3 4 5; do url+="&addr=${addrs[$i]}"; done
  echo "export FOYER_TEST_REDIS_CLUSTER_URL='$url'" >>"$dir/env"
}

case $cmd in
start)
  for b in redis-server redis-sentinel redis-cli python3; do
    command -v "$b" >/dev/null || { echo "redis-topologies: $b not found" >&2; exit 1; }
  done
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  : >"$dir/env"
  trap 'stop_all' ERR
  case $which in
  sentinel) start_sentinel ;;
  cluster) start_cluster ;;
  all) start_sentinel; start_cluster ;;
  *) usage ;;
  esac
  trap - ERR
  cat "$dir/env"
  ;;
stop) stop_all ;;
*) usage ;;
esac
