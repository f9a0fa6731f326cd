// bench:compare's end-to-end part (bench/e2e-compare.ts): a real
// `shadowpath serve` of this tree's build, driven over TCP on loopback.
import { describe, it, expect } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { e2eRound, E2E_RATE } from '../../../bench/e2e-compare.js';
import { packageRoot } from '../../../src/kernel/host.js';

describe('bench:compare end to end', () => {
  it('measures p50, p99 and the server CPU per cycle of a build\'s serve over TCP', async () => {
    expect(E2E_RATE).toBe(10_000);
    const root = packageRoot();
    expect(existsSync(join(root, 'dist', 'src', 'cli', 'main.js'))).toBe(true); // built by npm ci / npm run build
    // A light load, so the test stays short on a shared machine: 1,000/s for 1 s after a 0.5 s warm-up.
    const f = await e2eRound(root, 1, 0.5, 1000);
    expect(f.e2e_errors_at_10k).toBe(0);
    expect(f.e2e_achieved_per_s_at_10k).toBeGreaterThan(500);
    expect(f.e2e_tcp_p50_us_at_10k).toBeGreaterThan(0);
    expect(f.e2e_tcp_p99_us_at_10k).toBeGreaterThanOrEqual(f.e2e_tcp_p50_us_at_10k);
    expect(f.e2e_cpu_us_per_cycle_at_10k).toBeGreaterThan(0);
  });
});
