// The supervisor wallboard: agents, queues, campaigns (with the rolling
// abandon rate on a gauge) and trunks, re-read a moment after events
// arrive on the WebSocket; pausing and resuming campaigns, and pausing an
// agent.

import { api, h, fill, since, session, events, debounced, failure } from './common.js';
import { gauge } from './gauge.js';

/** Campaign calls by Call-ID (from the calls' `started` events). */
const callCampaign = new Map();
let latest = null;

session(start, 'Supervisors and admins sign in with their user name.');

function start(me) {
  if (me.role === 'agent') {
    notice('The wallboard is for supervisors: agents work at /agent.', true);
    return;
  }
  load();
  events(onEvent, load);
}

function onEvent(event) {
  if (event.kind === 'call') {
    if (event.event === 'started' && event.campaign) callCampaign.set(event.call_id, event.campaign);
    if (event.event === 'ended') callCampaign.delete(event.call_id);
  }
  load();
}

// Events come in bursts (a dial is several); one read per quarter second.
const load = debounced(async () => {
  const [agents, queues, campaigns, trunks] = await Promise.all([
    api('GET', '/agents'),
    api('GET', '/queues'),
    api('GET', '/campaigns'),
    api('GET', '/trunks'),
  ]);
  const statuses = await Promise.all((campaigns.campaigns || []).map(
    (c) => api('GET', `/campaigns/${encodeURIComponent(c.name)}`).catch(() => null),
  ));
  latest = {
    at: Date.now(),
    agents: agents.agents || [],
    queues: queues.queues || [],
    campaigns: (campaigns.campaigns || []).map((c, i) => ({ ...c, status: statuses[i] })),
    trunks: trunks.trunks || [],
  };
  render();
}, 250);

async function act(button, work) {
  button.disabled = true;
  try {
    await work();
    notice('');
  } catch (e) {
    notice(failure(e), true);
  } finally {
    button.disabled = false;
    load();
  }
}

function notice(text, error = false) {
  const node = document.getElementById('notice');
  node.textContent = text;
  node.classList.toggle('error', error);
}

function render() {
  const { agents, queues, campaigns, trunks } = latest;
  const count = (state) => agents.filter((a) => a.state === state).length;
  const waiting = queues.reduce((n, q) => n + (q.waiting || 0), 0);
  fill('totals', `${agents.length - count('logged_out')} logged in · ${count('ready')} ready · `
    + `${count('on_call')} on call · ${count('wrap_up')} in wrap-up · ${count('paused')} paused · ${waiting} waiting`);
  fill('agents', agents.map(agentCard));
  fill('campaigns', campaigns.map(campaignCard));
  fill('queues', queues.map(queueRow));
  fill('trunks', trunks.map(trunkRow));
}

const STATE_NAMES = {
  logged_out: 'Logged out', ready: 'Ready', reserved: 'Ringing', on_call: 'On call', wrap_up: 'Wrap-up', paused: 'Paused',
};

function agentCard(a) {
  const campaign = a.call ? callCampaign.get(a.call) : null;
  const where = campaign ? `campaign ${campaign}` : a.queue ? `queue ${a.queue}` : '';
  const pausable = ['ready', 'reserved', 'on_call', 'wrap_up'].includes(a.state);
  return h('div', { class: `card agent agent-${a.state}`, 'data-testid': 'agent-card', 'data-agent': a.name },
    h('div', { class: 'card-head' },
      h('strong', {}, a.name),
      h('span', { class: `state state-${a.state}`, 'data-testid': 'agent-card-state', 'data-state': a.state },
        STATE_NAMES[a.state] || a.state)),
    h('div', { class: 'big' }, since(a.since_ms)),
    h('div', { class: 'muted', 'data-testid': 'agent-card-where' }, where || a.reason || '\u00a0'),
    h('div', { class: 'muted small' }, a.calls === 1 ? '1 call' : `${a.calls} calls`),
    pausable
      ? h('button', {
        class: 'quiet',
        'data-testid': 'force-pause',
        onclick: (e) => act(e.currentTarget, () => api('POST', `/agents/${encodeURIComponent(a.name)}/pause`, { reason: 'supervisor' })),
      }, 'Pause')
      : null);
}

/**
 * The campaign's figures: the attempts that ended, from the store's counts,
 * plus the calls up now, from the dialer (an attempt has its outcome only
 * once it ends).
 */
function figures(c, dialer) {
  const counts = (c.status && c.status.counts) || c.counts || {};
  const outcomes = counts.outcomes || {};
  const results = counts.results || {};
  const contacts = counts.contacts || {};
  const now = dialer || { waiting: 0, connected: 0 };
  const connected = (results.answered || 0) + now.connected;
  const abandoned = outcomes.abandoned || 0;
  const total = Object.values(contacts).reduce((n, x) => n + x, 0);
  return {
    dialled: counts.attempts || 0,
    answered: connected + now.waiting + abandoned + (results.machine || 0),
    connected,
    abandoned,
    remaining: total - (contacts.done || 0),
  };
}

function campaignCard(c) {
  const dialer = c.status && c.status.dialer;
  const f = figures(c, dialer);
  const toggle = c.state === 'running'
    ? ['Pause', 'pause']
    : c.state === 'paused' ? ['Resume', 'start'] : c.state === 'draft' ? ['Start', 'start'] : null;
  return h('div', { class: `card campaign campaign-${c.state}`, 'data-testid': 'campaign', 'data-campaign': c.name },
    h('div', { class: 'card-head' },
      h('strong', {}, c.name),
      h('span', { class: 'tag' }, c.mode),
      h('span', { class: `tag campaign-${c.state}`, 'data-testid': 'campaign-state' }, c.state),
      toggle
        ? h('button', {
          'data-testid': 'campaign-toggle',
          onclick: (e) => act(e.currentTarget, () => api('POST', `/campaigns/${encodeURIComponent(c.name)}/${toggle[1]}`)),
        }, toggle[0])
        : null),
    h('div', { class: 'campaign-body' },
      h('dl', { class: 'figures' }, ...['dialled', 'answered', 'connected', 'abandoned', 'remaining'].flatMap((k) => [
        h('dt', {}, k),
        h('dd', { 'data-testid': `campaign-${k}` }, String(f[k])),
      ])),
      dialer ? gauge(dialer.abandon_rate, dialer.abandon_target) : h('p', { class: 'muted' }, 'Not dialling.')),
    dialer
      ? h('p', { class: 'muted small' },
        `now: ${dialer.ringing} ringing · ${dialer.waiting} waiting for an agent · ${dialer.connected} with agents`
        + (dialer.held ? ' · new lines held: the switch is overloaded' : ''))
      : null);
}

function queueRow(q) {
  // The longest wait as of the read, moving on with the display clock.
  const longest = q.waiting > 0 ? since(latest.at - q.longest_wait_ms) : '—';
  return h('tr', { 'data-queue': q.name },
    h('td', {}, q.name),
    h('td', { 'data-testid': 'queue-waiting', class: q.waiting > 0 ? 'warn' : '' }, String(q.waiting)),
    h('td', {}, longest),
    h('td', {}, `${q.logged_in} / ${q.ready} of ${q.members}`));
}

function trunkRow(t) {
  return h('tr', { 'data-trunk': t.name },
    h('td', {}, t.name, h('span', { class: 'muted small' }, ` ${t.address}`)),
    h('td', { class: t.up ? 'ok' : 'bad', 'data-testid': 'trunk-up' }, t.up ? 'up' : 'down'),
    h('td', {}, t.registration, t.reason ? h('span', { class: 'muted small' }, ` ${t.reason}`) : null),
    h('td', {}, `${t.channels} / ${t.max_channels || '∞'}`),
    h('td', {}, String(t.refused)));
}
