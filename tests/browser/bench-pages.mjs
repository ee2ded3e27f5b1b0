// Page-load benchmark of waihu's own pages (run by tools/bench/pages.sh,
// or by hand against any running waihu):
//
//   WAIHU_URL=http://127.0.0.1:8093 WAIHU_AGENT=1001 WAIHU_AGENT_PASSWORD=... \
//   WAIHU_SUPERVISOR=... WAIHU_SUPERVISOR_PASSWORD=... node tests/browser/bench-pages.mjs
//
// Signs in once as the agent (/agent) and once as the supervisor
// (/wallboard, /reports), then for each page measures WAIHU_BENCH_LOADS
// (default 20) pairs of loads, after WAIHU_BENCH_WARMUP (default 1)
// unmeasured pairs:
//   cold: a new browser context (empty cache) with the session cookie;
//   warm: a reload in that same context.
// Each is timed from navigation start until the page shows its data:
//   /agent      the desktop's own mark "waihu:desktop" (the agent's state
//               drawn for the first time, as in desk.mjs);
//   /wallboard  the application shown with its agent cards and campaign cards;
//   /reports    the per-campaign table with its rows (rendered by the server).
// Also recorded: Navigation Timing's domContentLoaded and load, and the
// bytes transferred. Prints a table on stdout; WAIHU_BENCH_OUT=file also
// saves every sample as JSON.

import { writeFileSync } from 'node:fs';
import { launch, env, log, signIn, markWhenMatched, markTime, navigationTiming, summary } from './lib.mjs';

const base = env('WAIHU_URL');
const agent = env('WAIHU_AGENT');
const agentPassword = env('WAIHU_AGENT_PASSWORD');
const supervisor = env('WAIHU_SUPERVISOR');
const supervisorPassword = env('WAIHU_SUPERVISOR_PASSWORD');
const loads = Number(process.env.WAIHU_BENCH_LOADS || 20);
const warmup = Number(process.env.WAIHU_BENCH_WARMUP || 1);
if (!(loads >= 1) || !(warmup >= 0)) throw new Error('WAIHU_BENCH_LOADS must be >= 1 and WAIHU_BENCH_WARMUP >= 0');

const SHOWN = 'bench:shown';
const PAGES = [
  { path: '/agent', role: 'agent', mark: 'waihu:desktop' },
  {
    path: '/wallboard',
    role: 'supervisor',
    selector: '#app:not([hidden]):has([data-testid="agent-card"]):has([data-testid="campaign"])',
  },
  { path: '/reports', role: 'supervisor', selector: 'table[data-table="campaigns"] tbody tr' },
];
const CONTEXT = { viewport: { width: 1440, height: 900 }, locale: 'en-GB' };

const browser = await launch();
const problems = [];

/** The cookies of a signed-in `role`, for new contexts. */
async function session(path, user, password) {
  const context = await browser.newContext(CONTEXT);
  const page = await context.newPage();
  await signIn(page, base, path, user, password);
  const state = await context.storageState();
  await context.close();
  return state;
}

/** One load of `spec` in `page`, started by `navigate`: times in ms, bytes. */
async function measure(page, spec, navigate) {
  await navigate();
  const what = `${spec.path} to show its data`;
  const shown = await markTime(page, what, spec.mark || SHOWN);
  const nav = await navigationTiming(page, spec.path);
  return { shown, ...nav };
}

/** Cold and warm samples of one page. */
async function bench(spec, state) {
  const samples = { cold: [], warm: [] };
  for (let i = 0; i < warmup + loads; i++) {
    const context = await browser.newContext({ ...CONTEXT, storageState: state });
    if (spec.selector) await markWhenMatched(context, spec.selector, SHOWN);
    const page = await context.newPage();
    page.on('pageerror', (e) => problems.push(`${spec.path}: uncaught ${e.message}`));
    const cold = await measure(page, spec, () => page.goto(base + spec.path, { waitUntil: 'commit' }));
    const warm = await measure(page, spec, () => page.reload({ waitUntil: 'commit' }));
    await context.close();
    if (i >= warmup) {
      samples.cold.push(cold);
      samples.warm.push(warm);
    }
  }
  return samples;
}

const results = [];
try {
  log('signing in as the agent and as the supervisor');
  const states = {
    agent: await session('/agent', agent, agentPassword),
    supervisor: await session('/wallboard', supervisor, supervisorPassword),
  };
  for (const spec of PAGES) {
    log(`${spec.path}: ${warmup} + ${loads} cold loads, each with a warm reload`);
    const samples = await bench(spec, states[spec.role]);
    for (const kind of ['cold', 'warm']) results.push({ page: spec.path, kind, samples: samples[kind] });
  }
} finally {
  await browser.close();
}
if (problems.length) throw new Error(`the pages failed:\n${problems.join('\n')}`);

const ms = (x) => (x < 10 ? x.toFixed(1) : x.toFixed(0));
const rows = [['page', 'kind', 'min', 'median', 'p95', 'max', 'dcl', 'load', 'requests', 'bytes']];
for (const r of results) {
  const shown = summary(r.samples.map((s) => s.shown));
  const med = (k) => summary(r.samples.map((s) => s[k])).median;
  rows.push([
    r.page, r.kind, ms(shown.min), ms(shown.median), ms(shown.p95), ms(shown.max),
    ms(med('dcl')), ms(med('load')), String(Math.round(med('requests'))), String(Math.round(med('bytes'))),
  ]);
}
const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
const line = (row) => row.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
console.log(`page loads against ${base}, ${loads} of each kind (ms from navigation start)`);
console.log('  min..max: until the page shows its data; dcl, load: median domContentLoaded and load event;');
console.log('  requests, bytes: median count and bytes transferred (0 bytes for cache hits; WebSocket not counted)');
console.log(line(rows[0]));
for (const row of rows.slice(1)) console.log(line(row));
if (process.env.WAIHU_BENCH_OUT) writeFileSync(process.env.WAIHU_BENCH_OUT, JSON.stringify(results, null, 1));
