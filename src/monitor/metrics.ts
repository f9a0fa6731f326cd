// Sliding-window metrics over the last `window` cycles (default 1000):
// survival, violations and reward of the outcomes, the intent distribution,
// confidence of model decisions, shadow agreement, latency percentiles (HDR).
// Per-arm figures (canary, incumbent, holdback) live in src/engine/arms.ts.
// Rings of fixed size: no allocation per cycle.
import type { Histogram } from 'hdr-histogram-js';
import { latencyHistogram } from '../engine/stats.js';

class Ring {
  private readonly v: Float64Array;
  private n = 0;
  sum = 0;
  constructor(readonly size: number) { this.v = new Float64Array(size); }
  push(x: number): void {
    const i = this.n % this.size;
    if (this.n >= this.size) this.sum -= this.v[i];
    this.v[i] = x;
    this.sum += x;
    this.n++;
  }
  get count(): number { return Math.min(this.n, this.size); }
  get mean(): number | null { return this.count > 0 ? this.sum / this.count : null; }
}

export interface ArmRates { n: number; deaths: number; violations: number }

export interface WindowSnapshot {
  window: number;
  cycles: number;
  outcomes: number;
  survival_rate: number | null;
  violation_rate: number | null;
  reward_mean: number | null;
  latency_us: { p50: number; p99: number; p999: number; max: number };
  intent_distribution: Record<string, number>;
  mean_model_confidence: number | null;
  shadow_agreement_rate: number | null;
  shadow_samples: number;
}

export class Monitor {
  private readonly alive: Ring;
  private readonly violation: Ring;
  private readonly reward: Ring;
  private readonly confidence: Ring;
  private agree: Ring;
  private readonly intents: Uint8Array;
  private readonly intentCounts: Int32Array;
  private cyclesSeen = 0;
  // Latency: the last `window` values in a ring (one store per cycle); the
  // HDR histogram of the window is built from it when a snapshot is taken.
  private readonly lat: Float64Array;
  private readonly hist: Histogram = latencyHistogram();

  constructor(readonly window: number, private readonly intentNames: readonly string[]) {
    this.alive = new Ring(window);
    this.violation = new Ring(window);
    this.reward = new Ring(window);
    this.confidence = new Ring(window);
    this.agree = new Ring(window);
    this.intents = new Uint8Array(window);
    this.intentCounts = new Int32Array(intentNames.length);
    this.lat = new Float64Array(window);
  }

  served(intent: number, latencyUs: number, modelConfidence: number | null): void {
    const i = this.cyclesSeen % this.window;
    if (this.cyclesSeen >= this.window) this.intentCounts[this.intents[i]]--;
    this.intents[i] = intent;
    this.intentCounts[intent]++;
    this.lat[i] = latencyUs;
    this.cyclesSeen++;
    if (modelConfidence !== null) this.confidence.push(modelConfidence);
  }

  outcome(alive: boolean, violation: boolean, reward: number | null): void {
    this.alive.push(alive ? 1 : 0);
    this.violation.push(violation ? 1 : 0);
    if (reward !== null) this.reward.push(reward);
  }

  shadow(agree: boolean): void {
    this.agree.push(agree ? 1 : 0);
  }

  private cached: { at: number; snap: WindowSnapshot } | null = null;

  /**
   * The window as of at most `maxAgeMs` ago. Building it merges two HDR
   * histograms and reads four percentiles (~0.1 ms); a monitoring dashboard
   * polling HEARTBEAT hundreds of times a second would otherwise spend that
   * on the cycle path's thread each time.
   */
  snapshotCached(maxAgeMs = 100): WindowSnapshot {
    const now = performance.now();
    if (!this.cached || now - this.cached.at > maxAgeMs) this.cached = { at: now, snap: this.snapshot() };
    return this.cached.snap;
  }

  snapshot(): WindowSnapshot {
    const n = Math.min(this.cyclesSeen, this.window);
    const both = this.hist;
    both.reset();
    for (let i = 0; i < n; i++) both.recordValue(Math.max(1, this.lat[i]));
    return {
      window: this.window, cycles: n, outcomes: this.alive.count,
      survival_rate: this.alive.mean, violation_rate: this.violation.mean, reward_mean: this.reward.mean,
      latency_us: { p50: both.getValueAtPercentile(50), p99: both.getValueAtPercentile(99), p999: both.getValueAtPercentile(99.9), max: both.maxValue },
      intent_distribution: Object.fromEntries(this.intentNames.map((name, i) => [name, n > 0 ? this.intentCounts[i] / n : 0])),
      mean_model_confidence: this.confidence.mean,
      shadow_agreement_rate: this.agree.mean, shadow_samples: this.agree.count,
    };
  }

  /** A new candidate: its shadow agreement and canary arm start over. */
  resetShadow(): void {
    this.agree = new Ring(this.window);
  }
}
