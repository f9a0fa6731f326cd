// An in-process open-loop load: cycles are due at fixed intended send times
// (start + i / rate) whether or not earlier ones were answered, and each
// latency is measured from the intended send time, so a stall shows up in
// the percentiles instead of silently lowering the offered rate
// (no coordinated omission).
import type { Histogram } from 'hdr-histogram-js';
import { latencyHistogram } from '../src/engine/stats.js';
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
  const intervalMs = 1000 / rate;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      const due = Math.min(total, Math.floor((now - start) / intervalMs) + 1);
      while (sent < due) {
        const i = sent++;
        const intended = start + i * intervalMs;
        driver.send(i).then((r) => {
          hist.recordValue(Math.max(1, Math.round((performance.now() - intended) * 1000)));
          if (r.status === 'OK') ok++; else errors++;
          onReply?.(i, r);
          if (++done === total) resolve();
        });
      }
      if (sent >= total) return;
      // Wait for the next due time without flooding the event loop: a
      // setImmediate per spin would allocate ~250 bytes a turn, a million
      // times a second, and the resulting scavenges would show up in the
      // latencies being measured. Spin at most 20 µs, then let the loop run
      // (replies are processed there); sleep on a timer when the gap is long.
      const next = start + sent * intervalMs;
      const wait = next - performance.now();
      if (wait > 2) { setTimeout(tick, wait - 1); return; }
      const until = Math.min(next, performance.now() + 0.02);
      while (performance.now() < until) { /* spin */ }
      setImmediate(tick);
    };
    tick();
  });
  const secs = (performance.now() - start) / 1000;
  const achieved = total / secs;
  const p99 = hist.getValueAtPercentile(99);
  return {
    offered_per_s: rate, achieved_per_s: Math.round(achieved), sent: total, ok, errors,
    p50_us: hist.getValueAtPercentile(50), p99_us: p99, p999_us: hist.getValueAtPercentile(99.9), max_us: hist.maxValue,
    sustained: achieved >= 0.95 * rate && errors === 0 && p99 < budgetUs, hist,
  };
}
