// The CPU bench (bench/cpu.bench.ts, issue 15): which pair it reports, and
// the `_model` loads' server really serving an MLP with a shadow candidate.
import { describe, it, expect, afterEach } from 'vitest';
import { CPU_CASES, FULL_REPS, MODEL_SETUP, cpuSummary, installModels, medianAndWorst, type CpuBench } from '../../../bench/cpu.bench.js';
import { TcpClient } from '../../../src/transport/client.js';
import { server } from '../../helpers/server.js';
import { tmpDir } from '../../helpers/tmp.js';
import type { RunningServer } from '../../../src/server.js';

describe('the CPU bench reports the median pair and the worst', () => {
  it('runs an odd number of pairs (at least 3) in a full run, so the median is a measured pair', () => {
    expect(FULL_REPS).toBeGreaterThanOrEqual(3);
    expect(FULL_REPS % 2).toBe(1);
  });

  it('picks the median ratio, not the lower middle, and the highest as the worst', () => {
    const pairs = [1.31, 1.02, 1.64, 1.2, 1.45].map((ratio, i) => ({ ratio, i }));
    const { median, worst } = medianAndWorst(pairs);
    expect(median.ratio).toBe(1.31);
    expect(worst.ratio).toBe(1.64);
    // Two pairs (a caller's choice): the higher one, never the flattering one.
    expect(medianAndWorst([{ ratio: 1.0 }, { ratio: 1.5 }]).median.ratio).toBe(1.5);
    expect(medianAndWorst([{ ratio: 1.2 }]).median.ratio).toBe(1.2);
  });

  it('puts the worst pair next to the median in the summary keys, for every load', () => {
    const b: CpuBench = { seconds: 4, reps: 3, rows: [], cases: {} };
    for (const c of CPU_CASES) b.cases[c.key] = { cpu_us_per_cycle: 10, echo_cpu_us_per_cycle: 8, ratio: 1.25, worst: { cpu_us_per_cycle: 12, echo_cpu_us_per_cycle: 8, ratio: 1.5 }, ratios: [1.1, 1.25, 1.5] };
    const s = cpuSummary(b);
    expect(CPU_CASES.length).toBeGreaterThanOrEqual(6);
    for (const c of CPU_CASES) {
      expect(s[`cpu_ratio_vs_echo_${c.key}`]).toBe(1.25);
      expect(s[`cpu_ratio_vs_echo_worst_${c.key}`]).toBe(1.5);
    }
    // The four loads of issue 15 keep their keys; the model loads are added.
    for (const k of ['tcp_5k', 'tcp_20k', 'binary_20k', 'http_3k', 'tcp_5k_model']) expect(s[`cpu_us_per_cycle_${k}`]).toBe(10);
  });
});

describe('the `_model` loads\' server', () => {
  let s: RunningServer | null = null;
  let cleanup = () => {};
  afterEach(async () => { await s?.close(); s = null; cleanup(); });

  it('serves a production MLP with an MLP candidate in shadow after installModels', async () => {
    const t = tmpDir();
    cleanup = t.cleanup;
    s = await server(t.dir);
    await installModels(s.tcpPort!);
    const prod = await s.sidecar.engine.snapshotProduction();
    const cand = await s.sidecar.engine.snapshotCandidate();
    expect(prod?.shape.h).toBe(MODEL_SETUP.hidden);
    expect(cand?.shape.h).toBe(MODEL_SETUP.hidden);
    const c = await TcpClient.connect('127.0.0.1', s.tcpPort!);
    try {
      const r = (await c.request({ agent_id: 'bench', state: { health: 0.8, energy: 1, target_distance: 12.5, is_floor_ahead: true } })) as Record<string, any>;
      expect(r.status).toBe('OK');
      expect(r.model_version).toBe(MODEL_SETUP.production);
      expect(r.policy_source).not.toBe('RULES');
      expect(r.shadow?.version).toBe(MODEL_SETUP.candidate);
    } finally {
      c.close();
    }
  });
});
