// READ_ONLY_DISK: a write of the control state or of a model file that the
// disk refuses (ENOSPC, EIO — injected through the write-fault seam of
// src/store/atomic-file.ts, no root, no full disk) puts the sidecar in
// READ_ONLY_DISK: the refused mutation is REJECTED / E_DISK and leaves no
// trace in the state or the registry, decisions go on, later mutations are
// E_READ_ONLY, an incident is written (to a part of the disk that still
// works), and after a restart on a healthy disk everything works again
// (READ_ONLY_DISK is kept in memory only: the disk may not take it).
import { describe, it, expect, afterEach } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpDir } from '../helpers/tmp.js';
import { openSidecar } from '../helpers/sidecar.js';
import { waitFor } from '../helpers/wait.js';
import { setWriteFault } from '../../src/store/atomic-file.js';
import { verifyLogFile } from '../../src/audit/log.js';
import type { Sidecar } from '../../src/sidecar.js';

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { setWriteFault(null); for (const c of cleanups.reverse()) await c(); cleanups = []; });
const OP = 'Op-01';
type R = Record<string, any>;

function errno(code: 'ENOSPC' | 'EIO'): NodeJS.ErrnoException {
  const e = new Error(code === 'ENOSPC' ? 'ENOSPC: no space left on device, write' : 'EIO: i/o error, fsync') as NodeJS.ErrnoException;
  e.code = code;
  e.errno = code === 'ENOSPC' ? -28 : -5;
  e.syscall = code === 'ENOSPC' ? 'write' : 'fsync';
  return e;
}

async function incidents(s: Sidecar, type: string): Promise<R[]> {
  const r = (await s.handle({ type: 'LIST_INCIDENTS', operator_id: OP })) as R;
  expect(r.status).toBe('OK');
  return (r.incidents as R[]).filter((i) => i.type === type);
}

const targets = [
  // The control state: SET_CANDIDATE_MODEL only persists the state.
  { what: 'the control state', matches: (p: string) => /[\\/]state$/.test(p), mutate: { type: 'SET_CANDIDATE_MODEL', operator_id: OP, version: 'M1' } },
  // A model file: REGISTER_MODEL writes models/<version>.r0.model first.
  { what: 'a model file', matches: (p: string) => p.endsWith('.model'), mutate: { type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'M2' } } },
] as const;

describe.each(['ENOSPC', 'EIO'] as const)('READ_ONLY_DISK on %s', (code) => {
  it.each(targets)('$what: the write fails, READ_ONLY_DISK, an incident; a restart on a healthy disk recovers', async ({ matches, mutate }) => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    let s = await openSidecar(t.dir);
    cleanups.push(() => s.close());
    expect(await s.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'M1' } })).toMatchObject({ status: 'OK' });
    const stateBefore = readOr(join(t.dir, 'state'));
    const modelsBefore = readdirSync(join(t.dir, 'models')).sort();

    // EIO on the fsync, ENOSPC on the write: both steps are exercised.
    const step = code === 'EIO' ? 'fsync' : 'write';
    let injected = 0;
    setWriteFault((p, st) => (matches(p) && st === step ? (injected++, errno(code)) : null));
    const refused = (await s.handle(mutate)) as R;
    expect(injected).toBe(1);
    expect(refused).toMatchObject({ status: 'REJECTED', error: { code: 'E_DISK' } });
    expect(refused.error.message).toContain(code);
    // Nothing of the refused mutation remains: the state file and the models
    // directory are as they were (no temporary file left behind either).
    expect(readOr(join(t.dir, 'state'))).toBe(stateBefore);
    expect(readdirSync(join(t.dir, 'models')).sort()).toEqual(modelsBefore);
    const hb = (await s.handle({ type: 'HEARTBEAT' })) as R;
    expect(hb.failure_status.mode).toBe('READ_ONLY_DISK');
    expect(hb.candidate_model ?? null).toBe(null);
    expect((hb.model_registry as R[]).map((m) => m.version)).toEqual(['M1']);

    // Decisions go on.
    const cycle = (await s.handle({ agent_id: 'a', state: { health: 1 } })) as R;
    expect(cycle).toMatchObject({ status: 'OK', failure_mode: 'READ_ONLY_DISK' });
    expect(cycle.intent).toEqual(expect.any(String));

    // The incident, written to the part of the disk that works, pointing at its audit record.
    const [inc] = await waitFor('the READ_ONLY_DISK incident', async () => { const l = await incidents(s, 'DISK_FULL'); return l.length ? l : undefined; });
    expect(inc).toMatchObject({ type: 'DISK_FULL', severity: 'CRITICAL', mode: 'READ_ONLY_DISK' });
    expect(inc.details.detail).toContain(code);
    const onDisk = JSON.parse(readFileSync(join(t.dir, 'failures', `incident_${inc.incident_id}.json`), 'utf8')) as R;
    expect(onDisk.audit_hash).toBe(inc.audit_hash);
    expect(readFileSync(join(t.dir, 'audit', 'audit.log'), 'utf8')).toContain(`"hash":"${inc.audit_hash}"`);

    // The disk is healthy again, but the sidecar stays read-only until a restart.
    setWriteFault(null);
    expect(await s.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'M3' } })).toMatchObject({ status: 'REJECTED', error: { code: 'E_READ_ONLY' } });
    expect(existsModel(t.dir, 'M3')).toBe(false);

    await s.close();
    s = await openSidecar(t.dir);
    const hb2 = (await s.handle({ type: 'HEARTBEAT' })) as R;
    expect(hb2.failure_status.mode).toBe('NORMAL');
    expect(hb2.audit_metrics.verified).toBe(true);
    // The mutation that was refused now goes through, and is durable.
    expect(await s.handle(mutate)).toMatchObject({ status: 'OK' });
    expect((await verifyLogFile(join(t.dir, 'audit', 'audit.log'))).ok).toBe(true);
  });

  it('an EMERGENCY_LOCKDOWN the disk refuses still stops every cycle at once', async () => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    const s = await openSidecar(t.dir);
    cleanups.push(() => s.close());
    setWriteFault((p) => (/[\\/]state$/.test(p) ? errno(code) : null));
    const r = (await s.handle({ type: 'EMERGENCY_LOCKDOWN', operator_id: OP, reason: 'disk drill' })) as R;
    expect(r).toMatchObject({ status: 'REJECTED', error: { code: 'E_DISK' } });
    // Not durable, but in force: the latch is applied to the engine before the write.
    for (let i = 0; i < 8; i++) expect(await s.handle({ agent_id: `l${i}`, state: { health: 1 } })).toMatchObject({ status: 'OK', intent: 'STOP', policy_source: 'LOCKDOWN' });
    // HEARTBEAT agrees with the cycles: the latch is on (in memory; the reply said it is not durable).
    expect(((await s.handle({ type: 'HEARTBEAT' })) as R).lockdown).toMatchObject({ active: true, reason: 'disk drill' });
    expect(r.error.message).toMatch(/in effect in memory/);
  });
});

function readOr(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : '(none)';
}

function existsModel(dir: string, version: string): boolean {
  return readdirSync(join(dir, 'models')).some((f) => f.startsWith(`${version}.`));
}
