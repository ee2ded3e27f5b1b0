// The agent desktop and the wallboard in Chromium, against a running waihu
// with sipp as the carrier and as the agent's phone (set up and checked
// afterwards by tests/browser.rs, which passes everything in WAIHU_*):
//
// an agent signs in and logs in (Ready); a predictive call comes and the
// customer's record pops; the agent clicks through the haoyun script and
// records "success", then hangs up; pauses for lunch and is Ready again;
// previews a contact and skips it, previews the next and accepts it,
// hangs up and must classify it (a callback tomorrow at ten) before the
// wrap-up ends; a
// manual dial of a do-not-call number shows the dial point's refusal. The
// wallboard, signed in as a supervisor in another browser context, shows
// the agent On call during the call; the supervisor pauses the agent (the
// desktop follows by WebSocket) and pauses and resumes a campaign, and
// downloads the agents' report as CSV from /reports.
//
// Prints one JSON line on stdout with what the Rust side checks in the store.

import { readFileSync } from 'node:fs';
import { launch, env, tid, log, until, text, attrIs, textHas, signIn, screenshot } from './lib.mjs';

const base = env('WAIHU_URL');
const agent = env('WAIHU_AGENT');
const agentPassword = env('WAIHU_AGENT_PASSWORD');
const supervisor = env('WAIHU_SUPERVISOR');
const supervisorPassword = env('WAIHU_SUPERVISOR_PASSWORD');
const predictivePhone = env('WAIHU_PREDICTIVE_PHONE');
const predictiveName = env('WAIHU_PREDICTIVE_NAME');
const predictiveCampaign = env('WAIHU_PREDICTIVE_CAMPAIGN');
const previewCampaign = env('WAIHU_PREVIEW_CAMPAIGN');
const dncNumber = env('WAIHU_DNC_NUMBER');
const shots = process.env.WAIHU_SCREENSHOTS || '';
const artifacts = process.env.WAIHU_ARTIFACTS || '';

/** The haoyun branch taken: [node, the option's `next`]. */
const HAOYUN = [
  ['greet', 'can_decide'], // not the holder
  ['can_decide', 'offer'], // may decide for the number
  ['offer', 'retain'], // refuses
  ['retain', 'confirm'], // accepts after the retention line
  ['confirm', 'reconfirm'], // a vague answer
  ['reconfirm', 'done'], // explicit consent
];

const browser = await launch();
const pages = {};
const problems = [];
const result = {};

/**
 * A page that records uncaught errors and any request to another host; in
 * a new browser context (its own cookies) unless `context` is given.
 */
async function open(name, context) {
  const ctx = context || await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'en-GB' });
  const page = await ctx.newPage();
  page.on('pageerror', (e) => problems.push(`${name}: uncaught ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && log(`${name} console: ${m.text()}`));
  page.on('request', (r) => {
    const url = r.url();
    if (!url.startsWith(base) && !url.startsWith(base.replace(/^http/, 'ws')) && !url.startsWith('data:')) {
      problems.push(`${name}: request to another host: ${url}`);
    }
  });
  page.on('request', (r) => {
    if (new URL(r.url()).pathname.startsWith('/api/')) apiRequests.push({ page: name, at: Date.now(), url: r.url() });
  });
  pages[name] = page;
  return page;
}

/** Every API request of the pages, to show that a quiet page asks nothing. */
const apiRequests = [];
/** The desktop's WebSocket link: up or cut, and the sockets open through it. */
const link = { up: true, open: [] };

const cardState = (board, state, timeout) => until(
  board,
  `the wallboard to show agent ${agent} ${state}`,
  ([a, s]) => {
    const card = document.querySelector(`[data-testid="agent-card"][data-agent="${a}"] [data-testid="agent-card-state"]`);
    return card && card.dataset.state === s;
  },
  [agent, state],
  timeout,
);

const stateIs = (desk, state, timeout) => attrIs(desk, 'agent-state', 'data-state', state, timeout);

async function scenario() {
  const board = await open('wallboard');
  const desk = await open('agent');
  // The desktop's events WebSocket passes through the test, which can cut
  // it (and refuse reconnections) as a network would.
  await desk.context().routeWebSocket(/\/api\/v1\/events/, async (ws) => {
    if (!link.up) {
      await ws.close({ code: 1013, reason: 'test: no link' });
      return;
    }
    ws.connectToServer();
    link.open.push(ws);
  });

  log('the supervisor signs in to the wallboard');
  await signIn(board, base, '/wallboard', supervisor, supervisorPassword);
  await cardState(board, 'logged_out');
  await until(board, 'the link to go live', (sel) => document.querySelector(sel)?.dataset.state === 'live', tid('link'));

  log('the agent signs in to the desktop');
  await signIn(desk, base, '/agent', agent, agentPassword);
  await stateIs(desk, 'logged_out');
  await until(desk, 'the link to go live', (sel) => document.querySelector(sel)?.dataset.state === 'live', tid('link'));

  // Load time: from navigation start to the agent's state on screen (the
  // session cookie is set; the assets come from the cache, the page is
  // revalidated). The best of three reloads.
  const loads = [];
  for (let i = 0; i < 3; i++) {
    await desk.reload();
    // The page marks the moment it first shows the agent's state.
    loads.push(await until(desk, 'the desktop after a reload', () => {
      const mark = performance.getEntriesByName('waihu:desktop')[0];
      return mark ? mark.startTime : false;
    }));
  }
  result.reload_ms = Math.round(Math.min(...loads));
  log(`desktop shown in ${loads.map(Math.round).join(', ')} ms after reloads`);
  // Speed is judged by tools/bench/pages.sh, not asserted here.

  log('the agent logs in: Ready, and the predictive call comes');
  await desk.click(tid('btn-ready'));
  await textHas(desk, 'call-number', predictivePhone, 40000);
  await stateIs(desk, 'on_call');
  await textHas(desk, 'contact', predictiveName);
  await textHas(desk, 'contact', predictivePhone);
  await textHas(desk, 'call-campaign', predictiveCampaign);
  // The script's greeting names the customer from the record.
  await textHas(desk, 'script-say', predictiveName);
  // retention.offers for this customer (48 months, 168 yuan, churn 0.7).
  await textHas(desk, 'offers', 'LOYALTY_15OFF');
  await textHas(desk, 'offers', 'DATA_20G');
  await cardState(board, 'on_call');
  await until(board, 'the campaign to count the call, dialled and connected', ([c]) => {
    const figure = (k) => Number(document.querySelector(
      `[data-testid="campaign"][data-campaign="${c}"] [data-testid="campaign-${k}"]`,
    )?.textContent);
    return figure('dialled') === 1 && figure('answered') === 1 && figure('connected') === 1 && figure('remaining') === 1;
  }, [predictiveCampaign]);
  await until(board, 'the abandon gauge', (sel) => document.querySelector(sel)?.dataset.level, tid('abandon-gauge'));
  // The call timer moves on (the display clock; nothing is fetched).
  const timer1 = await text(desk, 'call-timer');
  await until(desk, 'the call timer to move', ([sel, t0]) => {
    const t = document.querySelector(sel)?.textContent;
    return /^\d+:\d\d$/.test(t) && t !== t0;
  }, [tid('call-timer'), timer1], 5000);
  if (shots) {
    // In front, so its display clock has ticked (Chromium slows the
    // timers of pages in the background).
    await board.bringToFront();
    await board.waitForTimeout(1100);
    await screenshot(board, shots, 'wallboard');
    await desk.bringToFront();
  }

  log('the agent follows the haoyun script');
  for (const [i, [node, next]] of HAOYUN.entries()) {
    await attrIs(desk, 'script-say', 'data-node', node);
    // Half-way, with the path so far on screen.
    if (i === 3) await screenshot(desk, shots, 'agent');
    await desk.click(`${tid('script-option')}[data-next="${next}"]`);
  }
  await attrIs(desk, 'script-say', 'data-node', 'done');
  await textHas(desk, 'script-outcome', 'success');
  const steps = await desk.locator(tid('script-step')).count();
  if (steps !== HAOYUN.length) throw new Error(`the path shows ${steps} steps, not ${HAOYUN.length}`);
  if (await desk.locator(tid('script-option')).count()) throw new Error('options shown at the end of the script');

  log('disposition "success", then hang up');
  await desk.click(tid('dispo-success'));
  await textHas(desk, 'dispo-done', 'success');
  await desk.click(tid('btn-hangup'));
  await until(desk, 'the call to end', (sel) => {
    const s = document.querySelector(sel).dataset.state;
    return s === 'ready' || s === 'wrap_up';
  }, tid('agent-state'));
  if ((await desk.getAttribute(tid('agent-state'), 'data-state')) === 'wrap_up') {
    await until(desk, 'Ready to be allowed', (sel) => !document.querySelector(sel).disabled, tid('btn-ready'));
    await desk.click(tid('btn-ready'));
  }
  await stateIs(desk, 'ready');
  await cardState(board, 'ready');

  log('pause for lunch, then Ready');
  await desk.selectOption(tid('pause-reason'), 'lunch');
  await desk.click(tid('btn-pause'));
  await stateIs(desk, 'paused');
  await textHas(desk, 'state-reason', 'lunch');
  await cardState(board, 'paused');
  // Nothing happens now: the desktop must not ask the API anything (it
  // polls nothing; the WebSocket would tell it of a change).
  const quietFrom = Date.now();
  await desk.waitForTimeout(3000);
  const asked = apiRequests.filter((r) => r.page === 'agent' && r.at >= quietFrom);
  if (asked.length) throw new Error(`the idle desktop asked the API: ${asked.map((r) => r.url).join(', ')}`);
  await desk.click(tid('btn-ready'));
  await stateIs(desk, 'ready');

  log('preview: skip one, accept the next');
  await desk.selectOption(tid('preview-campaign'), previewCampaign);
  await desk.click(tid('btn-preview'));
  await desk.locator(tid('preview-phone')).waitFor({ timeout: 20000 });
  const skipped = (await text(desk, 'preview-phone')).trim();
  const left1 = Number(await text(desk, 'preview-countdown'));
  if (!(left1 > 50 && left1 <= 60)) throw new Error(`the countdown starts at ${left1} s`);
  await desk.waitForTimeout(2100);
  const left2 = Number(await text(desk, 'preview-countdown'));
  if (!(left2 < left1)) throw new Error(`the countdown does not move: ${left1} then ${left2}`);
  await desk.click(tid('btn-skip'));
  await desk.locator(tid('preview-phone')).waitFor({ state: 'detached' });
  await until(desk, 'Preview next to be enabled', (sel) => !document.querySelector(sel).disabled, tid('btn-preview'));
  let accepted = '';
  for (let i = 0; i < 40 && !accepted; i++) {
    await desk.click(tid('btn-preview'));
    const shown = await Promise.race([
      desk.locator(tid('preview-phone')).waitFor({ timeout: 5000 }).then(() => true),
      textHas(desk, 'preview-error', ' ', 5000).then(() => false),
    ]).catch(() => false);
    if (shown) accepted = (await text(desk, 'preview-phone')).trim();
    else await desk.waitForTimeout(500);
  }
  if (!accepted) throw new Error(`no second contact to preview: ${await text(desk, 'preview-error')}`);
  if (accepted === skipped) throw new Error(`the skipped contact ${skipped} came back at once`);
  await desk.click(tid('btn-accept'));
  await textHas(desk, 'call-number', accepted, 30000);
  await stateIs(desk, 'on_call');
  // The agent's phone answers first, then the customer's rings: talk a
  // little before hanging up (the carrier answers in about 300 ms).
  await until(desk, 'two seconds on the call timer', (sel) => {
    const [m, s] = (document.querySelector(sel)?.textContent || '').split(':').map(Number);
    return m * 60 + s >= 2;
  }, tid('call-timer'));
  // Hung up before classifying: the wrap-up waits for the disposition.
  await desk.click(tid('btn-hangup'));
  await stateIs(desk, 'wrap_up');
  await textHas(desk, 'dispo-need', 'wrap-up ends only after it');
  if (!(await desk.isDisabled(tid('btn-ready')))) throw new Error('Ready is offered before the disposition');
  await textHas(desk, 'call-number', accepted); // the record stays on screen
  // The customer asks to be called back tomorrow at ten (local time).
  const back = new Date();
  back.setDate(back.getDate() + 1);
  back.setHours(10, 0, 0, 0);
  const local = (n) => String(n).padStart(2, '0');
  await desk.fill(tid('callback-at'),
    `${back.getFullYear()}-${local(back.getMonth() + 1)}-${local(back.getDate())}T10:00`);
  await desk.click(tid('dispo-callback'));
  await stateIs(desk, 'ready', 20000);
  result.callback_at_ms = back.getTime();
  result.preview = { skipped, accepted };

  log('a manual dial of a do-not-call number is refused, with the reason');
  await desk.fill(tid('dial-number'), dncNumber);
  await desk.selectOption(tid('dial-campaign'), predictiveCampaign);
  await desk.click(tid('btn-dial'));
  await attrIs(desk, 'dial-result', 'data-reason', 'do_not_call');
  await textHas(desk, 'dial-result', 'Refused at the dial point');

  log('the supervisor pauses the agent; the desktop follows');
  const forcePause = `[data-testid="agent-card"][data-agent="${agent}"] ${tid('force-pause')}`;
  await board.click(forcePause);
  await stateIs(desk, 'paused');
  await textHas(desk, 'state-reason', 'supervisor');

  log('the desktop loses its link, misses a pause, and catches up when back');
  await desk.click(tid('btn-ready'));
  await stateIs(desk, 'ready');
  await cardState(board, 'ready');
  link.up = false;
  for (const ws of link.open.splice(0)) await ws.close({ code: 1012, reason: 'test: the link drops' });
  await until(desk, 'the link to drop', (sel) => document.querySelector(sel)?.dataset.state !== 'live', tid('link'));
  await board.click(forcePause);
  await cardState(board, 'paused');
  await desk.waitForTimeout(500);
  if ((await desk.getAttribute(tid('agent-state'), 'data-state')) !== 'ready') {
    throw new Error('the desktop changed while it had no link');
  }
  link.up = true;
  await until(desk, 'the link to come back', (sel) => document.querySelector(sel)?.dataset.state === 'live', tid('link'));
  await stateIs(desk, 'paused');
  await textHas(desk, 'state-reason', 'supervisor');

  log('the supervisor pauses and resumes the preview campaign');
  const campaign = `[data-testid="campaign"][data-campaign="${previewCampaign}"]`;
  const campaignState = (s) => until(board, `campaign ${previewCampaign} ${s}`, ([sel, want]) => {
    const node = document.querySelector(`${sel} [data-testid="campaign-state"]`);
    return node && node.textContent === want;
  }, [campaign, s]);
  await campaignState('running');
  await board.click(`${campaign} ${tid('campaign-toggle')}`);
  await campaignState('paused');
  await board.click(`${campaign} ${tid('campaign-toggle')}`);
  await campaignState('running');

  log('the supervisor downloads the agents report as CSV');
  const reports = await open('reports', board.context());
  await reports.goto(`${base}/reports`);
  await reports.locator('table[data-table="agents"]').waitFor({ timeout: 10000 });
  await screenshot(reports, shots, 'reports');
  const [download] = await Promise.all([
    reports.waitForEvent('download', { timeout: 10000 }),
    reports.click('.table:has(table[data-table="agents"]) a.csv'),
  ]);
  if (!download.suggestedFilename().endsWith('.csv')) throw new Error(`the download is ${download.suggestedFilename()}`);
  const lines = readFileSync(await download.path(), 'utf8').trim().split(/\r?\n/);
  const header = lines[0].split(',');
  const row = lines.slice(1).map((l) => l.split(',')).find((cells) => cells[header.indexOf('agent')] === agent);
  if (!row) throw new Error(`no row for agent ${agent} in the CSV:\n${lines.join('\n')}`);
  result.agents_csv = Object.fromEntries(header.map((h, i) => [h, row[i]]));

  log('sign out');
  await desk.click(tid('btn-signout'));
  await desk.locator('#login').waitFor({ state: 'visible' });
  const me = await desk.evaluate(async () => (await fetch('/api/v1/me')).status);
  if (me !== 401) throw new Error(`after signing out, /api/v1/me answers ${me}`);
  if (problems.length) throw new Error(problems.join('\n'));
}

try {
  await scenario();
  process.stdout.write(`${JSON.stringify(result)}\n`);
  await browser.close();
} catch (e) {
  for (const [name, page] of Object.entries(pages)) {
    await screenshot(page, artifacts, `failed-${name}`).catch(() => {});
  }
  process.stderr.write(`browser scenario failed: ${e.stack || e}\n${problems.join('\n')}\n`);
  await browser.close();
  process.exit(1);
}
