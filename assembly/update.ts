import {
  H_ARCH, H_D, H_K, H_H, H_ACT, H_UPDATES, ARCH_MLP, ACT_TANH,
  STATUS_OK, STATUS_NONFINITE, STATUS_BAD_ARGS,
  pad4, rows1, scalesOff, invOff, w1Off, b1Off, w2Off, b2Off, modelWords,
  sXn, sPre, sHid, sScores, sBackup,
} from "./layout";
import { hsum, scaleInto, allFinite, isFinite32 } from "./vec";
import { forwardLinear } from "./linear";
import { forwardMlp } from "./mlp";

// Grows the running scale of each feature to the largest magnitude seen and
// rescales the matching first-layer column so the model's function is
// unchanged (w' = w * s'/s): learning then sees every feature in [-1, 1]
// whatever unit the agent sends it in (normalised updates, as in Vowpal
// Wabbit). A feature seen for the first time (s = 0) only sets its scale.
function growScales(model: usize, x: usize, d: i32, r1: i32): void {
  const dp = pad4(d);
  const scales = model + (<usize>scalesOff(d) << 2);
  const inv = model + (<usize>invOff(d) << 2);
  const w1 = model + (<usize>w1Off(d) << 2);
  for (let i = 0; i < d; i++) {
    const a = Mathf.abs(load<f32>(x + (<usize>i << 2)));
    const s = load<f32>(scales + (<usize>i << 2));
    if (a > s) {
      if (s > 0) {
        const f: f32 = a / s;
        for (let j = 0; j < r1; j++) {
          const p = w1 + (<usize>(j * dp + i) << 2);
          store<f32>(p, load<f32>(p) * f);
        }
      }
      store<f32>(scales + (<usize>i << 2), a);
      store<f32>(inv + (<usize>i << 2), <f32>1 / a);
    }
  }
}

// Sum of squares of g = coef*v + l2*w over a padded row, 4 lanes then hsum.
@inline
function gradNorm2(v: usize, w: usize, n4: i32, coef: f32, l2: f32): f32 {
  let acc = f32x4.splat(0);
  const c = f32x4.splat(coef);
  const l = f32x4.splat(l2);
  for (let i = 0; i < n4; i += 4) {
    const off = <usize>(i << 2);
    const g = f32x4.add(f32x4.mul(c, v128.load(v + off)), f32x4.mul(l, v128.load(w + off)));
    acc = f32x4.add(acc, f32x4.mul(g, g));
  }
  return hsum(acc);
}

// w -= step * (coef*v + l2*w) over a padded row.
@inline
function gradStep(v: usize, w: usize, n4: i32, coef: f32, l2: f32, step: f32): void {
  const c = f32x4.splat(coef);
  const l = f32x4.splat(l2);
  const s = f32x4.splat(step);
  for (let i = 0; i < n4; i += 4) {
    const off = <usize>(i << 2);
    const wv = v128.load(w + off);
    const g = f32x4.add(f32x4.mul(c, v128.load(v + off)), f32x4.mul(l, wv));
    v128.store(w + off, f32x4.sub(wv, f32x4.mul(s, g)));
  }
}

// One importance-weighted SGD step of the reward regression for the logged
// intent: loss = iw/2 (score[action] - reward)^2 + l2/2 |w|^2 on that intent's
// head (and, for mlp, the hidden layer through it), iw = min(1/propensity,
// iwClip), the gradient scaled down to norm gradClip when larger.
// The model is copied to scratch first; if any weight is non-finite afterwards
// the copy is put back and STATUS_NONFINITE returned, so a bad step never
// leaves a trace.
export function update(model: usize, x: usize, action: i32, reward: f32, propensity: f32, scratch: usize,
  lr: f32, l2: f32, iwClip: f32, gradClip: f32): i32 {
  const arch = load<i32>(model + (H_ARCH << 2));
  const d = load<i32>(model + (H_D << 2));
  const k = load<i32>(model + (H_K << 2));
  const h = load<i32>(model + (H_H << 2));
  if (action < 0 || action >= k || !(propensity > 0) || !(propensity <= 1)) return STATUS_BAD_ARGS;
  if (!isFinite32(reward)) return STATUS_NONFINITE;
  const dp = pad4(d);
  if (!allFinite(x, dp)) return STATUS_NONFINITE;
  const words = modelWords(arch, d, k, h);
  const backup = scratch + (<usize>sBackup(d, k, h) << 2);
  memory.copy(backup, model, <usize>words << 2);

  const r1 = rows1(arch, k, h);
  growScales(model, x, d, r1);
  const xn = scratch + (<usize>sXn(d, k, h) << 2);
  scaleInto(xn, x, model + (<usize>invOff(d) << 2), dp);
  const scores = scratch + (<usize>sScores(d, k, h) << 2);
  const w1 = model + (<usize>w1Off(d) << 2);
  const b1 = model + (<usize>b1Off(arch, d, k, h) << 2);
  let iw: f32 = <f32>1 / propensity;
  if (iw > iwClip) iw = iwClip;

  if (arch == ARCH_MLP) {
    const pre = scratch + (<usize>sPre(d, k, h) << 2);
    const hid = scratch + (<usize>sHid(d, k, h) << 2);
    forwardMlp(model, xn, pre, hid, scores);
    const hp = pad4(h);
    const act = load<i32>(model + (H_ACT << 2));
    const w2a = model + (<usize>(w2Off(arch, d, k, h) + action * hp) << 2);
    const b2a = model + (<usize>(b2Off(arch, d, k, h) + action) << 2);
    const delta: f32 = iw * (load<f32>(scores + (<usize>action << 2)) - reward);
    // dh[j] = delta * w2[a][j] * act'(pre[j]), kept in the `pre` scratch.
    for (let j = 0; j < h; j++) {
      const pj = load<f32>(pre + (<usize>j << 2));
      const hj = load<f32>(hid + (<usize>j << 2));
      const dact: f32 = act == ACT_TANH ? <f32>1 - hj * hj : (pj > 0 ? <f32>1 : <f32>0);
      store<f32>(pre + (<usize>j << 2), delta * load<f32>(w2a + (<usize>j << 2)) * dact);
    }
    let n2 = gradNorm2(hid, w2a, hp, delta, l2);
    n2 += delta * delta;
    for (let j = 0; j < h; j++) {
      const dh = load<f32>(pre + (<usize>j << 2));
      n2 += gradNorm2(xn, w1 + (<usize>(j * dp) << 2), dp, dh, l2);
      n2 += dh * dh;
    }
    const gn = Mathf.sqrt(n2);
    const step: f32 = gn > gradClip ? lr * (gradClip / gn) : lr;
    gradStep(hid, w2a, hp, delta, l2, step);
    store<f32>(b2a, load<f32>(b2a) - step * delta);
    for (let j = 0; j < h; j++) {
      const dh = load<f32>(pre + (<usize>j << 2));
      gradStep(xn, w1 + (<usize>(j * dp) << 2), dp, dh, l2, step);
      const pb = b1 + (<usize>j << 2);
      store<f32>(pb, load<f32>(pb) - step * dh);
    }
  } else {
    forwardLinear(model, xn, scores);
    const wa = w1 + (<usize>(action * dp) << 2);
    const ba = b1 + (<usize>action << 2);
    const delta: f32 = iw * (load<f32>(scores + (<usize>action << 2)) - reward);
    let n2 = gradNorm2(xn, wa, dp, delta, l2);
    n2 += delta * delta;
    const gn = Mathf.sqrt(n2);
    const step: f32 = gn > gradClip ? lr * (gradClip / gn) : lr;
    gradStep(xn, wa, dp, delta, l2, step);
    store<f32>(ba, load<f32>(ba) - step * delta);
  }

  const body = scalesOff(d);
  if (!allFinite(model + (<usize>body << 2), words - body)) {
    memory.copy(model, backup, <usize>words << 2);
    return STATUS_NONFINITE;
  }
  store<u32>(model + (H_UPDATES << 2), load<u32>(model + (H_UPDATES << 2)) + 1);
  return STATUS_OK;
}
