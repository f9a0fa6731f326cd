// Anytime-valid confidence sequences for the mean of a bounded stream: the
// evidence behind the promotion gate and the post-promotion watch.
//
// A fixed-sample confidence interval is valid for one look. The gate is asked
// again and again (an operator retrying, a script polling PROMOTE_CANDIDATE),
// and a 95% interval checked after every new outcome is crossed by chance
// far more often than 5% of the time. A confidence sequence holds at every
// time at once: P(∃t: μ ∉ [lower_t, upper_t]) ≤ α. So the gate may be asked
// as often as anyone likes without raising its false-pass rate.
//
// This is the predictable plug-in empirical-Bernstein sequence of
// Waudby-Smith & Ramdas ("Estimating means of bounded random variables by
// betting", JRSS-B 2023, Theorem 2), one-sided at level α for each side, for
// X_i in [0, 1] with conditional mean μ (observations are rescaled from
// [lo, hi]):
//
//   μ̂_t  = (1/2 + Σ_{i≤t} X_i) / (t + 1)                 (prior mean 1/2)
//   σ̂²_t = (1/4 + Σ_{i≤t} (X_i − μ̂_i)²) / (t + 1)        (prior variance 1/4)
//   λ_t  = min(c, sqrt(2 log(1/α) / (σ̂²_{t−1} · t · log(1 + t))))
//   bound_t = (Σ λ_i X_i ± (log(1/α) + Σ (X_i − μ̂_{i−1})² ψ(λ_i))) / Σ λ_i
//   ψ(λ) = −log(1 − λ) − λ
//
// It adapts to the variance: a rare event (a death rate of 0.03) gets a bound
// about as tight as a normal approximation with the true variance would give
// (times a log log factor), not the worst case of a [0, 1] variable.
// O(1) per observation, no allocation: it runs on the cycle path.
//
// The current bounds are reported, not their running intersection (the max
// of all lower bounds so far): the intersection is valid only for a mean that
// never changes, and an arm's mean does change — the candidate learns online,
// a raised ratio adds agents. Without it, the bounds cover the weighted
// average of the conditional means seen so far (the theorem's martingale
// holds for a changing conditional mean), which is what the gate compares.

const C = 0.5;

export interface Bound {
  n: number;
  mean: number | null;
  lower: number;
  upper: number;
  /** Running variance estimate and range of the observations (for projections of the sample size needed). */
  variance: number;
  span: number;
  /** How much wider than the sequence's own the bound was made (outcomes clustered by agent, arms.ts); 1 when absent. */
  inflation?: number;
}

export class MeanCS {
  n = 0;
  private sum = 0;
  private muPrev = 0.5;
  private sqDev = 0;
  private varPrev = 0.25;
  private sumL = 0;
  private sumLX = 0;
  private sumPsi = 0;
  private lo01 = 0;
  private hi01 = 1;
  private readonly logA: number;
  private readonly span: number;

  /** α is the error of each side; observations lie in [lo, hi]. */
  constructor(private readonly alpha: number, private readonly lo = 0, hi = 1) {
    if (!(alpha > 0 && alpha < 1)) throw new RangeError('alpha must be in (0, 1)');
    if (!(hi > lo)) throw new RangeError('hi must be above lo');
    this.logA = Math.log(1 / alpha);
    this.span = hi - lo;
  }

  push(value: number): void {
    let x = (value - this.lo) / this.span;
    x = x < 0 ? 0 : x > 1 ? 1 : x;
    const t = this.n + 1;
    const lam = Math.min(C, Math.sqrt((2 * this.logA) / (this.varPrev * t * Math.log(1 + t))));
    const dev = x - this.muPrev;
    this.sumL += lam;
    this.sumLX += lam * x;
    this.sumPsi += dev * dev * (-Math.log(1 - lam) - lam);
    this.n = t;
    this.sum += x;
    const mu = (0.5 + this.sum) / (t + 1);
    this.sqDev += (x - mu) * (x - mu);
    this.muPrev = mu;
    this.varPrev = (0.25 + this.sqDev) / (t + 1);
    const center = this.sumLX / this.sumL;
    const half = (this.logA + this.sumPsi) / this.sumL;
    this.lo01 = Math.min(1, Math.max(0, center - half));
    this.hi01 = Math.max(0, Math.min(1, center + half));
  }

  /** The sample mean in the original units (null before any observation). */
  get mean(): number | null {
    return this.n > 0 ? this.lo + (this.sum / this.n) * this.span : null;
  }

  /** Running variance estimate in the original units (the prior 1/4 of the range² at first). */
  get variance(): number {
    return this.varPrev * this.span * this.span;
  }

  get lower(): number { return this.lo + this.lo01 * this.span; }
  get upper(): number { return this.lo + this.hi01 * this.span; }

  bound(): Bound {
    return { n: this.n, mean: this.mean, lower: this.lower, upper: this.upper, variance: this.variance, span: this.span };
  }

  get level(): number { return this.alpha; }
}

/**
 * About the half-width a sequence like this reaches after `n` observations,
 * given a variance (original units) and the range of the observations: the
 * sequence's own formula (above) with every squared deviation replaced by
 * the variance, λ_t drawn from the variance estimate it would have (the
 * prior 1/4 weighing as one observation). It shrinks like
 * sqrt(log(n) log log(n) / n). For "how much more evidence is needed"
 * messages only; the gate itself reads the real bounds.
 *
 * The sums run along n (advanceTo), so a search for the n that narrows a
 * bound enough walks once instead of summing from 1 at every guess: exactly
 * over the first 16 terms, then over bins at most 25% wide, each term at the
 * bin's geometric middle (within 0.1% of the exact sum; about 90 terms for
 * n = 10⁹). The gate projects on every HEARTBEAT.
 */
export class HalfWidthWalk {
  private t = 0;
  private sumL = 0;
  private sumPsi = 0;
  private readonly L: number;
  private readonly v: number;

  constructor(variance: number, private readonly span: number, alpha: number) {
    this.L = Math.log(1 / alpha);
    this.v = Math.min(0.25, Math.max(variance / (span * span), 1e-12));
  }

  private term(t: number, count: number): void {
    const v = this.v;
    const vPrev = (0.25 + (t - 1) * v) / t;
    const lam = Math.min(C, Math.sqrt((2 * this.L) / (vPrev * t * Math.log(1 + t))));
    this.sumL += count * lam;
    this.sumPsi += count * v * (-Math.log(1 - lam) - lam);
  }

  /** Adds the terms up to observation floor(n) (no-op when already there). */
  advanceTo(n: number): this {
    const end = Math.floor(n);
    while (this.t < end) {
      const a = this.t + 1;
      if (a <= 16) { this.term(a, 1); this.t = a; continue; }
      const b = Math.min(end, Math.max(a, Math.floor(a * 1.25)));
      this.term(Math.sqrt(a * b), b - a + 1);
      this.t = b;
    }
    return this;
  }

  get n(): number { return this.t; }

  /** The projected half-width at the current n (original units); Infinity before any observation. */
  get halfWidth(): number {
    if (this.sumL <= 0) return Infinity;
    return Math.min(this.span, (this.span * (this.L + this.sumPsi)) / this.sumL);
  }
}

export function approxHalfWidth(variance: number, span: number, alpha: number, n: number): number {
  if (!(n > 0)) return Infinity;
  return new HalfWidthWalk(variance, span, alpha).advanceTo(n).halfWidth;
}
