import { describe, it, expect, afterEach, vi } from 'vitest';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FileQuarantine, readQuarantine } from '../../../src/monitor/quarantine.js';
import { tmpDir } from '../../helpers/tmp.js';

let cleanups: Array<() => void> = [];
afterEach(() => { vi.useRealTimers(); cleanups.forEach((c) => c()); cleanups = []; });
const entry = (i: number, big = '') => ({ reason: 'UNKNOWN_INTENT' as const, agent_id: `a${i}`, cycle_id: i, prev_cycle_id: null, at: 1_764_000_000_000 + i, intent_taken: big || 'FLY', result: { outcomes: {} } });

describe('FileQuarantine', () => {
  it('appends entries with ids, rotates files by size, bounds huge payloads, and recounts at start-up', async () => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    const q = new FileQuarantine(t.dir, 2000);
    for (let i = 0; i < 30; i++) {
      q.put({ reason: i % 3 === 0 ? 'HOSTILE_PAYLOAD' : 'UNKNOWN_INTENT', agent_id: `a${i}`, cycle_id: i, prev_cycle_id: null, at: 1_764_000_000_000 + i,
        intent_taken: i === 5 ? 'x'.repeat(10_000) : 'FLY', result: { outcomes: {} } });
    }
    await q.close();
    expect(readdirSync(t.dir).length).toBeGreaterThan(1);
    const all = readQuarantine(t.dir);
    expect(all).toHaveLength(30);
    expect(new Set(all.map((e) => e.id)).size).toBe(30);
    expect(all[5].intent_taken).toMatchObject({ truncated: true, bytes: 10_002 });
    const again = new FileQuarantine(t.dir, 2000);
    expect(again.total).toBe(30);
    expect(again.byReason.get('HOSTILE_PAYLOAD')).toBe(10);
    await again.close();
  });

  it('rotates at the default 8 MiB', async () => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    const q = new FileQuarantine(t.dir); // the default size
    const big = 'x'.repeat(4000); // kept whole (under the 4096-character bound): ~4.2 KB a line
    const n = 2100; // ~8.8 MB: one rotation
    for (let i = 0; i < n; i++) q.put(entry(i, big));
    await q.close();
    expect(readdirSync(t.dir).sort()).toEqual(['q-000001.jsonl', 'q-000002.jsonl']);
    const first = statSync(join(t.dir, 'q-000001.jsonl')).size;
    expect(first).toBeGreaterThanOrEqual(8 << 20);
    expect(first).toBeLessThan((8 << 20) + 4500); // rotated at the first line past 8 MiB
    expect(readQuarantine(t.dir)).toHaveLength(n);
  });

  it('flushes 100 ms after an entry, without a close (timers faked: no wall clock involved)', async () => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const q = new FileQuarantine(t.dir);
    q.put(entry(1));
    vi.advanceTimersByTime(99);
    expect(readQuarantine(t.dir)).toHaveLength(0); // still buffered
    vi.advanceTimersByTime(1); // the flush starts (an appendFile, real I/O)
    vi.useRealTimers();
    const deadline = Date.now() + 10_000;
    while (readQuarantine(t.dir).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(readQuarantine(t.dir).map((e) => e.cycle_id)).toEqual([1]);
    await q.close();
  });
});
