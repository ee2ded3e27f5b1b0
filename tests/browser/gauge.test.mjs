// The wallboard's abandon gauge (core/pbx/web/gauge.js) under node's test
// runner: when it warns, and where its marks and its value stand.
// Run by tests/browser.rs (`node --test`).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { level, parts, pct, WARN_AT } from '../../core/pbx/web/gauge.js';

test('the level is ok below 80% of the target, warn up to it, over from it', () => {
  const target = 0.03;
  assert.equal(WARN_AT, 0.8);
  assert.equal(level(0, target), 'ok');
  assert.equal(level(0.0239, target), 'ok');
  assert.equal(level(0.024, target), 'warn');
  assert.equal(level(0.0299, target), 'warn');
  assert.equal(level(0.03, target), 'over');
  assert.equal(level(0.2, target), 'over');
});

test('without a target any abandon is over the limit', () => {
  assert.equal(level(0, 0), 'ok');
  assert.equal(level(0.001, 0), 'over');
});

test('the scale ends at twice the target: the target mark stands at the top', () => {
  const p = parts(0.03, 0.03);
  // The value's arc ends at the top of the half circle (centre 60,58, radius 48).
  assert.deepEqual(p.end, [60, 10]);
  // The target's mark crosses the arc there, vertically.
  assert.deepEqual(p.target, [60, 2, 60, 18]);
  // The warning's mark is before it, on the left half.
  assert.ok(p.warn[0] < 60 && p.warn[2] < 60, `warn mark at ${p.warn}`);
  assert.equal(p.level, 'over');
});

test('the value is clamped to the scale and absent at zero', () => {
  assert.deepEqual(parts(0.5, 0.03).end, [108, 58]);
  assert.equal(parts(0, 0.03).value, null);
  assert.match(parts(0.015, 0.03).value, /^M 12 58 A 48 48 0 0 1 /);
  assert.equal(parts(0.015, 0.03).level, 'ok');
});

test('rates show as percentages', () => {
  assert.equal(pct(0.0123), '1.2%');
  assert.equal(pct(0.03, 2), '3.00%');
  assert.equal(pct(undefined), '0.0%');
});
