// The agent desktop: state, the call with the customer's record, the
// agent script one node at a time, retention offers, the disposition,
// preview and manual dialling.
//
// Everything on screen comes from `GET /api/v1/agents/{id}/desktop`,
// read again whenever the events WebSocket says something about this
// agent or their call changed (and at every reconnection).

import {
  api, ApiError, h, fill, since, until, session, events, debounced, failure, clock, onTick,
} from './common.js';

let agentId = null;
/** The latest desktop: `{agent, call, wrap_up}`. */
let desk = null;
/** The contact shown for preview: the answer of `POST .../preview`. */
let preview = null;
/** Dispositions recorded from this screen, by attempt. */
const recorded = new Map();
const $ = (id) => document.getElementById(id);

session(start, 'Agents sign in with their extension and its SIP password.');

function start(me) {
  agentId = me.agent || new URLSearchParams(location.search).get('agent');
  if (!agentId) {
    notice('This account is not an agent: open /agent?agent=ID to watch one, or use the wallboard.', true);
    return;
  }
  document.title = `waihu · agent ${agentId}`;
  wire();
  refresh();
  lists();
  events(onEvent, () => {
    refresh();
    lists();
  });
  onTick(expirePreview);
}

// ---- Reading ---------------------------------------------------------------

const refresh = debounced(async () => {
  desk = await api('GET', `/agents/${encodeURIComponent(agentId)}/desktop`);
  render();
});

const lists = debounced(async () => {
  const [campaigns, queues] = await Promise.all([api('GET', '/campaigns'), api('GET', '/queues')]);
  const names = campaigns.campaigns || [];
  keepSelect($('dial-campaign'), names.map((c) => [c.name, `${c.name} (${c.mode})`]));
  keepSelect(
    $('preview-campaign'),
    [['', 'Any campaign']].concat(names.filter((c) => c.mode === 'preview').map((c) => [c.name, c.name])),
  );
  keepSelect($('transfer-to'), (queues.queues || []).map((q) => [`queue:${q.name}`, `Queue ${q.name}`]));
});

/** Replaces a select's options, keeping the choice when it is still there. */
function keepSelect(select, options) {
  const chosen = select.value;
  select.replaceChildren(...options.map(([value, label]) => h('option', { value }, label)));
  if (options.some(([value]) => value === chosen)) select.value = chosen;
}

/** Whether an event is about this agent or their call. */
function concerns(event) {
  if (event.agent === agentId) return true;
  const call = desk && desk.call;
  if (event.call_id && ((call && call.call_id === event.call_id) || (desk && desk.agent.call === event.call_id))) {
    return true;
  }
  return event.kind === 'contact' && event.attempt_id != null && event.attempt_id === attemptId();
}

function onEvent(event) {
  if (event.kind === 'campaign' || event.kind === 'import') lists();
  if (concerns(event)) refresh();
}

function attemptId() {
  if (!desk) return null;
  if (desk.wrap_up && desk.wrap_up.attempt_id != null) return desk.wrap_up.attempt_id;
  return desk.call && desk.call.attempt_id != null ? desk.call.attempt_id : null;
}

// ---- Acting ----------------------------------------------------------------

function notice(text, error = false) {
  const node = $('notice');
  node.textContent = text || '';
  node.classList.toggle('error', error);
}

/** Runs `work` with `button` disabled; a failure goes to the notice line. */
async function act(button, work) {
  if (!desk) return;
  button.disabled = true;
  try {
    await work();
  } catch (e) {
    notice(failure(e), true);
  } finally {
    button.disabled = false;
    render();
  }
}

const agentPath = (op) => `/agents/${encodeURIComponent(agentId)}/${op}`;

function wire() {
  $('ready').addEventListener('click', (e) => act(e.currentTarget, async () => {
    const op = desk && desk.agent.state === 'logged_out' ? 'login' : 'ready';
    desk.agent = await api('POST', agentPath(op));
    notice('');
  }));
  $('pause').addEventListener('click', (e) => act(e.currentTarget, async () => {
    desk.agent = await api('POST', agentPath('pause'), { reason: $('pause-reason').value });
    notice(desk.agent.state === 'paused' ? '' : 'Pause after this call.');
  }));
  $('agent-logout').addEventListener('click', (e) => act(e.currentTarget, async () => {
    desk.agent = await api('POST', agentPath('logout'), { reason: 'desktop' });
    notice(desk.agent.state === 'logged_out' ? '' : 'Logged out after this call.');
  }));
  $('hangup').addEventListener('click', (e) => act(e.currentTarget, async () => {
    await api('POST', agentPath('hangup'));
    refresh();
  }));
  $('transfer').addEventListener('click', (e) => act(e.currentTarget, async () => {
    const to = $('transfer-to').value;
    if (!to) throw new Error('No queue to transfer to.');
    await api('POST', agentPath('transfer'), { to });
    notice(`Transferred to ${to.replace(/^queue:/, 'queue ')}.`);
    refresh();
  }));
  for (const button of document.querySelectorAll('[data-dispo]')) {
    button.addEventListener('click', (e) => act(e.currentTarget, () => dispose(button.dataset.dispo)));
  }
  $('callback').addEventListener('click', (e) => act(e.currentTarget, async () => {
    const value = $('callback-at').value;
    const at = value ? new Date(value).getTime() : NaN;
    if (!Number.isFinite(at)) throw new Error('Choose when to call back.');
    if (at <= Date.now()) throw new Error('The callback time has passed.');
    await dispose('callback', at);
  }));
  $('preview-next').addEventListener('click', (e) => act(e.currentTarget, async () => {
    $('preview-error').textContent = '';
    const campaign = $('preview-campaign').value;
    const query = campaign ? `?campaign=${encodeURIComponent(campaign)}` : '';
    try {
      preview = await api('POST', agentPath('preview') + query);
    } catch (err) {
      if (err instanceof ApiError && (err.status === 404 || err.status === 409)) {
        $('preview-error').textContent = err.message;
        return;
      }
      throw err;
    }
  }));
  $('preview-accept').addEventListener('click', (e) => act(e.currentTarget, async () => {
    const p = preview;
    if (!p) return;
    const answer = await api('POST', agentPath(`preview/${p.contact.id}/accept`));
    preview = null;
    notice(`Dialling ${p.contact.phone}: your phone rings first (attempt ${answer.attempt}).`);
  }));
  $('preview-skip').addEventListener('click', (e) => act(e.currentTarget, async () => {
    const p = preview;
    if (!p) return;
    await api('POST', agentPath(`preview/${p.contact.id}/skip`));
    preview = null;
    notice(`Skipped ${p.contact.phone}.`);
  }));
  $('dial-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const result = $('dial-result');
    act(e.submitter || $('dial-form').querySelector('button'), async () => {
      result.className = '';
      result.textContent = '';
      const number = $('dial-number').value.trim();
      const campaign = $('dial-campaign').value;
      try {
        const answer = await api('POST', agentPath('dial'), { number, campaign });
        result.textContent = `Dialling ${number} (attempt ${answer.attempt}): your phone rings first.`;
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        result.className = 'error';
        if (err.status === 403 && err.body && err.body.reason) {
          result.dataset.reason = err.body.reason;
          const detail = err.body.detail ? `: ${err.body.detail}` : '';
          const retry = err.body.retry_at_ms ? ` (allowed from ${clock(err.body.retry_at_ms)})` : '';
          result.textContent = `Refused at the dial point: ${err.body.reason}${detail}${retry}`;
        } else {
          result.textContent = failure(err);
        }
      }
    });
  });
}

async function dispose(disposition, callbackAt) {
  const attempt = attemptId();
  if (attempt == null) throw new Error('No call to classify.');
  const body = { disposition };
  if (callbackAt !== undefined) body.callback_at_ms = callbackAt;
  await api('POST', `/attempts/${attempt}/disposition`, body);
  recorded.set(attempt, callbackAt === undefined ? disposition : `callback at ${new Date(callbackAt).toLocaleString()}`);
  notice('');
  refresh();
}

async function step(node, choice) {
  const call = desk && desk.call;
  if (!call || call.attempt_id == null) throw new Error('This call has no attempt to record the script on.');
  const answer = await api('POST', `/attempts/${call.attempt_id}/script`, { node, choice });
  if (desk.call === call) {
    call.path = answer.path;
    call.node = answer.node;
  }
}

function expirePreview(now) {
  if (preview && now >= preview.expires_ms) {
    preview = null;
    $('preview-error').textContent = 'The preview timed out: the contact went back to the list.';
    renderPreview();
  }
}

// ---- Drawing ---------------------------------------------------------------

function render() {
  if (!desk) return;
  renderState();
  renderCall();
  renderScript();
  renderOffers();
  renderDisposition();
  renderPreview();
}

const STATE_NAMES = {
  logged_out: 'Logged out', ready: 'Ready', reserved: 'Ringing', on_call: 'On call', wrap_up: 'Wrap-up', paused: 'Paused',
};

function renderState() {
  const a = desk.agent;
  // When the desktop first shows the agent's state: the load time.
  if (!performance.getEntriesByName('waihu:desktop').length) performance.mark('waihu:desktop');
  const state = $('state');
  state.textContent = STATE_NAMES[a.state] || a.state;
  state.dataset.state = a.state;
  state.className = `state state-${a.state}`;
  $('state-time').replaceChildren(since(a.since_ms));
  const wrap = desk.wrap_up;
  const extra = [];
  if (a.reason) extra.push(a.reason);
  if (wrap && wrap.until_ms) extra.push(h('span', {}, 'ends in ', until(wrap.until_ms), ' s'));
  fill('state-reason', extra);
  const needs = Boolean(wrap && wrap.needs_disposition);
  $('ready').textContent = a.state === 'logged_out' ? 'Log in' : 'Ready';
  $('ready').disabled = a.state === 'ready' || needs;
  $('ready').title = needs ? 'Choose a disposition first' : '';
  $('pause').disabled = a.state === 'logged_out' || a.state === 'paused';
  $('agent-logout').disabled = a.state === 'logged_out';
}

/** A definition list of `[name, value]` pairs. */
function pairs(list) {
  return list.flatMap(([name, value]) => [
    h('dt', {}, name),
    h('dd', { 'data-field': name }, typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value)),
  ]);
}

function renderCall() {
  const call = desk.call;
  $('call-actions').hidden = !call || !desk.agent.call;
  if (!call) {
    fill('call-body', h('p', { class: 'muted' }, desk.wrap_up ? 'Call ended.' : 'No call.'));
    fill('contact');
    fill('customer');
    return;
  }
  const contact = call.contact;
  const who = contact ? contact.phone : '';
  fill(
    'call-body',
    h('p', { class: 'who' },
      h('strong', { 'data-testid': 'call-number' }, who || call.call_id),
      ' ',
      h('span', { class: 'muted' }, call.direction === 'inbound' ? 'inbound' : 'outbound'),
      call.campaign ? h('span', { class: 'tag', 'data-testid': 'call-campaign' }, call.campaign) : null,
      call.queue ? h('span', { class: 'tag' }, `queue ${call.queue}`) : null),
  );
  $('call-timer').replaceChildren(call.answered_at_ms ? since(call.answered_at_ms) : 'ringing');
  if (contact) {
    // The name first, then the list's other columns as imported.
    const fields = Object.entries(contact.fields || {}).filter(([k]) => k !== 'name');
    const name = contact.name || (contact.fields && contact.fields.name);
    fill('contact', pairs([
      ...(name ? [['name', name]] : []),
      ['phone', contact.phone],
      ...fields,
      ['attempts', contact.attempts ?? 0],
      ...(contact.last_outcome ? [['last outcome', contact.last_outcome]] : []),
    ]));
  } else {
    fill('contact', h('p', { class: 'muted' }, 'No record for this number.'));
  }
  const customer = call.customer;
  fill('customer', customer && typeof customer === 'object' && Object.keys(customer).length
    ? pairs(Object.entries(customer))
    : h('p', { class: 'muted' }, 'No CRM record.'));
}

function renderScript() {
  const call = desk.call;
  const script = call && call.script;
  const options = $('script-options');
  if (!script) {
    $('script-title').textContent = 'Script';
    $('script-say').textContent = call ? 'This call has no agent script.' : '';
    options.replaceChildren();
    fill('script-path');
    $('script-outcome').textContent = '';
    return;
  }
  const path = call.path || [];
  const current = call.node || (path.length ? path[path.length - 1].next : script.start);
  const node = script.nodes[current];
  $('script-title').textContent = script.title || script.name;
  const say = $('script-say');
  say.textContent = node ? node.say : `Unknown step ${current}`;
  say.dataset.node = current;
  options.replaceChildren(...(node ? node.options : []).map((option, i) => h('button', {
    'data-testid': 'script-option',
    'data-next': option.next,
    onclick: (e) => act(e.currentTarget, () => step(current, i)),
  }, option.label)));
  const outcome = node && node.options.length === 0 ? node.outcome : null;
  $('script-outcome').textContent = outcome ? `End of script: the outcome is “${outcome}”.` : '';
  for (const button of document.querySelectorAll('[data-dispo]')) {
    button.classList.toggle('suggested', button.dataset.dispo === outcome);
  }
  fill('script-path', path.map((s) => {
    const from = script.nodes[s.node];
    const label = from && from.options[s.choice] ? from.options[s.choice].label : `#${s.choice}`;
    return h('li', { 'data-testid': 'script-step', 'data-node': s.node, 'data-next': s.next },
      h('span', { class: 'node' }, s.node), ' → ', label);
  }));
}

function renderOffers() {
  const offers = (desk.call && desk.call.offers) || [];
  fill('offers', offers.length
    ? offers.map((o) => h('li', { 'data-testid': 'offer' }, offerText(o)))
    : h('li', { class: 'muted' }, 'None.'));
}

/** An offer of `retention.offers`: its code or title, its text, the rest. */
function offerText(offer) {
  if (typeof offer !== 'object' || offer === null) return String(offer);
  const named = ['code', 'title', 'name', 'label', 'id'];
  const title = named.map((k) => offer[k]).find((v) => v !== undefined && v !== null) ?? '';
  const body = offer.text ?? offer.description ?? '';
  const rest = Object.entries(offer)
    .filter(([k]) => !named.includes(k) && k !== 'text' && k !== 'description')
    .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`);
  return [
    h('strong', {}, String(title)),
    body ? h('div', {}, String(body)) : null,
    rest.length ? h('div', { class: 'muted small' }, rest.join(' · ')) : null,
  ];
}

function renderDisposition() {
  const attempt = attemptId();
  const wrap = desk.wrap_up;
  const need = $('dispo-need');
  const done = recorded.get(attempt) || (desk.call && desk.call.attempt_id === attempt ? desk.call.disposition : null);
  for (const button of document.querySelectorAll('[data-dispo]')) button.disabled = attempt == null;
  $('callback').disabled = attempt == null;
  need.classList.toggle('warn', Boolean(wrap && wrap.needs_disposition));
  if (attempt == null) need.textContent = 'No call to classify.';
  else if (wrap && wrap.needs_disposition) need.textContent = 'Choose a disposition: wrap-up ends only after it.';
  else if (wrap) need.textContent = 'Disposition recorded; wrap-up goes on until you are ready.';
  else need.textContent = 'Classify this call (required before wrap-up ends).';
  $('dispo-done').textContent = done && attempt != null ? `Recorded: ${done}` : '';
}

function renderPreview() {
  const p = preview;
  $('preview-actions').hidden = !p;
  $('preview-next').disabled = Boolean(p);
  if (!p) {
    fill('preview-body');
    return;
  }
  const history = p.history || [];
  const last = history[history.length - 1];
  fill(
    'preview-body',
    h('p', {}, h('strong', { 'data-testid': 'preview-phone' }, p.contact.phone), ' ', h('span', { class: 'tag' }, p.campaign)),
    h('dl', {}, pairs([
      ...Object.entries(p.contact.fields || {}),
      ['attempts', p.contact.attempts ?? history.length],
      ...(last ? [['last outcome', last.outcome || last.disposition || '-']] : []),
    ])),
    p.customer && typeof p.customer === 'object'
      ? [h('h3', {}, 'CRM'), h('dl', {}, pairs(Object.entries(p.customer)))]
      : null,
  );
  $('preview-countdown').replaceChildren(until(p.expires_ms));
}
