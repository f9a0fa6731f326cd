// What the candidate did in shadow since it was set: the figures the
// promotion gate reads. All counters start at 0 when a candidate is set.
//
// Value estimates: the candidate never served most of the cycles it is judged
// on, so its value is estimated off-policy from the logged decisions:
// self-normalised importance sampling (SNIPS), V = Σ w·r / Σ w with
// w = π_cand(a|x) / μ(a|x), where μ is the logged propensity of the intent
// taken and π_cand the candidate's own epsilon-greedy probability of it. Its
// standard error is the delta-method one, sqrt(Σ w²(r − V)²) / Σ w. The
// incumbent (whatever served: production, or the rules) is judged on-policy:
// the mean reward of the experiences it logged, with its standard error.
//
// For the gate, the candidate's value also gets an anytime-valid lower bound:
// a confidence sequence over y = min(w, B) · r01, r01 the reward rescaled to
// [0, 1] and B the importance-weight clip. Clipping only lowers y (r01 ≥ 0),
// so E[y] ≤ the candidate's value: the bound stays a valid lower bound, and a
// candidate that rarely agrees with the logged decisions (large weights) gets
// a loose one, as it should.

import { MeanCS } from './confseq.js';

export interface ValueEstimate {
  value: number | null;
  stderr: number | null;
  n: number;
}

/** Share of 1s among the last `size` bits pushed. */
class BitWindow {
  private readonly bits: Uint8Array;
  private n = 0;
  private ones = 0;
  constructor(size: number) {
    this.bits = new Uint8Array(size);
  }
  push(b: boolean): void {
    const i = this.n % this.bits.length;
    if (this.n >= this.bits.length) this.ones -= this.bits[i];
    this.bits[i] = b ? 1 : 0;
    this.ones += this.bits[i];
    this.n++;
  }
  get rate(): number | null {
    const len = Math.min(this.n, this.bits.length);
    return len > 0 ? this.ones / len : null;
  }
}

export class ShadowStats {
  samples = 0;
  agree = 0;
  candidateNonFinite = 0;
  // Proposed-violation rates over the last `window` shadow cycles: a
  // candidate is judged on how it behaves now, not on its first steps.
  private readonly candForbidden: BitWindow;
  private readonly incForbidden: BitWindow;

  private readonly ipsCS: MeanCS;

  constructor(window = 1000, alpha = 0.05, private readonly rewardClip = 10, private readonly weightClip = 10) {
    this.candForbidden = new BitWindow(window);
    this.incForbidden = new BitWindow(window);
    this.ipsCS = new MeanCS(alpha / 2, 0, weightClip);
  }
  // SNIPS sums for the candidate.
  private sw = 0; private swr = 0; private sw2 = 0; private sw2r = 0; private sw2r2 = 0; private nw = 0;
  // On-policy sums for the incumbent.
  private n = 0; private sr = 0; private sr2 = 0;

  row(agree: boolean, candForbidden: boolean): void {
    this.samples++;
    if (agree) this.agree++;
    this.candForbidden.push(candForbidden);
  }

  incumbentProposal(forbidden: boolean): void {
    this.incForbidden.push(forbidden);
  }

  /** An experience the candidate could have chosen with probability piCand; mu was the logged one. */
  offPolicy(reward: number, piCand: number, mu: number): void {
    const w = piCand / mu;
    this.nw++;
    this.sw += w; this.swr += w * reward; this.sw2 += w * w; this.sw2r += w * w * reward; this.sw2r2 += w * w * reward * reward;
    const r01 = (Math.max(-this.rewardClip, Math.min(this.rewardClip, reward)) + this.rewardClip) / (2 * this.rewardClip);
    this.ipsCS.push(Math.min(w, this.weightClip) * r01);
  }

  /** Anytime-valid lower bound of the candidate's value (reward units), null before any evidence. */
  get candidateValueLower(): number | null {
    if (this.ipsCS.n === 0) return null;
    return Math.min(1, this.ipsCS.lower) * 2 * this.rewardClip - this.rewardClip;
  }

  onPolicy(reward: number): void {
    this.n++;
    this.sr += reward;
    this.sr2 += reward * reward;
  }

  candidateValue(): ValueEstimate & { ess: number } {
    if (this.sw <= 0) return { value: null, stderr: null, n: this.nw, ess: 0 };
    const v = this.swr / this.sw;
    const num = Math.max(0, this.sw2r2 - 2 * v * this.sw2r + v * v * this.sw2);
    // With little overlap between the candidate and the logged decisions a
    // few large weights carry the estimate, and the delta-method error can
    // look small by luck. Never claim more precision than the effective
    // sample size (Σw)²/Σw² allows for the observed spread of rewards.
    const ess = (this.sw * this.sw) / this.sw2;
    const spread = Math.sqrt(Math.max(this.incumbentVariance(), 1e-12));
    return { value: v, stderr: Math.max(Math.sqrt(num) / this.sw, spread / Math.sqrt(ess)), n: this.nw, ess };
  }

  private incumbentVariance(): number {
    if (this.n < 2) return 0;
    const m = this.sr / this.n;
    return Math.max(0, (this.sr2 - this.n * m * m) / (this.n - 1));
  }

  incumbentValue(): ValueEstimate {
    if (this.n === 0) return { value: null, stderr: null, n: 0 };
    const m = this.sr / this.n;
    const variance = this.n > 1 ? Math.max(0, (this.sr2 - this.n * m * m) / (this.n - 1)) : 0;
    return { value: m, stderr: Math.sqrt(variance / this.n), n: this.n };
  }

  get agreementRate(): number | null {
    return this.samples > 0 ? this.agree / this.samples : null;
  }

  get candidateViolationRate(): number | null {
    return this.candForbidden.rate;
  }

  get incumbentViolationRate(): number | null {
    return this.incForbidden.rate;
  }
}
