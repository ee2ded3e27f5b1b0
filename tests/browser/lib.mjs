// Helpers of the browser scenarios: Debian's Chromium under playwright-core,
// waits with messages that say what was awaited, sign-in, screenshots.

import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

/** An environment variable the Rust side must set. */
export function env(name, fallback) {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === '') throw new Error(`${name} is not set (run through tests/browser.rs)`);
  return value;
}

/** `[data-testid="id"]`. */
export const tid = (id) => `[data-testid="${id}"]`;

export function log(message) {
  process.stderr.write(`[browser ${new Date().toISOString().slice(11, 23)}] ${message}\n`);
}

/**
 * Headless Chromium with the flags this machine needs: no sandbox (root),
 * no GPU, and no background connections (the network is closed; Chromium
 * would retry them at every start). Playwright gives each launch a fresh
 * temporary profile directory (its own --user-data-dir).
 */
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Waits until `fn(arg)` is truthy in the page; fails with `what`. */
export async function until(page, what, fn, arg, timeout = 20000) {
  try {
    // Polled, not on animation frames (a page in the background may get none).
    return await (await page.waitForFunction(fn, arg, { timeout, polling: 50 })).jsonValue();
  } catch (e) {
    throw new Error(`timed out after ${timeout} ms waiting for ${what}: ${e.message.split('\n')[0]}`);
  }
}

/** The text of the element with this test id ('' when absent). */
export async function text(page, id) {
  const node = page.locator(tid(id)).first();
  return (await node.count()) ? (await node.textContent()) || '' : '';
}

/** Waits until the element with test id `id` has `attr` equal to `value`. */
export function attrIs(page, id, attr, value, timeout) {
  return until(
    page,
    `${id}[${attr}] = ${value}`,
    ([sel, a, v]) => {
      const node = document.querySelector(sel);
      return node && node.getAttribute(a) === v;
    },
    [tid(id), attr, value],
    timeout,
  );
}

/** Waits until the element with test id `id` contains `part`. */
export function textHas(page, id, part, timeout) {
  return until(
    page,
    `${id} to contain ${JSON.stringify(part)}`,
    ([sel, p]) => {
      const node = document.querySelector(sel);
      return node && node.textContent.includes(p);
    },
    [tid(id), part],
    timeout,
  );
}

/**
 * Opens `path`, which must show its sign-in form (no session yet), and
 * signs in; returns once the page shows its application.
 */
export async function signIn(page, base, path, user, password) {
  await page.goto(base + path);
  await page.locator('#login').waitFor({ state: 'visible', timeout: 10000 });
  if (await page.locator('#app').isVisible()) throw new Error(`${path} showed the application before sign-in`);
  await page.fill(tid('login-user'), user);
  await page.fill(tid('login-password'), password);
  await page.click(tid('login-submit'));
  await page.locator('#app').waitFor({ state: 'visible', timeout: 10000 });
}

/** Saves a screenshot of `page` as `dir/name.png` when `dir` is set. */
export async function screenshot(page, dir, name) {
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
  log(`screenshot ${name}.png`);
}

/**
 * In every page of `context`, from the start of each document: marks
 * `performance` with `name` the first time `selector` matches (a
 * MutationObserver, so the time is the DOM change's, not a poll's).
 */
export function markWhenMatched(context, selector, name) {
  return context.addInitScript(([sel, mark]) => {
    const check = () => {
      if (performance.getEntriesByName(mark, 'mark').length) return true;
      if (!document.querySelector(sel)) return false;
      performance.mark(mark);
      return true;
    };
    const observer = new MutationObserver(() => check() && observer.disconnect());
    observer.observe(document, { childList: true, subtree: true, attributes: true });
  }, [selector, name]);
}

/** Waits for the `performance` mark `name` of the page's document; its time in ms from navigation start. */
export function markTime(page, what, name, timeout) {
  return until(page, what, (n) => {
    const mark = performance.getEntriesByName(n, 'mark')[0];
    return mark ? mark.startTime : false;
  }, name, timeout);
}

/**
 * After the load event: Navigation Timing's domContentLoadedEventEnd and
 * loadEventEnd (ms from navigation start), and the bytes transferred so
 * far for the document and its resources (transferSize: headers and
 * encoded body; 0 for what came from the cache; WebSockets not counted).
 */
export function navigationTiming(page, what, timeout) {
  return until(page, `${what}: the load event`, () => {
    const nav = performance.getEntriesByType('navigation')[0];
    if (!nav || !nav.loadEventEnd) return false;
    const resources = performance.getEntriesByType('resource');
    return {
      dcl: nav.domContentLoadedEventEnd,
      load: nav.loadEventEnd,
      bytes: resources.reduce((sum, r) => sum + (r.transferSize || 0), nav.transferSize || 0),
      requests: 1 + resources.length,
    };
  }, undefined, timeout);
}

/** min, median, p95 (nearest rank) and max of `values`. */
export function summary(values) {
  const v = [...values].sort((a, b) => a - b);
  const rank = (p) => v[Math.min(v.length - 1, Math.max(0, Math.ceil(p * v.length) - 1))];
  const median = v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  return { min: v[0], median, p95: rank(0.95), max: v[v.length - 1] };
}
