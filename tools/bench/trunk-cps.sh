#!/usr/bin/env bash
# B2BUA call set-ups through a trunk, with the Lua route in the path.
#
#   caller (sipp UAC, digest auth) -> waihu: INVITE, 407, INVITE
#   waihu runs scripts/route.lua, which dials pstn:NUMBER
#   waihu -> carrier (sipp UAS on 127.0.0.1:27400): INVITE, 180, 200, ACK
#   waihu -> caller: 200; ACK; 100 ms of RTP; BYE both ways
#
# usage: tools/bench/trunk-cps.sh RATE [SECONDS]
#   Starts target/release/waihu with tools/bench/waihu-trunk.yaml, offers
#   RATE calls per second for SECONDS (default 30), and prints waihu's CPU,
#   set-ups per core-second and the share of calls not completed (failed,
#   or refused with 503 when waihu is overloaded). Needs sipp and a
#   release build (cargo build --release -p waihu).
#   WORKERS=N runs waihu with process.workers: N (default: one per two cores).
#   RELAY_IO=epoll runs it with media.relay_io: epoll (default: auto).
#   PIN=1 pins waihu to CPU 0 and both sipps to CPU 1 (taskset), so that
#   waihu's figure is not shared with the load generators' scheduling.
set -eu
rate=$1 secs=${2:-30}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
w=$(mktemp -d -t trunk-cps.XXXX)
mkdir -p /tmp/bench
rm -f /tmp/bench/waihu.db*

waihu_cpu= sipp_cpu=
if [ -n "${PIN:-}" ]; then
    waihu_cpu="taskset -c 0" sipp_cpu="taskset -c 1"
fi
config=$here/waihu-trunk.yaml
if [ -n "${WORKERS:-}" ] || [ -n "${RELAY_IO:-}" ]; then
    config=$w/waihu-trunk.yaml
    sed "s|\.\./\.\./|$root/|" "$here/waihu-trunk.yaml" >"$config"
    if [ -n "${WORKERS:-}" ]; then
        printf 'process:\n  workers: %s\n' "$WORKERS" >>"$config"
    fi
    if [ -n "${RELAY_IO:-}" ]; then
        sed -i "s|^  advertise: 127.0.0.1$|&\n  relay_io: $RELAY_IO|" "$config"
    fi
fi
(cd "$here" && exec $waihu_cpu "$root/target/release/waihu" --log-level "${WAIHU_LOG:-warn}" run --config "$config") \
    >"$w/waihu.log" 2>&1 &
pid=$!
uas=
trap 'kill $pid ${uas:-} 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    curl -sf http://127.0.0.1:8090/api/v1/health >/dev/null 2>&1 && break
    sleep 0.1
done

# The carrier: sipp's built-in UAS answers every INVITE.
$sipp_cpu sipp -sn uas -i 127.0.0.1 -p 27400 -mi 127.0.0.1 -mp 27500 -bg </dev/null >/dev/null 2>&1 || true
uas=$(pgrep -n -f "sipp -sn uas -i 127.0.0.1 -p 27400")

cat >"$w/uac.csv" <<CSV
SEQUENTIAL
bench.waihu.test;0;1001;
CSV
ticks() { awk '{print $14+$15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks); s0=$(date +%s.%N)
(cd "$w" && timeout $((secs + 30)) $sipp_cpu sipp 127.0.0.1:5070 -i 127.0.0.1 -p 0 \
    -s 8613800000000 -au 1001 -ap bench-caller-1001-secret \
    -auth_uri 8613800000000@bench.waihu.test \
    -sf "$here/uac-auth.xml" -inf "$w/uac.csv" \
    -r "$rate" -m $((rate * secs)) -d 100 -mp 44000 \
    -trace_stat -stf "$w/stat.csv" -fd 1 -trace_err -error_file "$w/errors.log" </dev/null >/dev/null 2>&1) || true
echo "work dir: $w"
t1=$(ticks); s1=$(date +%s.%N)
python3 - "$rate" "$w/stat.csv" "$t0" "$t1" "$s0" "$s1" "$hz" <<'PY'
import sys
rate, stat, t0, t1, s0, s1, hz = sys.argv[1:]
rows = [line.rstrip("\n").split(";") for line in open(stat)]
last = dict(zip(rows[0], rows[-1]))
ok, fail = int(last["SuccessfulCall(C)"]), int(last["FailedCall(C)"])
# A call answered 503 is acknowledged and failed by a receive timeout
# (uac-auth.xml), counted apart: waihu refused it as overloaded, or (rarely)
# a table or the RTP ports were full.
refused = int(last.get("FailedTimeoutOnRecv(C)", 0))
cpu_s = (int(t1) - int(t0)) / int(hz)
wall = float(s1) - float(s0)
print(f"rate={rate}/s calls_ok={ok} failed={fail - refused} refused_503={refused} "
      f"({100 * fail / max(ok + fail, 1):.2f}% not completed) "
      f"waihu_cpu={100 * cpu_s / wall:.0f}% setups_per_core_second={ok / max(cpu_s, 1e-9):.0f}")
PY
