// Issue 15, per-batch costs: a production engine (no allowFaultInjection)
// never looks through a batch's rows for a test fault; an engine that allows
// fault injection still honours one. The scan is observed by wrapping
// Array.prototype.find and recording the calls made on an array of the
// engine's pending rows (objects with cycleId, stream and fault).
import { describe, it, expect, afterEach } from 'vitest';
import { Engine } from '../../../src/engine/cycle.js';
import { modelFor, ok, STATE } from '../../helpers/engine.js';
import type { CycleReply, ErrorReply } from '../../../src/engine/types.js';

const realFind = Array.prototype.find;
let rowScans = 0;
function watchFind(): void {
  rowScans = 0;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  Array.prototype.find = function (this: unknown[], ...args: any[]) {
    const first = this[0] as Record<string, unknown> | undefined;
    if (first && typeof first === 'object' && 'cycleId' in first && 'stream' in first && 'fault' in first) rowScans++;
    return realFind.apply(this, args as Parameters<typeof realFind>);
  } as typeof realFind;
}
afterEach(() => { Array.prototype.find = realFind; });

async function burst(e: Engine, n: number, extra: (i: number) => Record<string, unknown> = () => ({})): Promise<Array<CycleReply | ErrorReply>> {
  return Promise.all(Array.from({ length: n }, (_, i) => e.cycle({ agent_id: `a${i}`, state: STATE, ...extra(i) })));
}

describe('the test-fault scan of a batch', () => {
  it('never runs in an engine without allowFaultInjection, even when a cycle carries __fault', async () => {
    const e = await Engine.create({ config: { pool_threads: 1 } });
    try {
      await e.setModel('production', 'M-P', modelFor(e, 'mlp', 'random'));
      watchFind();
      const batchesBefore = e.pool.stats.batches + e.pool.stats.inline;
      const replies = [...await burst(e, 30), ...await burst(e, 10, (i) => (i === 3 ? { __fault: 'exit' } : {}))];
      for (let i = 0; i < 20; i++) replies.push(await e.cycle({ agent_id: 'solo', state: STATE }));
      Array.prototype.find = realFind;
      expect(replies.length).toBe(60);
      for (const r of replies) expect(ok(r).policy_source).toBe('ML'); // the fault was ignored: nothing crashed
      expect(e.pool.stats.batches + e.pool.stats.inline - batchesBefore).toBeGreaterThan(0);
      expect(e.pool.stats.crashes).toBe(0);
      expect(rowScans).toBe(0);
    } finally {
      Array.prototype.find = realFind;
      await e.close();
    }
  });

  it('runs once a fault was admitted when injection is allowed, and the fault still fires', async () => {
    const e = await Engine.create({ config: { pool_threads: 1, batch_timeout_ms: 2000 }, allowFaultInjection: true });
    try {
      await e.setModel('production', 'M-P', modelFor(e, 'mlp', 'random'));
      watchFind();
      for (const r of await burst(e, 10)) expect(ok(r).policy_source).toBe('ML');
      expect(rowScans).toBe(0); // no fault admitted yet
      const replies = await burst(e, 10, (i) => (i === 3 ? { __fault: 'exit' } : {}));
      Array.prototype.find = realFind;
      expect(rowScans).toBeGreaterThan(0);
      const fallback = replies.filter((r) => r.status === 'OK' && r.fallback_reason === 'WORKER_CRASH');
      expect(fallback.length).toBeGreaterThan(0);
      expect(e.pool.stats.crashes).toBe(1);
    } finally {
      Array.prototype.find = realFind;
      await e.close();
    }
  });
});
