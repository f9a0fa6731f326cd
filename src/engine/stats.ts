// Counters the engine keeps as it serves. The monitor builds its sliding
// windows and alerts on top of these; here there is only counting.
import * as hdr from 'hdr-histogram-js';
import type { PolicySource } from './types.js';

export function latencyHistogram(): hdr.Histogram {
  // 1 µs .. 60 s at 3 significant digits; plain JS (the WASM build of the
  // histogram would need its own instance per thread and buys little here).
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3, autoResize: true });
}

export class EngineStats {
  cycles = 0;
  shed = 0;
  batches = 0;
  batchRows = 0;
  kernelMicros = 0;
  learningUpdates = 0;
  /** Updates that taught the candidate what the safety rules forbid (not outcomes). */
  shapingUpdates = 0;
  updatesRejected = 0;
  quarantined = 0;
  canaryCalls = 0;
  outcomes = 0;
  survived = 0;
  violations = 0;
  readonly bySource: Record<PolicySource, number> = { ML: 0, CANARY_ML: 0, RULES: 0, SAFETY_OVERRIDE: 0, LOCKDOWN: 0, DISASTER_FALLBACK: 0 };
  readonly byIntent: number[];
  readonly latency = latencyHistogram();
  /** Also told every cycle's latency (the Prometheus histogram). */
  onLatency: ((us: number) => void) | null = null;

  constructor(readonly intentNames: readonly string[]) {
    this.byIntent = new Array<number>(intentNames.length).fill(0);
  }

  served(source: PolicySource, intent: number, latencyUs: number, canary: boolean): void {
    this.cycles++;
    this.bySource[source]++;
    this.byIntent[intent]++;
    if (canary) this.canaryCalls++;
    this.latency.recordValue(Math.max(1, latencyUs));
    if (this.onLatency) this.onLatency(latencyUs);
  }

  batch(rows: number, micros: number): void {
    this.batches++;
    this.batchRows += rows;
    this.kernelMicros += micros;
  }

  outcome(alive: boolean, violation: boolean): void {
    this.outcomes++;
    if (alive) this.survived++;
    if (violation) this.violations++;
  }

  latencyUs(): { p50: number; p99: number; p999: number; max: number } {
    const h = this.latency;
    return { p50: h.getValueAtPercentile(50), p99: h.getValueAtPercentile(99), p999: h.getValueAtPercentile(99.9), max: h.maxValue };
  }
}
