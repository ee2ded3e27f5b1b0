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
