// `shadowpath replay` on a decision the model really made (not a forced
// STOP): an incident raised by an alert (CONTRACT_BREACH) captures the next
// cycle, decided by the production model. Replayed as recorded it MATCHes;
// replayed from a tampered snapshot — the recorded decision changed, or the
// weights changed, each with the report's SHA-256 updated to fit — it prints
// DIFFERENT and exits 1; a snapshot changed behind the report's back is
// refused (E_DATA_CORRUPT, exit 1).
import { describe, it, expect, afterAll, beforeAll } from 'vitest';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpDir } from '../helpers/tmp.js';
import { openSidecar, confirmed } from '../helpers/sidecar.js';
import { waitFor } from '../helpers/wait.js';
import { pack, unpack } from '../../src/transport/codec.js';

const MAIN = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
const OP = 'Op-01';
type R = Record<string, any>;
const t = tmpDir();
afterAll(() => t.cleanup());

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

let reportPath = '';
let report: R;

beforeAll(async () => {
  // Alerts judge rates over 50 outcomes here (500 by default), so a short run raises one.
  const s = await openSidecar(t.dir, { config: { failures: { alerts: { min_samples: 50 } } } });
  try {
    expect(await s.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'P', architecture: 'mlp', hidden: 8 } })).toMatchObject({ status: 'OK' });
    expect(await s.handle({ type: 'SET_CANDIDATE_MODEL', operator_id: OP, version: 'P' })).toMatchObject({ status: 'OK' });
    expect(await confirmed(s, { type: 'PROMOTE_CANDIDATE', operator_id: OP, force: true })).toMatchObject({ status: 'OK' });
    // Every outcome reports a safety violation: CONTRACT_BREACH once 50 are in.
    const last = new Map<string, string>();
    let i = 0;
    report = await waitFor('a CONTRACT_BREACH incident with a snapshot', async () => {
      for (let k = 0; k < 8; k++, i++) {
        const id = `v${i % 4}`;
        const state = { health: 0.7, target_distance: 5 + (i % 30), is_floor_ahead: true };
        const prev = last.get(id);
        const r = (await s.handle(prev ? { agent_id: id, state, intent_taken: prev, result: { outcomes: { is_alive: true }, safety_flags: { violation: true } } } : { agent_id: id, state })) as R;
        expect(r.status).toBe('OK');
        last.set(id, r.intent);
      }
      await s.failures.drain();
      const l = (await s.handle({ type: 'LIST_INCIDENTS', operator_id: OP })) as R;
      return (l.incidents as R[]).find((x) => x.type === 'CONTRACT_BREACH' && x.state_snapshot);
    }, 30_000, 20);
  } finally {
    await s.close();
  }
  reportPath = join(t.dir, 'failures', `incident_${report.incident_id}.json`);
});

/** A copy of the incident whose snapshot `edit` changed, with the report's SHA-256 updated to fit. */
function tampered(name: string, edit: (capture: R) => void): string {
  const snapFile = join(t.dir, 'failures', report.state_snapshot.file);
  const snap = unpack(readFileSync(snapFile)) as R;
  edit(snap.capture);
  const bytes = pack(snap);
  const file = `snapshots/${name}.msgpack`;
  writeFileSync(join(t.dir, 'failures', file), bytes);
  const out = join(t.dir, 'failures', `incident_${name}.json`);
  writeFileSync(out, JSON.stringify({ ...report, state_snapshot: { ...report.state_snapshot, file, sha256: createHash('sha256').update(bytes).digest('hex') } }));
  return out;
}

describe('shadowpath replay of a model decision', () => {
  it('MATCHes as recorded: the production model decided it, and it is recomputed', async () => {
    const r = await run(['replay', reportPath, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as R;
    expect(out).toMatchObject({ type: 'CONTRACT_BREACH', match: true, differences: [] });
    expect(out.recorded).toMatchObject({ policy_source: 'ML', model_version: 'P' });
    expect(out.replayed).toEqual(out.recorded);
    const text = await run(['replay', reportPath]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('MATCH: the replayed decision is the recorded one, bit for bit');
    expect(out.kernel_failure_reinjected).toBeNull();
    expect(text.stdout).not.toContain('re-injected'); // recomputed, so not said to be
  });

  it('a tampered recorded decision: DIFFERENT in intent, exit 1', async () => {
    const recorded = (JSON.parse((await run(['replay', reportPath, '--json'])).stdout) as R).recorded.intent as string;
    const other = recorded === 'HOLD' ? 'EVADE' : 'HOLD';
    const file = tampered('intent', (c) => { c.reply.intent = other; });
    const r = await run(['replay', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/DIFFERENT in .*intent/);
    expect(r.stdout).toMatch(new RegExp(`intent\\s+"${other}"\\s+"${recorded}"\\s+<-- differs`));
  });

  it('tampered production weights: the recomputed decision is DIFFERENT, exit 1', async () => {
    const file = tampered('weights', (c) => {
      const raw = c.production.body as Uint8Array | Float32Array;
      const f = raw instanceof Float32Array ? raw : new Float32Array(Uint8Array.from(raw).buffer);
      // Every word changed but still finite: the scores change, and with
      // them the softmax (the decision's confidence, maybe its intent).
      const g = f.map((w) => -3 * w + 0.25);
      c.production.body = raw instanceof Float32Array ? g : new Uint8Array(g.buffer);
    });
    const r = await run(['replay', file, '--json']);
    expect(r.code, r.stderr).toBe(1);
    const out = JSON.parse(r.stdout) as R;
    expect(out.match).toBe(false);
    expect(out.differences.length).toBeGreaterThan(0);
    const text = await run(['replay', file]);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain('DIFFERENT in');
  });

  it('a snapshot changed behind the report\'s back is refused: E_DATA_CORRUPT, exit 1', async () => {
    const snapFile = join(t.dir, 'failures', report.state_snapshot.file);
    const copy = join(t.dir, 'failures', 'snapshots', 'copy.msgpack');
    copyFileSync(snapFile, copy);
    const bytes = readFileSync(copy);
    bytes[bytes.length >> 1] ^= 0x40;
    writeFileSync(copy, bytes);
    const out = join(t.dir, 'failures', 'incident_corrupt.json');
    writeFileSync(out, JSON.stringify({ ...report, state_snapshot: { ...report.state_snapshot, file: 'snapshots/copy.msgpack' } }));
    const r = await run(['replay', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('E_DATA_CORRUPT');
    expect(r.stdout).not.toContain('MATCH');
  });
});
