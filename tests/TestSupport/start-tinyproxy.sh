#!/usr/bin/env bash
# Starts a throw-away tinyproxy on 127.0.0.1 for the TunnelPS proxy tests (or by hand).
#
# Usage: start-tinyproxy.sh [--port N] [--user NAME --password SECRET] [--dir DIR] [--listen ADDR] [--allow ADDR/LEN]
#   --port      port to listen on; default: a free port between 20000 and 31999
#   --user/--password  enable BasicAuth (tinyproxy answers 407 without them); tinyproxy accepts
#               only letters, digits, "-", "_" and "." in both
#   --dir       where the config, log and pid files go; default: a new /tmp/tunnelps-tinyproxy.XXXXXX
#   --listen    the address to listen on; default 127.0.0.1 (the network-namespace test uses its veth address)
#   --allow     a further client address or range allowed besides 127.0.0.1 (repeatable)
#
# Prints, one per line and nothing else on stdout:
#   PORT=<port>  LOG=<log file>  PID=<tinyproxy pid>  CONF=<config file>  DIR=<dir>
# Stop it with: kill <PID>   (then rm -rf <DIR> if you like)
#
# The config has no ConnectPort line: tinyproxy 1.11 then allows CONNECT to every port (its packaged
# config restricts CONNECT to 443 and 563, which would refuse the tests' loopback ports).
set -euo pipefail

port=""
user=""
password=""
dir=""
listen="127.0.0.1"
allow=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --port) port="$2"; shift 2 ;;
    --user) user="$2"; shift 2 ;;
    --password) password="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --listen) listen="$2"; shift 2 ;;
    --allow) allow+=("$2"); shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "start-tinyproxy.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

bin="$(command -v tinyproxy || true)"
if [[ -z "$bin" ]]; then
  echo "start-tinyproxy.sh: tinyproxy is not installed (apt-get install -y tinyproxy)" >&2
  exit 3
fi
if [[ -n "$user" && -z "$password" ]] || [[ -z "$user" && -n "$password" ]]; then
  echo "start-tinyproxy.sh: give both --user and --password, or neither" >&2
  exit 2
fi

port_is_free() { ! (exec 3<>"/dev/tcp/$listen/$1") 2>/dev/null; }

if [[ -z "$port" ]]; then
  for _ in $(seq 1 50); do
    # Below Linux's ephemeral range (32768-60999), so the many client sockets of the tests do not take it.
    candidate=$(( 20000 + RANDOM % 12000 ))
    if port_is_free "$candidate"; then port="$candidate"; break; fi
  done
  if [[ -z "$port" ]]; then
    echo "start-tinyproxy.sh: found no free port" >&2
    exit 4
  fi
fi

if [[ -z "$dir" ]]; then
  dir="$(mktemp -d /tmp/tunnelps-tinyproxy.XXXXXX)"
else
  mkdir -p "$dir"
fi
conf="$dir/tinyproxy.conf"
log="$dir/tinyproxy.log"
: > "$log"

# When started as root, tinyproxy switches to User/Group; let that user write the log.
run_user="$(id -un)"
run_group="$(id -gn)"
if [[ "$(id -u)" == "0" ]]; then
  run_user="nobody"
  run_group="$(id -gn nobody 2>/dev/null || echo nogroup)"
  chmod 755 "$dir"
  chown "$run_user:$run_group" "$log"
fi

{
  echo "User $run_user"
  echo "Group $run_group"
  echo "Listen $listen"
  echo "Port $port"
  echo "Timeout 60"
  echo "LogFile \"$log\""
  echo "LogLevel Info"
  echo "MaxClients 50"
  echo "Allow 127.0.0.1"
  for a in "${allow[@]}"; do echo "Allow $a"; done
  if [[ -n "$user" ]]; then echo "BasicAuth $user $password"; fi
  # No ConnectPort lines: CONNECT is allowed to any port.
} > "$conf"

# -d: stay in the foreground (so $! is tinyproxy itself); it runs in the background of this script.
"$bin" -d -c "$conf" >>"$dir/stdout.log" 2>&1 &
pid=$!

for _ in $(seq 1 100); do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "start-tinyproxy.sh: tinyproxy exited at start; see $dir/stdout.log and $log" >&2
    cat "$dir/stdout.log" >&2 || true
    exit 5
  fi
  if ! port_is_free "$port"; then
    echo "PORT=$port"
    echo "LOG=$log"
    echo "PID=$pid"
    echo "CONF=$conf"
    echo "DIR=$dir"
    exit 0
  fi
  sleep 0.05
done
kill "$pid" 2>/dev/null || true
echo "start-tinyproxy.sh: tinyproxy did not start listening on $listen:$port within 5 s; see $log" >&2
exit 6
