#!/usr/bin/env bash
# Page loads of waihu's own pages in headless Chromium: the agent desktop
# (/agent), the wallboard (/wallboard) and the reports (/reports), cold
# (a new browser context, empty cache) and warm (a reload), each timed
# from navigation start until the page shows its data.
#
# usage: tools/bench/pages.sh [LOADS]
#   Builds waihu (cargo build --release -p waihu), writes a config to a
#   temporary directory (its own ports, a fresh sqlite file, 24 agents
#   with passwords, two queues, three campaigns with 500 contacts each,
#   a supervisor), starts waihu, runs tests/browser/bench-pages.mjs with
#   LOADS (default 20) loads of each kind, stops waihu and prints the
#   table. Needs node, Debian's chromium and tests/browser/node_modules
#   (bash tests/browser/setup.sh installs them).
#   WAIHU_BENCH_KEEP=1 keeps the work directory (config, log, samples).
set -eu
loads=${1:-20}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin="${CARGO_TARGET_DIR:-$root/target}/release/waihu"
http=127.0.0.1:8093
chromium=${CHROMIUM:-/usr/bin/chromium}

missing=()
command -v node >/dev/null 2>&1 || missing+=("node")
[ -x "$chromium" ] || missing+=("chromium ($chromium)")
[ -f "$root/tests/browser/node_modules/playwright-core/package.json" ] || missing+=("tests/browser/node_modules (playwright-core)")
if [ "${#missing[@]}" -gt 0 ]; then
    echo "pages.sh: missing ${missing[*]}: run 'bash tests/browser/setup.sh' first" >&2
    exit 1
fi
if curl -s -o /dev/null "http://$http/api/v1/health"; then
    echo "pages.sh: something already answers on $http; stop it first" >&2
    exit 1
fi

(cd "$root" && cargo build --release -p waihu)

w=$(mktemp -d -t bench-pages.XXXX)
pid=
cleanup() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    if [ "${WAIHU_BENCH_KEEP:-0}" = 1 ]; then echo "work dir: $w"; else rm -rf "$w"; fi
}
trap cleanup EXIT

supervisor=bench.supervisor
supervisor_pw=bench-supervisor-pages-secret
agent_pw() { echo "bench-agent-$1-pages-secret"; }

# The config: 24 agents (1001..1024), queues "sales" (1001..1012) and
# "care" (1013..1024), three predictive campaigns that are not started
# (nothing is dialled; the trunk points at a port nobody answers).
{
    cat <<YAML
sip:
  listen:
    - udp:127.0.0.1:5073
  domain: pages.waihu.test
  realm: pages.waihu.test

agents:
YAML
    for i in $(seq 1001 1024); do
        printf '  - id: "%s"\n    password: "%s"\n    name: Agent %s\n    outbound: true\n' "$i" "$(agent_pw "$i")" "$i"
    done
    cat <<YAML

trunks:
  - name: carrier
    host: 127.0.0.1
    port: 27409
    acl: ["192.0.2.1"]
    keepalive_s: 0
    max_channels: 100
    max_cps: 10

queues:
  - name: sales
    members: [$(seq -s, -f '"%g"' 1001 1012)]
    ring_timeout_s: 15
  - name: care
    members: [$(seq -s, -f '"%g"' 1013 1024)]
    ring_timeout_s: 15

campaigns:
YAML
    for c in renewals winback upgrade; do
        queue=sales
        [ "$c" = upgrade ] && queue=care
        cat <<YAML
  - name: $c
    mode: predictive
    trunk_group: carrier
    caller_id: "+862150001234"
    queue: $queue
    agent_script: haoyun
    window: { days: { mon-sun: ["00:00-24:00"] }, rest: [] }
    import:
      default_timezone: Asia/Shanghai
YAML
    done
    cat <<YAML

http:
  listen: $http

security:
  rate_limit:
    per_ip_per_sec: 100000
    burst: 100000

scripts:
  dir: $root/scripts
  watch: false

media:
  rtp_ports: 31000-31999
  advertise: 127.0.0.1

prompts:
  dir: $root/prompts

store:
  url: sqlite://$w/waihu.db

recordings:
  dir: $w/recordings

api:
  users:
    - name: $supervisor
      password: "$supervisor_pw"
      role: supervisor
YAML
} >"$w/waihu.yaml"

# 500 contacts per campaign, with the fields the agent script shows.
for c in renewals winback upgrade; do
    python3 - "$c" >"$w/$c.csv" <<'PY'
import sys
offset = {"renewals": 0, "winback": 1, "upgrade": 2}[sys.argv[1]] * 1000
print("phone,name,city,plan,tenure_months,monthly_spend,churn_score")
for i in range(500):
    print(f"+86139{offset + i:08d},客户{i},上海,畅享套餐,{12 + i % 60},{58 + i % 200},{(i % 10) / 10}")
PY
    (cd "$w" && "$bin" campaign import "$c" "$w/$c.csv" -c waihu.yaml) | tail -1
done

(cd "$w" && exec "$bin" --log-level "${WAIHU_LOG:-warn}" run --config waihu.yaml) >"$w/waihu.log" 2>&1 &
pid=$!
up=
for _ in $(seq 100); do
    if curl -sf "http://$http/api/v1/health" >/dev/null 2>&1; then up=1; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$up" ]; then
    echo "pages.sh: waihu did not come up on $http; its log:" >&2
    cat "$w/waihu.log" >&2
    exit 1
fi

cd "$root/tests/browser"
WAIHU_URL="http://$http" CHROMIUM="$chromium" \
    WAIHU_AGENT=1001 WAIHU_AGENT_PASSWORD="$(agent_pw 1001)" \
    WAIHU_SUPERVISOR="$supervisor" WAIHU_SUPERVISOR_PASSWORD="$supervisor_pw" \
    WAIHU_BENCH_LOADS="$loads" WAIHU_BENCH_OUT="$w/samples.json" \
    node bench-pages.mjs
