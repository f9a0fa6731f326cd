// The per-cycle latency histogram of /metrics (src/monitor/latency-histogram.ts)
// must scrape exactly as prom-client's own Histogram did for the same latencies.
import { describe, it, expect } from 'vitest';
import client from 'prom-client';
import { CycleLatencyHistogram } from '../../../src/monitor/latency-histogram.js';

const BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25];

describe('CycleLatencyHistogram', () => {
  it('scrapes the same text as prom-client\'s Histogram, bounds and +Inf included', async () => {
    const theirs = new client.Registry(), ours = new client.Registry();
    const h = new client.Histogram({ name: 'x_seconds', help: 'h', buckets: BUCKETS, registers: [theirs] });
    const mine = new CycleLatencyHistogram('x_seconds', 'h', BUCKETS);
    ours.registerMetric(mine as unknown as client.Metric);
    // Every bound exactly (le is inclusive), just over it, and past the last bound.
    const us = [1, 37, ...BUCKETS.map((b) => Math.round(b * 1e6)), ...BUCKETS.map((b) => Math.round(b * 1e6) + 1), 400_000, 2_000_000];
    for (const u of us) { h.observe(u / 1e6); mine.observeUs(u); }
    const want = await theirs.metrics(), got = await ours.metrics();
    expect(want).toContain('x_seconds_bucket{le="+Inf"} 28');
    // Sums differ in the last float digits (µs summed, then scaled): compare every line but _sum exactly, _sum closely.
    const lines = (t: string) => t.trim().split('\n');
    const sumOf = (t: string) => Number(lines(t).find((l) => l.startsWith('x_seconds_sum'))!.split(' ')[1]);
    expect(lines(got).filter((l) => !l.startsWith('x_seconds_sum'))).toEqual(lines(want).filter((l) => !l.startsWith('x_seconds_sum')));
    expect(sumOf(got)).toBeCloseTo(sumOf(want), 9);
  });
});
