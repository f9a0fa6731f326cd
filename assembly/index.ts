// The kernel's exports, and nothing else. Every argument is a number: pointers
// into linear memory that the host laid out (src/kernel/host.ts) and scalars.
// Nothing here allocates or touches a string, so the runtime is `stub`.
import {
  ARCH_MLP, H_ARCH, H_D, H_K, H_H, H_SEED, STATUS_OK, STATUS_NONFINITE,
  OUT_STRIDE, O_PROPOSED, O_CONFIDENCE, O_ENTROPY, O_GREEDY, O_CHOSEN, O_PROPENSITY, O_STATUS, O_ALLOWED,
  CTRL_STRIDE, C_MASK, C_PREF, C_KEY, EXP_TAIL, E_ACTION, E_REWARD, E_PROPENSITY, E_STATUS,
  pad4, invOff, sXn, sPre, sHid, sScores, sProbs, scalesOff, modelWords,
} from "./layout";
import { scaleInto, allFinite } from "./vec";
import { forwardLinear } from "./linear";
import { forwardMlp } from "./mlp";
import { softmax, argmax, explore, greedyAllowed, validMask } from "./policy";
import { update } from "./update";

export {
  pad4, scalesOff, invOff, w1Off, b1Off, w2Off, b2Off, modelWords, scratchWords,
  sXn, sPre, sHid, sScores, sProbs, sBackup,
} from "./layout";
export { softmax, argmax, maskedArgmax, explore, validMask, greedyAllowed } from "./policy";
export { update } from "./update";

// The price of a call from JS into WASM with nothing to do.
export function noop(): i32 {
  return 0;
}

export function heapBase(): usize {
  return __heap_base;
}

// Scores of one row into scratch[sScores]. Returns STATUS_NONFINITE when the
// input or any score (or mlp pre-activation) is not finite.
export function forward(model: usize, x: usize, scratch: usize): i32 {
  const arch = load<i32>(model + (H_ARCH << 2));
  const d = load<i32>(model + (H_D << 2));
  const k = load<i32>(model + (H_K << 2));
  const h = load<i32>(model + (H_H << 2));
  const dp = pad4(d);
  const xn = scratch + (<usize>sXn(d, k, h) << 2);
  const scores = scratch + (<usize>sScores(d, k, h) << 2);
  if (!allFinite(x, dp)) return STATUS_NONFINITE;
  scaleInto(xn, x, model + (<usize>invOff(d) << 2), dp);
  let ok = true;
  if (arch == ARCH_MLP) {
    ok = forwardMlp(model, xn, scratch + (<usize>sPre(d, k, h) << 2), scratch + (<usize>sHid(d, k, h) << 2), scores);
  } else {
    forwardLinear(model, xn, scores);
  }
  for (let i = 0; i < k; i++) {
    const s = load<f32>(scores + (<usize>i << 2));
    ok = ok && (s - s == 0);
  }
  return ok ? STATUS_OK : STATUS_NONFINITE;
}

// 1 when every weight and scale of the model is finite.
export function checkFinite(model: usize): i32 {
  const arch = load<i32>(model + (H_ARCH << 2));
  const d = load<i32>(model + (H_D << 2));
  const k = load<i32>(model + (H_K << 2));
  const h = load<i32>(model + (H_H << 2));
  const body = scalesOff(d);
  return allFinite(model + (<usize>body << 2), modelWords(arch, d, k, h) - body) ? 1 : 0;
}

// Decides n rows with one model. feats: n rows of pad4(d) floats; ctrl: n rows
// of CTRL_STRIDE i32 (allowed-intent mask, preferred fallback or -1, RNG key);
// out: n rows of OUT_STRIDE floats. Returns the number of non-finite rows.
export function decideBatch(model: usize, feats: usize, ctrl: usize, n: i32, out: usize, scratch: usize,
  epsilon: f32, temperature: f32, mode: i32): i32 {
  const d = load<i32>(model + (H_D << 2));
  const k = load<i32>(model + (H_K << 2));
  const h = load<i32>(model + (H_H << 2));
  const seed = load<u32>(model + (H_SEED << 2));
  const dp = pad4(d);
  const scores = scratch + (<usize>sScores(d, k, h) << 2);
  const probs = scratch + (<usize>sProbs(d, k, h) << 2);
  let bad = 0;
  for (let r = 0; r < n; r++) {
    const x = feats + (<usize>(r * dp) << 2);
    const c = ctrl + (<usize>(r * CTRL_STRIDE) << 2);
    const o = out + (<usize>(r * OUT_STRIDE) << 2);
    const mask = validMask(load<u32>(c + (C_MASK << 2)), k);
    store<f32>(o + (O_ALLOWED << 2), <f32>popcnt(mask));
    if (forward(model, x, scratch) != STATUS_OK) {
      bad++;
      store<f32>(o + (O_STATUS << 2), <f32>STATUS_NONFINITE);
      store<f32>(o + (O_PROPOSED << 2), -1);
      store<f32>(o + (O_GREEDY << 2), -1);
      store<f32>(o + (O_CHOSEN << 2), -1);
      store<f32>(o + (O_CONFIDENCE << 2), 0);
      store<f32>(o + (O_ENTROPY << 2), 0);
      store<f32>(o + (O_PROPENSITY << 2), 0);
      continue;
    }
    const ent = softmax(scores, k, temperature, probs);
    const proposed = argmax(scores, k);
    const greedy = greedyAllowed(scores, k, mask, proposed, load<i32>(c + (C_PREF << 2)));
    const chosen = explore(probs, k, mask, greedy, epsilon, mode, seed, load<u32>(c + (C_KEY << 2)), o + (O_PROPENSITY << 2));
    store<f32>(o + (O_STATUS << 2), <f32>STATUS_OK);
    store<f32>(o + (O_PROPOSED << 2), <f32>proposed);
    store<f32>(o + (O_CONFIDENCE << 2), load<f32>(probs + (<usize>proposed << 2)));
    store<f32>(o + (O_ENTROPY << 2), ent);
    store<f32>(o + (O_GREEDY << 2), <f32>greedy);
    store<f32>(o + (O_CHOSEN << 2), <f32>chosen);
  }
  return bad;
}

// Applies m experiences in order. exps: m records of pad4(d) features then
// EXP_TAIL words (action i32, reward f32, propensity f32, status i32 written
// here). Returns the number of experiences not applied.
export function updateBatch(model: usize, exps: usize, m: i32, scratch: usize,
  lr: f32, l2: f32, iwClip: f32, gradClip: f32): i32 {
  const d = load<i32>(model + (H_D << 2));
  const stride = pad4(d) + EXP_TAIL;
  let bad = 0;
  for (let r = 0; r < m; r++) {
    const e = exps + (<usize>(r * stride) << 2);
    const t = e + (<usize>pad4(d) << 2);
    const st = update(model, e, load<i32>(t + (E_ACTION << 2)), load<f32>(t + (E_REWARD << 2)),
      load<f32>(t + (E_PROPENSITY << 2)), scratch, lr, l2, iwClip, gradClip);
    store<i32>(t + (E_STATUS << 2), st);
    if (st != STATUS_OK) bad++;
  }
  return bad;
}
