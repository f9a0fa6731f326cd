import { describe, it, expect, afterEach } from 'vitest';
import { readdirSync } from 'node:fs';
import { FileQuarantine, readQuarantine } from '../../../src/monitor/quarantine.js';
import { tmpDir } from '../../helpers/tmp.js';

let cleanups: Array<() => void> = [];
afterEach(() => { cleanups.forEach((c) => c()); cleanups = []; });

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
});
