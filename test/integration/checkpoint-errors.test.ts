// A failing candidate checkpoint is a write error of the failure taxonomy
// (READ_ONLY_DISK and an incident) with a CRITICAL alert; never swallowed.
import { describe, it, expect, afterEach } from 'vitest';
import { mkdirSync, rmSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLog } from '../../src/log.js';
import { tmpDir } from '../helpers/tmp.js';
import { openSidecar, drive } from '../helpers/sidecar.js';

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.reverse()) await c(); cleanups = []; });

describe('candidate checkpoints', () => {
  it('a checkpoint that cannot be written raises READ_ONLY_DISK and a CRITICAL alert; the alert clears once it succeeds', async () => {
    const t = tmpDir();
    const s = await openSidecar(t.dir);
    cleanups.push(t.cleanup, () => s.close());
    await s.handle({ type: 'REGISTER_MODEL', operator_id: 'Op-01', metadata: { version: 'C1' } });
    await s.handle({ type: 'SET_CANDIDATE_MODEL', operator_id: 'Op-01', version: 'C1' });
    expect((await drive(s, 64)).length).toBe(64);
    // A directory where the checkpoint file goes: the atomic rename fails (even for root).
    mkdirSync(s.paths.checkpoint);
    await s.checkpointOrReport();
    await s.control.settled();
    const hb = (await s.handle({ type: 'HEARTBEAT' })) as Record<string, any>;
    expect(hb.monitoring.status).toBe('CRITICAL');
    expect(hb.monitoring.alerts).toContainEqual(expect.objectContaining({ type: 'CHECKPOINT_WRITE', level: 'CRITICAL' }));
    expect(hb.failure_status).toMatchObject({ mode: 'READ_ONLY_DISK', last_failure: { type: 'DISK_FULL' } });
    rmSync(s.paths.checkpoint, { recursive: true });
    await s.checkpointOrReport();
    const after = (await s.handle({ type: 'HEARTBEAT' })) as Record<string, any>;
    expect(after.monitoring.alerts.some((a: any) => a.type === 'CHECKPOINT_WRITE')).toBe(false);
  });

  it('a shutdown checkpoint that cannot be written is logged (error) and recorded in the SHUTDOWN audit record, not swallowed', async () => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    const lines: string[] = [];
    const log = await createLog({ destination: { write: (x: string) => { lines.push(...x.split('\n').filter(Boolean)); } } });
    const s = await openSidecar(t.dir, { log });
    await s.handle({ type: 'REGISTER_MODEL', operator_id: 'Op-01', metadata: { version: 'C2' } });
    await s.handle({ type: 'SET_CANDIDATE_MODEL', operator_id: 'Op-01', version: 'C2' });
    expect((await drive(s, 64)).length).toBe(64);
    mkdirSync(s.paths.checkpoint);
    await s.close();
    const failed = lines.map((l) => JSON.parse(l)).filter((l) => l.event === 'checkpoint_failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ level: 50, at: 'shutdown', error: expect.any(String) });
    const audit = readFileSync(join(t.dir, 'audit', 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(audit.at(-1)).toMatchObject({ kind: 'SHUTDOWN', payload: { checkpoint_error: expect.any(String) } });
  });
});
