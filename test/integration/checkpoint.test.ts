// The candidate's checkpoint (candidate.ckpt): written periodically while it
// learns, so a kill -9 — which skips the checkpoint of a clean close — loses
// at most one period of learning, and the next start resumes from it. The
// sidecar runs in a child process with a 1 s period (the default is 30 s);
// the test waits for the file to change, it does not sleep.
import { describe, it, expect, afterEach } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpDir } from '../helpers/tmp.js';
import { Child } from '../helpers/child.js';
import { openSidecar, drive } from '../helpers/sidecar.js';
import { waitFor } from '../helpers/wait.js';
import { unpack } from '../../src/transport/codec.js';

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.reverse()) await c(); cleanups = []; });
const OP = 'Op-01';

interface Ckpt { version: string; revision: number; params: { updates: number; body: Uint8Array } }
function readCkpt(dir: string): Ckpt | undefined {
  const p = join(dir, 'candidate.ckpt');
  if (!existsSync(p)) return undefined;
  return unpack(readFileSync(p)) as Ckpt;
}
const floats = (b: Uint8Array) => [...new Float32Array(Uint8Array.from(b).buffer)];

/** Cycles of a few agents in a child, each closing the previous decision with an outcome. */
async function learn(c: Child, n: number, agents = 4): Promise<void> {
  const last = new Map<string, string>();
  for (let i = 0; i < n; i++) {
    const id = `ag${i % agents}`;
    const state = { health: (i % 10) / 10, target_distance: (i * 7) % 40, is_floor_ahead: i % 5 !== 0 };
    const prev = last.get(id);
    const r = await c.send(prev ? { agent_id: id, state, intent_taken: prev, result: { outcomes: { is_alive: true, damage_dealt: state.target_distance < 5 ? 1 : 0 } } } : { agent_id: id, state });
    expect(r.status, JSON.stringify(r)).toBe('OK');
    last.set(id, r.intent as string);
  }
}

describe.each([
  { label: 'kernel on the main thread', threads: 0 },
  { label: '1 kernel worker thread', threads: 1 },
])('candidate checkpoint ($label)', ({ threads }) => {
  it('is written while the candidate learns, and a restart after kill -9 resumes from it', async () => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    const c = new Child(t.dir, threads, 1);
    cleanups.push(async () => { if (c.proc.exitCode === null) await c.kill9(); });
    expect(await c.next()).toMatchObject({ ready: true, pool_threads: threads });
    expect(await c.send({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'V1' } })).toMatchObject({ status: 'OK' });
    expect(await c.send({ type: 'SET_CANDIDATE_MODEL', operator_id: OP, version: 'V1' })).toMatchObject({ status: 'OK' });
    await learn(c, 200);
    const first = await waitFor('a first checkpoint with learned weights', () => { const k = readCkpt(t.dir); return k && k.params.updates > 0 ? k : undefined; });
    expect(first).toMatchObject({ version: 'V1', revision: 0 });
    // More learning: a later checkpoint replaces the first.
    await learn(c, 200);
    const later = await waitFor('a later checkpoint', () => { const k = readCkpt(t.dir); return k && k.params.updates > first.params.updates ? k : undefined; });
    await c.kill9(); // no clean close, so no checkpoint at close
    const onDisk = readCkpt(t.dir)!;
    expect(onDisk.params.updates).toBeGreaterThanOrEqual(later.params.updates);

    const s = await openSidecar(t.dir, { config: { engine: { pool_threads: threads } } });
    cleanups.push(() => s.close());
    const resumed = (await s.engine.snapshotCandidate())!;
    expect(s.engine.candidateVersion).toBe('V1');
    expect(resumed.updates).toBe(onDisk.params.updates);
    expect([...resumed.body]).toEqual(floats(onDisk.params.body));
    // Not the registered weights (a linear model registers as zeros)…
    expect(resumed.body.some((w) => w !== 0)).toBe(true);
    // …and learning goes on from there.
    await drive(s, 80, 4);
    expect((await s.engine.snapshotCandidate())!.updates).toBeGreaterThan(resumed.updates);
  });
});

describe('candidate checkpoint, matching', () => {
  it('a checkpoint of another candidate is not loaded: the new one starts from its registered weights', async () => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    let s = await openSidecar(t.dir);
    for (const v of ['V1', 'V2']) expect(await s.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: v } })).toMatchObject({ status: 'OK' });
    expect(await s.handle({ type: 'SET_CANDIDATE_MODEL', operator_id: OP, version: 'V1' })).toMatchObject({ status: 'OK' });
    await drive(s, 200);
    await s.close(); // checkpoints V1
    expect(readCkpt(t.dir)).toMatchObject({ version: 'V1', revision: 0 });
    expect(readCkpt(t.dir)!.params.updates).toBeGreaterThan(0);
    s = await openSidecar(t.dir);
    expect((await s.engine.snapshotCandidate())!.updates).toBeGreaterThan(0); // V1 resumed
    expect(await s.handle({ type: 'SET_CANDIDATE_MODEL', operator_id: OP, version: 'V2' })).toMatchObject({ status: 'OK' });
    // Killed before any checkpoint of V2: simulate by restoring V1's file.
    const v1 = readFileSync(join(t.dir, 'candidate.ckpt'));
    await s.close();
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(t.dir, 'candidate.ckpt'), v1);
    s = await openSidecar(t.dir);
    cleanups.push(() => s.close());
    expect(s.engine.candidateVersion).toBe('V2');
    const v2 = (await s.engine.snapshotCandidate())!;
    expect(v2.updates).toBe(0);
    expect(v2.body.every((w) => w === 0)).toBe(true);
  });
});

describe('candidate checkpoint, the default period', () => {
  it('is 30 s: nothing at 29.999 s, a checkpoint at 30 s (setInterval faked, the I/O real)', async () => {
    const { vi } = await import('vitest');
    const t = tmpDir();
    cleanups.push(t.cleanup);
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    cleanups.push(() => { vi.useRealTimers(); });
    // No checkpointEverySec: the sidecar's default.
    const { Sidecar } = await import('../../src/sidecar.js');
    const s = await Sidecar.open({ dataDir: t.dir, config: { engine: { pool_threads: 0 } } });
    cleanups.push(() => s.close());
    expect(await s.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'V1' } })).toMatchObject({ status: 'OK' });
    expect(await s.handle({ type: 'SET_CANDIDATE_MODEL', operator_id: OP, version: 'V1' })).toMatchObject({ status: 'OK' });
    await drive(s, 120, 4);
    const spy = vi.spyOn(s, 'checkpoint');
    vi.advanceTimersByTime(29_999);
    expect(spy).not.toHaveBeenCalled();
    expect(readCkpt(t.dir)).toBeUndefined();
    vi.advanceTimersByTime(1);
    expect(spy).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(30_000);
    expect(spy).toHaveBeenCalledTimes(2);
    const k = await waitFor('the 30 s checkpoint', () => { const c = readCkpt(t.dir); return c && c.params.updates > 0 ? c : undefined; });
    expect(k).toMatchObject({ version: 'V1', revision: 0 });
  });
});
