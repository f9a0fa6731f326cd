// AUDIT_TAMPER at start-up, as an operator meets it: the lockdown, and the
// incident report (its file, its fields, the audit record that logged it),
// for an edited record and for records cut off the end of the log (seen
// through the anchored head, audit.log.head). The evidence outlives a second
// restart: the log is not re-anchored onto the tampered one.
import { describe, it, expect, afterEach } from 'vitest';
import { existsSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tmpDir } from '../helpers/tmp.js';
import { openSidecar } from '../helpers/sidecar.js';
import type { Sidecar } from '../../src/sidecar.js';

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.reverse()) await c(); cleanups = []; });
const OP = 'Op-01';
type R = Record<string, any>;

/** A data directory with a model and a few commands in its log, closed. */
async function history(): Promise<string> {
  const t = tmpDir();
  cleanups.push(t.cleanup);
  const s = await openSidecar(t.dir);
  expect(await s.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'V1' } })).toMatchObject({ status: 'OK' });
  for (let i = 0; i < 4; i++) await s.handle({ type: 'HEARTBEAT' });
  await s.close();
  return t.dir;
}

const logPath = (d: string) => join(d, 'audit', 'audit.log');
const lines = (d: string) => readFileSync(logPath(d), 'utf8').trimEnd().split('\n');

async function expectTamperIncident(s: Sidecar, dir: string, firstBad: { index: number; seq: number | null }, verifyNamesIt = true): Promise<R> {
  const hb = (await s.handle({ type: 'HEARTBEAT' })) as R;
  expect(hb.lockdown).toMatchObject({ active: true, operator_id: 'system', reason: expect.stringContaining('AUDIT_TAMPER') });
  expect(hb.failure_status).toMatchObject({ mode: 'LOCKDOWN', last_failure: { type: 'AUDIT_TAMPER' } });
  expect(hb.failure_status.incident_count).toBeGreaterThanOrEqual(1);
  expect(hb.audit_metrics.verified).toBe(false);
  expect(await s.handle({ agent_id: 'probe', state: { health: 1 } })).toMatchObject({ status: 'OK', intent: 'STOP', policy_source: 'LOCKDOWN' });
  // The incident report, on disk.
  const files = readdirSync(join(dir, 'failures')).filter((f) => /^incident_.*\.json$/.test(f));
  const reports = files.map((f) => JSON.parse(readFileSync(join(dir, 'failures', f), 'utf8')) as R).filter((r) => r.type === 'AUDIT_TAMPER');
  expect(reports).toHaveLength(1);
  const [rep] = reports;
  expect(rep).toMatchObject({ type: 'AUDIT_TAMPER', severity: 'CRITICAL', mode: 'LOCKDOWN', incident_id: expect.any(String), audit_seq: expect.any(Number) });
  expect(rep.details.detail).toContain(`record ${firstBad.index + 1}`);
  // Its audit record is in the log, after the tampered part, and says the same.
  const rec = lines(dir).map((l) => JSON.parse(l) as R).find((r) => r.hash === rep.audit_hash);
  expect(rec).toMatchObject({ kind: 'INCIDENT', seq: rep.audit_seq, payload: { incident_id: rep.incident_id, type: 'AUDIT_TAMPER' } });
  // LIST_INCIDENTS and VERIFY_AUDIT agree.
  const list = (await s.handle({ type: 'LIST_INCIDENTS', operator_id: OP })) as R;
  expect((list.incidents as R[]).map((i) => i.incident_id)).toContain(rep.incident_id);
  // (After a cut, the records appended since start-up take the cut seqs, so
  // VERIFY_AUDIT then names the anchored seq, whose hash no longer matches.)
  expect(await s.handle({ type: 'VERIFY_AUDIT', operator_id: OP })).toMatchObject({ status: 'OK', verified: false, ...(verifyNamesIt ? { first_bad: firstBad } : {}) });
  return rep;
}

describe('AUDIT_TAMPER at start-up', () => {
  it('an edited record: lockdown, and an incident file naming the first bad record', async () => {
    const d = await history();
    const ls = lines(d);
    ls[1] = ls[1].replace('"V1"', '"V2"'); // the REGISTER_MODEL record
    writeFileSync(logPath(d), ls.join('\n') + '\n');
    const s = await openSidecar(d);
    cleanups.push(() => s.close());
    await expectTamperIncident(s, d, { index: 1, seq: 2 });
  });

  it('records cut off the end: detected through the anchored head, with an incident; still so after another restart', async () => {
    const d = await history();
    const ls = lines(d);
    expect(ls.length).toBeGreaterThanOrEqual(7);
    writeFileSync(logPath(d), ls.slice(0, -2).join('\n') + '\n'); // a valid, shorter chain
    let s = await openSidecar(d);
    const first = await expectTamperIncident(s, d, { index: ls.length - 2, seq: ls.length - 1 }, false);
    await s.close();
    // A second start: the lockdown is latched, the anchor still shows the cut.
    s = await openSidecar(d);
    cleanups.push(() => s.close());
    const hb = (await s.handle({ type: 'HEARTBEAT' })) as R;
    expect(hb.lockdown.active).toBe(true);
    expect(hb.audit_metrics.verified).toBe(false);
    expect(await s.handle({ type: 'VERIFY_AUDIT', operator_id: OP })).toMatchObject({ verified: false });
    // The first start's incident is still on disk; a management command is refused.
    expect(readdirSync(join(d, 'failures'))).toContain(`incident_${first.incident_id}.json`);
    expect(await s.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'V9' } })).toMatchObject({ status: 'REJECTED', error: { code: 'E_LOCKDOWN' } });
  });

  it('an intact log after a clean restart: no lockdown, no incident (the control for the two above)', async () => {
    const d = await history();
    const s = await openSidecar(d);
    cleanups.push(() => s.close());
    const hb = (await s.handle({ type: 'HEARTBEAT' })) as R;
    expect(hb.lockdown.active).toBe(false);
    expect(hb.audit_metrics.verified).toBe(true);
    expect(hb.failure_status).toMatchObject({ mode: 'NORMAL', incident_count: 0 });
    expect(existsSync(join(d, 'failures')) ? readdirSync(join(d, 'failures')).filter((f) => f.startsWith('incident_')) : []).toEqual([]);
  });

  it('`shadowpath audit verify`, offline, names the first record cut off the end (exit 1); intact, exit 0', async () => {
    const MAIN = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
    const verify = (d: string) => new Promise<{ code: number; out: R }>((resolve) => {
      execFile(process.execPath, [MAIN, 'audit', 'verify', '--data-dir', d, '--json'], { timeout: 30_000 }, (err, stdout) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: JSON.parse(stdout) as R });
      });
    });
    const d = await history();
    const ls = lines(d);
    expect(await verify(d)).toMatchObject({ code: 0, out: { verified: true, length: ls.length } });
    writeFileSync(logPath(d), ls.slice(0, -1).join('\n') + '\n');
    expect(await verify(d)).toMatchObject({ code: 1, out: { verified: false, first_bad: { index: ls.length - 1, seq: ls.length } } });
  });
});
