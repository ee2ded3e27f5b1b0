// The wallboard's abandon-rate gauge: a half circle whose scale ends at
// twice the campaign's target, the target's mark at the top and the
// warning's mark before it. `parts` is the geometry (no DOM: the unit test
// runs it under node); `gauge` draws it.

/** The abandon rate shows as a warning from this share of its target. */
export const WARN_AT = 0.8;

const R = 48;
const CX = 60;
const CY = 58;
const SVG = 'http://www.w3.org/2000/svg';

/** The level of an abandon rate against its target: ok, warn or over. */
export function level(rate, target) {
  if (!(target > 0)) return rate > 0 ? 'over' : 'ok';
  if (rate >= target) return 'over';
  return rate >= WARN_AT * target ? 'warn' : 'ok';
}

const clamp = (x) => Math.min(Math.max(x, 0), 1);
const fixed = (x) => Number(x.toFixed(2));

/** The point of the arc at a share of the scale, `radius` from the centre. */
function at(fraction, radius = R) {
  const angle = Math.PI * (1 - clamp(fraction));
  return [fixed(CX + radius * Math.cos(angle)), fixed(CY - radius * Math.sin(angle))];
}

function arc(to) {
  const [x0, y0] = at(0);
  const [x1, y1] = at(to);
  return `M ${x0} ${y0} A ${R} ${R} 0 0 1 ${x1} ${y1}`;
}

/** A mark across the arc (its stroke is 12 wide). */
function mark(fraction) {
  return [...at(fraction, R + 8), ...at(fraction, R - 8)];
}

/** The gauge's level and geometry for a rate and a target (shares, not %). */
export function parts(rate, target) {
  const max = target > 0 ? 2 * target : 0.06;
  const fraction = clamp(rate / max);
  return {
    level: level(rate, target),
    track: arc(1),
    value: fraction > 0 ? arc(fraction) : null,
    end: at(fraction),
    warn: mark((WARN_AT * target) / max),
    target: mark(target / max),
  };
}

/** `0.0123` as `1.2%`. */
export function pct(x, digits = 1) {
  return `${(100 * (Number(x) || 0)).toFixed(digits)}%`;
}

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  node.append(...children);
  return node;
}

/** The gauge as an SVG element. */
export function gauge(rate, target) {
  const p = parts(rate, target);
  const line = ([x1, y1, x2, y2], cls) => svg('line', { x1, y1, x2, y2, class: cls });
  return svg('svg', {
    viewBox: '0 -2 120 78', class: `gauge gauge-${p.level}`, role: 'img', 'data-testid': 'abandon-gauge',
    'data-level': p.level, 'data-rate': rate, 'data-target': target,
    'aria-label': `abandon rate ${pct(rate)} against a target of ${pct(target)}`,
  },
  svg('title', {}, `Rolling abandon rate ${pct(rate, 2)}; target ${pct(target, 2)}; warning from ${pct(WARN_AT * target, 2)}`),
  svg('path', { d: p.track, class: 'gauge-track' }),
  p.value ? svg('path', { d: p.value, class: 'gauge-value' }) : '',
  line(p.warn, 'gauge-warn'),
  line(p.target, 'gauge-target'),
  svg('text', { x: CX, y: CY - 6, class: 'gauge-rate' }, pct(rate)),
  svg('text', { x: CX, y: CY + 14, class: 'gauge-label' }, `abandon · target ${pct(target)}`));
}
