import { HEADER_WORDS, H_D, H_K, pad4, w1Off, b1Off, ARCH_LINEAR } from "./layout";
import { dot } from "./vec";

// scores[j] = w[j]·xn + b[j] for each of the k intents (xn already normalised).
export function forwardLinear(model: usize, xn: usize, scores: usize): void {
  const d = load<i32>(model + (H_D << 2));
  const k = load<i32>(model + (H_K << 2));
  const dp = pad4(d);
  const w = model + (<usize>w1Off(d) << 2);
  const b = model + (<usize>b1Off(ARCH_LINEAR, d, k, 0) << 2);
  for (let j = 0; j < k; j++) {
    const s = dot(w + (<usize>(j * dp) << 2), xn, dp) + load<f32>(b + (<usize>j << 2));
    store<f32>(scores + (<usize>j << 2), s);
  }
}

export const LINEAR_HEADER: i32 = HEADER_WORDS;
