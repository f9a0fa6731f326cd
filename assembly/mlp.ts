import { H_D, H_K, H_H, H_ACT, ACT_TANH, ARCH_MLP, pad4, w1Off, b1Off, w2Off, b2Off } from "./layout";
import { dot } from "./vec";

// One hidden layer: pre = W1·xn + b1, hid = act(pre), scores = W2·hid + b2.
// Padding lanes of hid stay zero (they were zeroed when the scratch was laid
// out and are never written), so the padded W2 rows add nothing.
// Returns false when a pre-activation was not finite: ReLU would otherwise turn
// a NaN into 0 and hide an overflow from the caller's check of the scores.
export function forwardMlp(model: usize, xn: usize, pre: usize, hid: usize, scores: usize): bool {
  const d = load<i32>(model + (H_D << 2));
  const k = load<i32>(model + (H_K << 2));
  const h = load<i32>(model + (H_H << 2));
  const act = load<i32>(model + (H_ACT << 2));
  const dp = pad4(d);
  const hp = pad4(h);
  const w1 = model + (<usize>w1Off(d) << 2);
  const b1 = model + (<usize>b1Off(ARCH_MLP, d, k, h) << 2);
  const w2 = model + (<usize>w2Off(ARCH_MLP, d, k, h) << 2);
  const b2 = model + (<usize>b2Off(ARCH_MLP, d, k, h) << 2);
  let poison: f32 = 0;
  for (let j = 0; j < h; j++) {
    const p = dot(w1 + (<usize>(j * dp) << 2), xn, dp) + load<f32>(b1 + (<usize>j << 2));
    poison += p * 0;
    store<f32>(pre + (<usize>j << 2), p);
    store<f32>(hid + (<usize>j << 2), act == ACT_TANH ? Mathf.tanh(p) : (p > 0 ? p : 0));
  }
  for (let j = h; j < hp; j++) {
    store<f32>(pre + (<usize>j << 2), 0);
    store<f32>(hid + (<usize>j << 2), 0);
  }
  for (let c = 0; c < k; c++) {
    const s = dot(w2 + (<usize>(c * hp) << 2), hid, hp) + load<f32>(b2 + (<usize>c << 2));
    store<f32>(scores + (<usize>c << 2), s);
  }
  return poison == poison;
}
