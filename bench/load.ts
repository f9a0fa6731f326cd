// An in-process open-loop load: cycles are due at fixed intended send times
// (start + i / rate) whether or not earlier ones were answered, and each
// latency is measured from the intended send time, so a stall shows up in
// the percentiles instead of silently lowering the offered rate
// (no coordinated omission).
import type { Histogram } from 'hdr-histogram-js';
import { latencyHistogram } from '../src/engine/stats.js';
import { paceOpenLoop } from '../src/sim/pacer.js';
import type { CycleReply, ErrorReply } from '../src/engine/types.js';

export interface LoadResult {
  offered_per_s: number;
  achieved_per_s: number;
  sent: number;
  ok: number;
  errors: number;
  p50_us: number;
  p99_us: number;
  p999_us: number;
  max_us: number;
  /** Achieved ≥ 95% of offered, every request answered, p99 under the budget. */
  sustained: boolean;
}

export interface LoadDriver {
  /** Sends cycle i; resolves with its reply. */
  send(i: number): Promise<CycleReply | ErrorReply>;
}

export async function openLoop(driver: LoadDriver, rate: number, seconds: number, budgetUs = 50_000,
  onReply?: (i: number, r: CycleReply | ErrorReply) => void): Promise<LoadResult & { hist: Histogram }> {
  const hist = latencyHistogram();
  const total = Math.round(rate * seconds);
  let sent = 0, done = 0, ok = 0, errors = 0;
  const start = performance.now();
  let allDone: () => void = () => {};
  const finished = new Promise<void>((r) => { allDone = r; });
  await paceOpenLoop(rate, total, (i, intended) => {
    sent++;
    driver.send(i).then((r) => {
      hist.recordValue(Math.max(1, Math.round((performance.now() - intended) * 1000)));
      if (r.status === 'OK') ok++; else errors++;
      onReply?.(i, r);
      if (++done === total) allDone();
    });
  });
  if (done < total) await finished;
  const secs = (performance.now() - start) / 1000;
  const achieved = total / secs;
  const p99 = hist.getValueAtPercentile(99);
  return {
    offered_per_s: rate, achieved_per_s: Math.round(achieved), sent: total, ok, errors,
    p50_us: hist.getValueAtPercentile(50), p99_us: p99, p999_us: hist.getValueAtPercentile(99.9), max_us: hist.maxValue,
    sustained: achieved >= 0.95 * rate && errors === 0 && p99 < budgetUs, hist,
  };
}
