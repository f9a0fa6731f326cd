// Pure-TypeScript twin of the WASM kernel (assembly/). Same layout, same
// formulas, same order of operations: every f32 operation of the kernel is a
// Math.fround here, and the SIMD sums are reproduced lane by lane, so the two
// agree to the bit except where exp/log/tanh differ in the last place.
// It is the reference for the differential tests and the baseline of the bench.
// Addresses here are word (f32) offsets into the views, not byte pointers.
import {
  ARCH_MLP, ACT_TANH, H_ARCH, H_D, H_K, H_H, H_ACT, H_SEED, H_UPDATES,
  STATUS_OK, STATUS_NONFINITE, STATUS_BAD_ARGS,
  OUT_STRIDE, O_PROPOSED, O_CONFIDENCE, O_ENTROPY, O_GREEDY, O_CHOSEN, O_PROPENSITY, O_STATUS, O_ALLOWED,
  CTRL_STRIDE, C_MASK, C_PREF, C_KEY, EXP_TAIL, E_ACTION, E_REWARD, E_PROPENSITY, E_STATUS,
  pad4, rows1, scalesOff, invOff, w1Off, b1Off, w2Off, b2Off, modelWords, sXn, sPre, sHid, sScores, sProbs, sBackup,
} from './layout.js';

const fr = Math.fround;

/** Typed views over one buffer (a WASM memory's, or a plain one). */
export class Mem {
  readonly f: Float32Array;
  readonly i: Int32Array;
  readonly u: Uint32Array;
  constructor(buffer: ArrayBufferLike) {
    this.f = new Float32Array(buffer);
    this.i = new Int32Array(buffer);
    this.u = new Uint32Array(buffer);
  }
}

function dot(f: Float32Array, a: number, b: number, n4: number): number {
  let l0 = 0, l1 = 0, l2 = 0, l3 = 0;
  for (let i = 0; i < n4; i += 4) {
    l0 = fr(l0 + fr(f[a + i] * f[b + i]));
    l1 = fr(l1 + fr(f[a + i + 1] * f[b + i + 1]));
    l2 = fr(l2 + fr(f[a + i + 2] * f[b + i + 2]));
    l3 = fr(l3 + fr(f[a + i + 3] * f[b + i + 3]));
  }
  return fr(fr(fr(l0 + l1) + l2) + l3);
}

function allFinite(f: Float32Array, p: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (!Number.isFinite(f[p + i])) return false;
  return true;
}

export function mix32(seed: number, key: number, stream: number): number {
  let z = (seed ^ Math.imul(key, 0x9e3779b9) ^ Math.imul(stream, 0x85ebca6b)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

export const unit = (z: number): number => (z >>> 8) * (1 / 16777216);

function forwardLinear(m: Mem, model: number, xn: number, scores: number): void {
  const f = m.f;
  const d = m.i[model + H_D], k = m.i[model + H_K];
  const dp = pad4(d);
  const w = model + w1Off(d);
  const b = model + b1Off(1, d, k, 0);
  for (let j = 0; j < k; j++) f[scores + j] = fr(dot(f, w + j * dp, xn, dp) + f[b + j]);
}

function forwardMlp(m: Mem, model: number, xn: number, pre: number, hid: number, scores: number): boolean {
  const f = m.f;
  const d = m.i[model + H_D], k = m.i[model + H_K], h = m.i[model + H_H], act = m.i[model + H_ACT];
  const dp = pad4(d), hp = pad4(h);
  const w1 = model + w1Off(d), b1 = model + b1Off(ARCH_MLP, d, k, h);
  const w2 = model + w2Off(ARCH_MLP, d, k, h), b2 = model + b2Off(ARCH_MLP, d, k, h);
  let ok = true;
  for (let j = 0; j < h; j++) {
    const p = fr(dot(f, w1 + j * dp, xn, dp) + f[b1 + j]);
    if (!Number.isFinite(p)) ok = false;
    f[pre + j] = p;
    f[hid + j] = act === ACT_TANH ? fr(Math.tanh(p)) : p > 0 ? p : 0;
  }
  for (let j = h; j < hp; j++) { f[pre + j] = 0; f[hid + j] = 0; }
  for (let c = 0; c < k; c++) f[scores + c] = fr(dot(f, w2 + c * hp, hid, hp) + f[b2 + c]);
  return ok;
}

/** Scores of one row into scratch[sScores]; STATUS_NONFINITE on a non-finite input or output. */
export function forward(m: Mem, model: number, x: number, scratch: number): number {
  const f = m.f;
  const arch = m.i[model + H_ARCH], d = m.i[model + H_D], k = m.i[model + H_K], h = m.i[model + H_H];
  const dp = pad4(d);
  const xn = scratch + sXn(d, k, h), scores = scratch + sScores(d, k, h);
  if (!allFinite(f, x, dp)) return STATUS_NONFINITE;
  const inv = model + invOff(d);
  for (let i = 0; i < dp; i++) f[xn + i] = fr(f[x + i] * f[inv + i]);
  let ok = true;
  if (arch === ARCH_MLP) ok = forwardMlp(m, model, xn, scratch + sPre(d, k, h), scratch + sHid(d, k, h), scores);
  else forwardLinear(m, model, xn, scores);
  for (let i = 0; i < k; i++) if (!Number.isFinite(f[scores + i])) ok = false;
  return ok ? STATUS_OK : STATUS_NONFINITE;
}

export function checkFinite(m: Mem, model: number): number {
  const arch = m.i[model + H_ARCH], d = m.i[model + H_D], k = m.i[model + H_K], h = m.i[model + H_H];
  const body = scalesOff(d);
  return allFinite(m.f, model + body, modelWords(arch, d, k, h) - body) ? 1 : 0;
}

export function argmax(f: Float32Array, scores: number, k: number): number {
  let best = 0, bv = f[scores];
  for (let i = 1; i < k; i++) if (f[scores + i] > bv) { bv = f[scores + i]; best = i; }
  return best;
}

export function maskedArgmax(f: Float32Array, scores: number, k: number, mask: number): number {
  let best = -1, bv = 0;
  for (let i = 0; i < k; i++) {
    if ((mask >>> i) & 1) {
      const v = f[scores + i];
      if (best < 0 || v > bv) { bv = v; best = i; }
    }
  }
  return best;
}

/** probs = softmax(scores / temperature); returns the entropy in nats. */
export function softmax(f: Float32Array, scores: number, k: number, temperature: number, probs: number): number {
  const t = fr(temperature);
  let m = f[scores];
  for (let i = 1; i < k; i++) m = Math.max(m, f[scores + i]);
  let sum = 0;
  for (let i = 0; i < k; i++) {
    const e = fr(Math.exp(fr(fr(f[scores + i] - m) / t)));
    f[probs + i] = e;
    sum = fr(sum + e);
  }
  let ent = 0;
  for (let i = 0; i < k; i++) {
    const p = fr(f[probs + i] / sum);
    f[probs + i] = p;
    if (p > 0) ent = fr(ent - fr(p * fr(Math.log(p))));
  }
  return ent;
}

export function validMask(mask: number, k: number): number {
  const all = k >= 32 ? 0xffffffff : ((1 << k) - 1) >>> 0;
  const mm = (mask & all) >>> 0;
  return mm === 0 ? all : mm;
}

export function greedyAllowed(f: Float32Array, scores: number, k: number, mask: number, proposed: number, pref: number): number {
  if ((mask >>> proposed) & 1) return proposed;
  if (pref >= 0 && pref < k && (mask >>> pref) & 1) return pref;
  return maskedArgmax(f, scores, k, mask);
}

function popcnt(x: number): number {
  let n = 0;
  for (let v = x >>> 0; v; v = (v & (v - 1)) >>> 0) n++;
  return n;
}

/** Mirror of the kernel's explore: returns the intent, writes the propensity to f[propOut]. */
export function explore(f: Float32Array, probs: number, k: number, mask: number, greedy: number, epsilon: number,
  mode: number, seed: number, key: number, propOut: number): number {
  const eps = fr(epsilon);
  const n = popcnt(mask);
  const u0 = unit(mix32(seed >>> 0, key >>> 0, 0));
  if (mode === 1) {
    let total = 0;
    for (let i = 0; i < k; i++) if ((mask >>> i) & 1) total = fr(total + f[probs + i]);
    if (!(total > 0)) { f[propOut] = fr(1 / n); return greedy; }
    const target = fr(u0 * total);
    let cum = 0, last = greedy;
    for (let i = 0; i < k; i++) {
      if ((mask >>> i) & 1) {
        const p = f[probs + i];
        cum = fr(cum + p);
        last = i;
        if (target < cum) { f[propOut] = fr(p / total); return i; }
      }
    }
    f[propOut] = fr(f[probs + last] / total);
    return last;
  }
  const pick = epsilonGreedy(mask, greedy, eps, seed, key);
  f[propOut] = pick.propensity;
  return pick.intent;
}

/** Epsilon-greedy around `greedy` among the intents of `mask`, as the kernel does it (mode 0). */
export function epsilonGreedy(mask: number, greedy: number, epsilon: number, seed: number, key: number): { intent: number; propensity: number } {
  const eps = fr(epsilon);
  const n = popcnt(mask);
  let chosen = greedy;
  if (unit(mix32(seed >>> 0, key >>> 0, 0)) < eps) {
    let j = Math.trunc(fr(unit(mix32(seed >>> 0, key >>> 0, 1)) * n));
    if (j >= n) j = n - 1;
    for (let i = 0; i < 32; i++) {
      if ((mask >>> i) & 1) {
        if (j === 0) { chosen = i; break; }
        j--;
      }
    }
  }
  const share = fr(eps / n);
  return { intent: chosen, propensity: chosen === greedy ? fr(fr(1 - eps) + share) : share };
}

function growScales(f: Float32Array, model: number, x: number, d: number, r1: number): void {
  const dp = pad4(d), scales = model + scalesOff(d), inv = model + invOff(d), w1 = model + w1Off(d);
  for (let i = 0; i < d; i++) {
    const a = Math.abs(f[x + i]);
    const s = f[scales + i];
    if (a > s) {
      if (s > 0) {
        const fac = fr(a / s);
        for (let j = 0; j < r1; j++) f[w1 + j * dp + i] = fr(f[w1 + j * dp + i] * fac);
      }
      f[scales + i] = a;
      f[inv + i] = fr(1 / a);
    }
  }
}

function gradNorm2(f: Float32Array, v: number, w: number, n4: number, coef: number, l2: number): number {
  let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  for (let i = 0; i < n4; i += 4) {
    const g0 = fr(fr(coef * f[v + i]) + fr(l2 * f[w + i]));
    const g1 = fr(fr(coef * f[v + i + 1]) + fr(l2 * f[w + i + 1]));
    const g2 = fr(fr(coef * f[v + i + 2]) + fr(l2 * f[w + i + 2]));
    const g3 = fr(fr(coef * f[v + i + 3]) + fr(l2 * f[w + i + 3]));
    a0 = fr(a0 + fr(g0 * g0)); a1 = fr(a1 + fr(g1 * g1)); a2 = fr(a2 + fr(g2 * g2)); a3 = fr(a3 + fr(g3 * g3));
  }
  return fr(fr(fr(a0 + a1) + a2) + a3);
}

function gradStep(f: Float32Array, v: number, w: number, n4: number, coef: number, l2: number, step: number): void {
  for (let i = 0; i < n4; i++) {
    const wv = f[w + i];
    const g = fr(fr(coef * f[v + i]) + fr(l2 * wv));
    f[w + i] = fr(wv - fr(step * g));
  }
}

/** Mirror of the kernel's update (see assembly/update.ts for the maths). */
export function update(m: Mem, model: number, x: number, action: number, reward: number, propensity: number,
  scratch: number, lr: number, l2: number, iwClip: number, gradClip: number): number {
  const f = m.f;
  lr = fr(lr); l2 = fr(l2); iwClip = fr(iwClip); gradClip = fr(gradClip); reward = fr(reward); propensity = fr(propensity);
  const arch = m.i[model + H_ARCH], d = m.i[model + H_D], k = m.i[model + H_K], h = m.i[model + H_H];
  if (action < 0 || action >= k || !(propensity > 0) || !(propensity <= 1)) return STATUS_BAD_ARGS;
  if (!Number.isFinite(reward)) return STATUS_NONFINITE;
  const dp = pad4(d);
  if (!allFinite(f, x, dp)) return STATUS_NONFINITE;
  const words = modelWords(arch, d, k, h);
  const backup = scratch + sBackup(d, k, h);
  f.copyWithin(backup, model, model + words);

  growScales(f, model, x, d, rows1(arch, k, h));
  const xn = scratch + sXn(d, k, h), scores = scratch + sScores(d, k, h);
  const inv = model + invOff(d);
  for (let i = 0; i < dp; i++) f[xn + i] = fr(f[x + i] * f[inv + i]);
  const w1 = model + w1Off(d), b1 = model + b1Off(arch, d, k, h);
  let iw = fr(1 / propensity);
  if (iw > iwClip) iw = iwClip;

  if (arch === ARCH_MLP) {
    const pre = scratch + sPre(d, k, h), hid = scratch + sHid(d, k, h);
    forwardMlp(m, model, xn, pre, hid, scores);
    const hp = pad4(h), act = m.i[model + H_ACT];
    const w2a = model + w2Off(arch, d, k, h) + action * hp;
    const b2a = model + b2Off(arch, d, k, h) + action;
    const delta = fr(iw * fr(f[scores + action] - reward));
    for (let j = 0; j < h; j++) {
      const pj = f[pre + j], hj = f[hid + j];
      const dact = act === ACT_TANH ? fr(1 - fr(hj * hj)) : pj > 0 ? 1 : 0;
      f[pre + j] = fr(fr(delta * f[w2a + j]) * dact);
    }
    let n2 = gradNorm2(f, hid, w2a, hp, delta, l2);
    n2 = fr(n2 + fr(delta * delta));
    for (let j = 0; j < h; j++) {
      const dh = f[pre + j];
      n2 = fr(n2 + gradNorm2(f, xn, w1 + j * dp, dp, dh, l2));
      n2 = fr(n2 + fr(dh * dh));
    }
    const gn = fr(Math.sqrt(n2));
    const step = gn > gradClip ? fr(lr * fr(gradClip / gn)) : lr;
    gradStep(f, hid, w2a, hp, delta, l2, step);
    f[b2a] = fr(f[b2a] - fr(step * delta));
    for (let j = 0; j < h; j++) {
      const dh = f[pre + j];
      gradStep(f, xn, w1 + j * dp, dp, dh, l2, step);
      f[b1 + j] = fr(f[b1 + j] - fr(step * dh));
    }
  } else {
    forwardLinear(m, model, xn, scores);
    const wa = w1 + action * dp, ba = b1 + action;
    const delta = fr(iw * fr(f[scores + action] - reward));
    let n2 = gradNorm2(f, xn, wa, dp, delta, l2);
    n2 = fr(n2 + fr(delta * delta));
    const gn = fr(Math.sqrt(n2));
    const step = gn > gradClip ? fr(lr * fr(gradClip / gn)) : lr;
    gradStep(f, xn, wa, dp, delta, l2, step);
    f[ba] = fr(f[ba] - fr(step * delta));
  }
  const body = scalesOff(d);
  if (!allFinite(f, model + body, words - body)) {
    f.copyWithin(model, backup, backup + words);
    return STATUS_NONFINITE;
  }
  m.u[model + H_UPDATES] = (m.u[model + H_UPDATES] + 1) >>> 0;
  return STATUS_OK;
}

/** Mirror of decideBatch; see assembly/index.ts. */
export function decideBatch(m: Mem, model: number, feats: number, ctrl: number, n: number, out: number, scratch: number,
  epsilon: number, temperature: number, mode: number): number {
  const f = m.f;
  const d = m.i[model + H_D], k = m.i[model + H_K], h = m.i[model + H_H];
  const seed = m.u[model + H_SEED];
  const dp = pad4(d);
  const scores = scratch + sScores(d, k, h), probs = scratch + sProbs(d, k, h);
  let bad = 0;
  for (let r = 0; r < n; r++) {
    const x = feats + r * dp, c = ctrl + r * CTRL_STRIDE, o = out + r * OUT_STRIDE;
    const mask = validMask(m.u[c + C_MASK], k);
    f[o + O_ALLOWED] = popcnt(mask);
    if (forward(m, model, x, scratch) !== STATUS_OK) {
      bad++;
      f[o + O_STATUS] = STATUS_NONFINITE;
      f[o + O_PROPOSED] = -1; f[o + O_GREEDY] = -1; f[o + O_CHOSEN] = -1;
      f[o + O_CONFIDENCE] = 0; f[o + O_ENTROPY] = 0; f[o + O_PROPENSITY] = 0;
      continue;
    }
    const ent = softmax(f, scores, k, temperature, probs);
    const proposed = argmax(f, scores, k);
    const greedy = greedyAllowed(f, scores, k, mask, proposed, m.i[c + C_PREF]);
    const chosen = explore(f, probs, k, mask, greedy, epsilon, mode, seed, m.u[c + C_KEY], o + O_PROPENSITY);
    f[o + O_STATUS] = STATUS_OK;
    f[o + O_PROPOSED] = proposed;
    f[o + O_CONFIDENCE] = f[probs + proposed];
    f[o + O_ENTROPY] = ent;
    f[o + O_GREEDY] = greedy;
    f[o + O_CHOSEN] = chosen;
  }
  return bad;
}

/** Mirror of updateBatch. */
export function updateBatch(m: Mem, model: number, exps: number, count: number, scratch: number,
  lr: number, l2: number, iwClip: number, gradClip: number): number {
  const d = m.i[model + H_D];
  const stride = pad4(d) + EXP_TAIL;
  let bad = 0;
  for (let r = 0; r < count; r++) {
    const e = exps + r * stride, t = e + pad4(d);
    const st = update(m, model, e, m.i[t + E_ACTION], m.f[t + E_REWARD], m.f[t + E_PROPENSITY], scratch, lr, l2, iwClip, gradClip);
    m.i[t + E_STATUS] = st;
    if (st !== STATUS_OK) bad++;
  }
  return bad;
}
