// A second EMERGENCY_LOCKDOWN is OK and changes nothing: the latch keeps who
// set it, when and why; the control state (and its version, to which
// confirmation tokens are bound) is not rewritten; it is audited all the same.
import { describe, it, expect, afterEach } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpDir } from '../helpers/tmp.js';
import { openSidecar, drive } from '../helpers/sidecar.js';

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.reverse()) await c(); cleanups = []; });
type R = Record<string, any>;

describe('a second lockdown', () => {
  it('is OK, keeps the first one\'s operator, time and reason, leaves the state file and its version alone', async () => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    let clock = Date.parse('2026-11-26T10:00:00Z');
    const s = await openSidecar(t.dir, { clock: () => clock });
    cleanups.push(() => s.close());
    const first = (await s.handle({ type: 'EMERGENCY_LOCKDOWN', operator_id: 'Op-01', reason: 'first' })) as R;
    expect(first.status).toBe('OK');
    const statePath = join(t.dir, 'state');
    const stateAfterFirst = readFileSync(statePath, 'utf8');
    const version = s.control.state.version;
    const latch = { ...s.control.state.lockdown };
    expect(latch).toMatchObject({ active: true, operator_id: 'Op-01', reason: 'first', since: '2026-11-26T10:00:00.000Z' });
    // A release requested now, confirmed after the second lockdown.
    const release = (await s.handle({ type: 'UNRELEASE_LOCKDOWN', operator_id: 'Op-01' })) as R;
    expect(release.status).toBe('REQUIRED_CONFIRMATION');

    clock += 60_000;
    const second = (await s.handle({ type: 'EMERGENCY_LOCKDOWN', operator_id: 'Op-02', reason: 'second' })) as R;
    expect(second.status).toBe('OK');
    expect(s.control.state.version).toBe(version);
    expect(s.control.state.lockdown).toEqual(latch);
    expect(readFileSync(statePath, 'utf8')).toBe(stateAfterFirst);
    expect(((await s.handle({ type: 'HEARTBEAT' })) as R).lockdown).toEqual(latch);
    expect((await drive(s, 16)).every((r) => r.intent === 'STOP' && r.policy_source === 'LOCKDOWN')).toBe(true);
    // Audited: both commands, each with its operator.
    const recs = readFileSync(join(t.dir, 'audit', 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as R)
      .filter((r) => r.payload?.type === 'EMERGENCY_LOCKDOWN');
    expect(recs.map((r) => [r.operator_id, r.payload.status])).toEqual([['Op-01', 'OK'], ['Op-02', 'OK']]);
    // The state did not change, so the token issued before it still confirms.
    expect(await s.handle({ type: 'UNRELEASE_LOCKDOWN', operator_id: 'Op-01', confirmation_token: release.confirmation_token })).toMatchObject({ status: 'OK' });
    expect(s.control.state.lockdown.active).toBe(false);
    expect(s.control.state.version).toBe(version + 1);
  });
});
