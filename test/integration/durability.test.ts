// Restarts against real files: a clean close, a kill -9 of a real child
// process, a second process on the same directory, a tampered and a torn
// audit log.
import { describe, it, expect, afterEach } from 'vitest';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpDir } from '../helpers/tmp.js';
import { openSidecar, confirmed, drive } from '../helpers/sidecar.js';
import { Child } from '../helpers/child.js';
import { verifyLogFile } from '../../src/audit/log.js';

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.reverse()) await c(); cleanups = []; });
const dir = () => { const t = tmpDir(); cleanups.push(t.cleanup); return t.dir; };
const OP = 'Op-01';

describe('durability', () => {
  it('promote → restart → still promoted, same weights', async () => {
    const d = dir();
    const a = await openSidecar(d);
    await a.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'V1', architecture: 'mlp', hidden: 8 } });
    await a.handle({ type: 'SET_CANDIDATE_MODEL', operator_id: OP, version: 'V1' });
    await drive(a, 200);
    const p = (await confirmed(a, { type: 'PROMOTE_CANDIDATE', operator_id: OP, force: true })) as any;
    expect(p.status).toBe('OK');
    const before = (await a.engine.snapshotProduction())!;
    await a.close();
    const b = await openSidecar(d);
    cleanups.push(() => b.close());
    const hb = (await b.handle({ type: 'HEARTBEAT' })) as any;
    expect(hb).toMatchObject({ active_model: 'V1', active_revision: 1 });
    expect(hb.model_registry[0].weights_sha256).toBe(p.weights_sha256);
    expect([...(await b.engine.snapshotProduction())!.body]).toEqual([...before.body]);
  });

  it('a candidate resumes its learned weights after a clean restart', async () => {
    const d = dir();
    const a = await openSidecar(d);
    await a.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'V1' } });
    await a.handle({ type: 'SET_CANDIDATE_MODEL', operator_id: OP, version: 'V1' });
    await drive(a, 300);
    const learned = (await a.engine.snapshotCandidate())!;
    expect(learned.updates).toBeGreaterThan(0);
    await a.close();
    const b = await openSidecar(d);
    cleanups.push(() => b.close());
    expect([...(await b.engine.snapshotCandidate())!.body]).toEqual([...learned.body]);
  });

  it.each([
    { label: 'kernel on the main thread', threads: 0 },
    { label: '1 kernel worker thread', threads: 1 },
  ])('lockdown → kill -9 → restart → still locked, every cycle STOP ($label)', async ({ threads }) => {
    const d = dir();
    const c = new Child(d, threads);
    expect(await c.next()).toMatchObject({ ready: true, pool_threads: threads });
    // Cycles in flight on the child's kernel (a worker thread in one variant) when it is killed.
    for (let i = 0; i < 8; i++) expect(await c.send({ agent_id: `k${i}`, state: { health: 0.5 } })).toMatchObject({ status: 'OK' });
    expect(await c.send({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'V1' } })).toMatchObject({ status: 'OK' });
    expect(await c.send({ type: 'EMERGENCY_LOCKDOWN', operator_id: OP, reason: 'drill' })).toMatchObject({ status: 'OK' });
    for (let i = 0; i < 8; i++) c.proc.stdin!.write(JSON.stringify({ agent_id: `k${i}`, state: { health: 0.5 } }) + '\n');
    await c.kill9();
    const b = await openSidecar(d, { config: { engine: { pool_threads: threads } } }); // the dead child's lock is taken over
    cleanups.push(() => b.close());
    const hb = (await b.handle({ type: 'HEARTBEAT' })) as any;
    expect(hb).toMatchObject({ lockdown: { active: true, operator_id: OP, reason: 'drill' }, failure_status: { mode: 'LOCKDOWN' } });
    // drive() throws on any reply that is not OK, so this runs over 24 real decisions.
    expect((await drive(b, 24)).every((r) => r.intent === 'STOP' && r.policy_source === 'LOCKDOWN')).toBe(true);
    expect((await verifyLogFile(join(d, 'audit', 'audit.log'))).ok).toBe(true);
  });

  it('a second process on the same data directory refuses to start with E_DATA_DIR_LOCKED', async () => {
    const d = dir();
    const a = await openSidecar(d);
    cleanups.push(() => a.close());
    const c = new Child(d);
    expect(await c.next()).toMatchObject({ startup_error: 'E_DATA_DIR_LOCKED' });
    expect(await c.exited).toBe(3);
  });

  it('a tampered audit log latches a lockdown at start-up; VERIFY_AUDIT names the first bad record', async () => {
    const d = dir();
    const a = await openSidecar(d);
    for (let i = 0; i < 5; i++) await a.handle({ type: 'HEARTBEAT' });
    await a.close();
    const path = join(d, 'audit', 'audit.log');
    const lines = readFileSync(path, 'utf8').split('\n');
    lines[2] = lines[2].replace('"HEARTBEAT"', '"HEARTBEAX"');
    writeFileSync(path, lines.join('\n'));
    const b = await openSidecar(d);
    cleanups.push(() => b.close());
    const hb = (await b.handle({ type: 'HEARTBEAT' })) as any;
    expect(hb.lockdown).toMatchObject({ active: true, operator_id: 'system', reason: expect.stringContaining('AUDIT_TAMPER') });
    expect(hb.audit_metrics.verified).toBe(false);
    expect(await b.handle({ type: 'VERIFY_AUDIT', operator_id: OP })).toMatchObject({ status: 'OK', verified: false, first_bad: { index: 2, seq: 3 } });
  });

  it('a torn last record is cut at start-up, and the cut is audited', async () => {
    const d = dir();
    const a = await openSidecar(d);
    await a.handle({ type: 'HEARTBEAT' });
    await a.close();
    const torn = '{"seq":99,"ts":"2026-';
    appendFileSync(join(d, 'audit', 'audit.log'), torn);
    const b = await openSidecar(d);
    cleanups.push(() => b.close());
    await b.audit.drain();
    const log = readFileSync(join(d, 'audit', 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(log.some((r) => r.kind === 'AUDIT_TAIL_TRUNCATED' && r.payload.bytes === Buffer.byteLength(torn))).toBe(true);
    expect((await verifyLogFile(join(d, 'audit', 'audit.log'))).ok).toBe(true);
    const hb = (await b.handle({ type: 'HEARTBEAT' })) as any;
    expect(hb.status).toBe('OK');
    expect(hb.lockdown.active).toBe(false);
  });
});
