// What the pages share: API calls, the sign-in form, the events
// WebSocket, a one-second display clock, and formatting.
//
// Nothing here polls the API: pages re-read what an event says has
// changed. The only timers are the display clock (it moves "time in
// state" and call timers on screen) and the WebSocket's reconnect delay.

/** An API answer other than 2xx: `status` and the parsed body. */
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

/** `METHOD /api/v1{path}` with an optional JSON body; the parsed answer. */
export async function api(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: {} };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch('/api/v1' + path, init);
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { error: text };
    }
  }
  if (!response.ok) {
    if (response.status === 401 && path !== '/login') signedOut();
    throw new ApiError(response.status, data);
  }
  return data;
}

/** Builds an element: `h('button', {class: 'x', onclick: f}, 'text', child)`. */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key === 'testid') node.dataset.testid = value;
    else if (value === true) node.setAttribute(key, '');
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** Replaces the children of the element `#id`. */
export function fill(id, ...children) {
  const node = document.getElementById(id);
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

/** `1:05`, `12:00`, `1:02:03` for a duration in ms (negative counts as 0). */
export function duration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return hh > 0 ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

/** A time of day from unix ms, in the browser's zone. */
export function clock(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** `0.0123` as `1.2%`. */
export function percent(x, digits = 1) {
  return `${(100 * (Number(x) || 0)).toFixed(digits)}%`;
}

/** The text of an API failure, for a person. */
export function failure(e) {
  if (e instanceof ApiError) return `${e.message} (${e.status})`;
  return String(e && e.message ? e.message : e);
}

// ---- The display clock -------------------------------------------------

/**
 * An element that shows the time since `data-since` (unix ms), or until
 * `data-until`; the one-second clock keeps it current. Nothing is fetched.
 */
export function since(ms, attrs = {}) {
  // 0 or nothing: the state has held since before anything was recorded.
  if (!ms) return h('span', attrs, '—');
  return h('span', { ...attrs, 'data-since': ms }, duration(Date.now() - ms));
}

export function until(ms, attrs = {}) {
  return h('span', { ...attrs, 'data-until': ms }, String(Math.max(0, Math.ceil((ms - Date.now()) / 1000))));
}

const tickers = new Set();

/** Runs `f` on every tick of the display clock. */
export function onTick(f) {
  tickers.add(f);
}

function tick() {
  const now = Date.now();
  for (const node of document.querySelectorAll('[data-since]')) {
    node.textContent = duration(now - Number(node.dataset.since));
  }
  for (const node of document.querySelectorAll('[data-until]')) {
    node.textContent = String(Math.max(0, Math.ceil((Number(node.dataset.until) - now) / 1000)));
  }
  for (const f of tickers) f(now);
}

setInterval(tick, 1000);

// ---- Signing in and out -------------------------------------------------

let onSignedOut = () => location.reload();

function signedOut() {
  onSignedOut();
}

/**
 * Shows the page's sign-in form until `GET /api/v1/me` answers, then runs
 * `start(me)` once. `who` says which accounts the form is for.
 */
export async function session(start, who) {
  const form = document.getElementById('login');
  const app = document.getElementById('app');
  const error = document.getElementById('login-error');
  document.getElementById('login-who').textContent = who;
  let started = false;
  const enter = (me) => {
    form.hidden = true;
    app.hidden = false;
    document.getElementById('whoami').textContent = `${me.user} (${me.role})`;
    if (!started) {
      started = true;
      start(me);
    }
  };
  const showForm = (message) => {
    app.hidden = true;
    form.hidden = false;
    error.textContent = message || '';
    form.querySelector('input[name=user]').focus();
  };
  onSignedOut = () => {
    if (started) location.reload();
    else showForm('');
  };
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      await api('POST', '/login', { user: data.get('user'), password: data.get('password') });
      form.reset();
      enter(await api('GET', '/me'));
    } catch (e) {
      showForm(e instanceof ApiError && e.status === 401 ? 'Wrong user or password.' : failure(e));
    } finally {
      button.disabled = false;
    }
  });
  document.getElementById('signout').addEventListener('click', async () => {
    try {
      await api('POST', '/logout');
    } finally {
      location.reload();
    }
  });
  try {
    enter(await api('GET', '/me'));
  } catch (e) {
    showForm(e instanceof ApiError && e.status === 401 ? '' : failure(e));
  }
}

// ---- Events --------------------------------------------------------------

/**
 * Follows `/api/v1/events`: `onEvent(event)` for each event, `onOpen()` on
 * every (re)connection (the page re-reads everything then: events missed
 * while away are not replayed). Reconnects with a growing delay, from half
 * a second to 15 s. The element `#link` shows the link's state.
 */
export function events(onEvent, onOpen) {
  let delay = 500;
  const link = document.getElementById('link');
  const show = (state, text) => {
    if (!link) return;
    link.dataset.state = state;
    link.textContent = text;
  };
  const connect = () => {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${location.host}/api/v1/events`);
    show('connecting', 'connecting…');
    ws.onopen = () => {
      delay = 500;
      show('live', 'live');
      onOpen();
    };
    ws.onmessage = (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      if (event.kind !== 'hello') onEvent(event);
    };
    ws.onclose = async () => {
      show('down', 'reconnecting…');
      // A session that expired ends here: the 401 shows the sign-in form.
      try {
        await api('GET', '/me');
      } catch {
        /* signed out, or the server is away: retry below either way */
      }
      const wait = delay * (0.75 + Math.random() / 2);
      delay = Math.min(delay * 2, 15000);
      setTimeout(connect, wait);
    };
  };
  connect();
}

/**
 * Wraps an async `load` so that calls while it runs fold into one more run
 * after it, `wait` ms after the last call: a burst of events is one fetch.
 */
export function debounced(load, wait = 0) {
  let timer = null;
  let running = false;
  let again = false;
  const run = async () => {
    timer = null;
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      await load();
    } catch (e) {
      console.error(e);
    } finally {
      running = false;
      if (again) {
        again = false;
        schedule();
      }
    }
  };
  const schedule = () => {
    if (timer !== null) return;
    // No wait: at the end of this task, not a timer's (clamped) turn later.
    if (wait > 0) timer = setTimeout(run, wait);
    else {
      timer = true;
      queueMicrotask(run);
    }
  };
  return schedule;
}
