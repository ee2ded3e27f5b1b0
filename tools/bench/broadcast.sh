#!/usr/bin/env bash
# Broadcast throughput: call launches per second and concurrent playing
# calls per core.
#
#   waihu's dialer -> carrier (sipp's built-in UAS on 127.0.0.1:27400):
#   INVITE, 180, 200, ACK; ten seconds of prompt audio from waihu (50
#   packets a second); BYE from waihu.
#
# usage: tools/bench/broadcast.sh [CONTACTS] [SECONDS]
#   Starts target/release/waihu with tools/bench/waihu-broadcast.yaml,
#   imports CONTACTS numbers (default 6000), starts the campaign and
#   watches it for SECONDS (default 40): prints launches per second,
#   the peak of concurrent calls, waihu's CPU, and playing calls per core.
#   Needs sipp and a release build (cargo build --release -p waihu).
set -eu
contacts=${1:-6000} secs=${2:-40}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
w=$(mktemp -d -t broadcast.XXXX)
rm -rf /tmp/bench-broadcast && mkdir -p /tmp/bench-broadcast

python3 - "$contacts" >"$w/list.csv" <<'PY'
import sys
print("phone")
for i in range(int(sys.argv[1])):
    print(f"+86139{i:08d}")
PY
(cd "$here" && "$root/target/release/waihu" campaign import bench "$w/list.csv" -c waihu-broadcast.yaml) | tail -1

(cd "$here" && exec "$root/target/release/waihu" --log-level "${WAIHU_LOG:-warn}" run --config waihu-broadcast.yaml) \
    >"$w/waihu.log" 2>&1 &
pid=$!
uas=
trap 'kill $pid ${uas:-} 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    curl -sf http://127.0.0.1:8091/api/v1/health >/dev/null 2>&1 && break
    sleep 0.1
done
sipp -sn uas -i 127.0.0.1 -p 27400 -mi 127.0.0.1 -mp 27500 -bg </dev/null >/dev/null 2>&1 || true
uas=$(pgrep -n -f "sipp -sn uas -i 127.0.0.1 -p 27400")

ticks() { awk '{print $14+$15}' "/proc/$pid/stat"; }
active() { curl -sf http://127.0.0.1:8091/metrics | awk '/^waihu_calls_active /{print $2}'; }
hz=$(getconf CLK_TCK)
# The admin token waihu made next to its config on first start.
auth="Authorization: Bearer $(cat "$here/waihu-admin.token")"
curl -sf -H "$auth" -X POST http://127.0.0.1:8091/api/v1/campaigns/bench/start >/dev/null
s0=$(date +%s.%N)
: >"$w/samples"
for _ in $(seq "$secs"); do
    sleep 1
    echo "$(date +%s.%N) $(ticks) $(active)" >>"$w/samples"
done
curl -sf -H "$auth" "http://127.0.0.1:8091/api/v1/campaigns/bench/attempts?limit=100000" >"$w/attempts.json"
echo "work dir: $w"
python3 - "$w/samples" "$w/attempts.json" "$hz" "$s0" <<'PY'
import json, sys
samples = [l.split() for l in open(sys.argv[1]) if len(l.split()) == 3]
attempts = json.load(open(sys.argv[2]))["attempts"]
hz, s0 = int(sys.argv[3]), float(sys.argv[4])
starts = sorted(a["started_ms"] for a in attempts)
# Launch rate: the busiest 5 seconds of INVITEs.
best = 0
for i, t in enumerate(starts):
    j = i
    while j < len(starts) and starts[j] < t + 5000:
        j += 1
    best = max(best, (j - i) / 5)
answered = sum(1 for a in attempts if a.get("outcome") == "answered")
peak = max(float(s[2]) for s in samples)
# Steady state: the samples where at least 90% of the peak is up.
steady = [s for s in samples if float(s[2]) >= 0.9 * peak]
if len(steady) >= 2:
    cpu = (int(steady[-1][1]) - int(steady[0][1])) / hz
    wall = float(steady[-1][0]) - float(steady[0][0])
    calls = sum(float(s[2]) for s in steady) / len(steady)
    frac = cpu / wall if wall > 0 else 0
    print(f"attempts={len(attempts)} answered={answered} launches_per_s_peak={best:.0f} "
          f"peak_calls={peak:.0f} steady_calls={calls:.0f} waihu_cpu={100*frac:.0f}% "
          f"playing_calls_per_core={calls / max(frac, 1e-9):.0f}")
else:
    print(f"attempts={len(attempts)} answered={answered} launches_per_s_peak={best:.0f} peak_calls={peak:.0f} (no steady state)")
PY
