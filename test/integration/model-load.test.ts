// A transition that names a model reads and checks its file first: a damaged
// file or a model made for another layout is a refusal with nothing changed
// (HEARTBEAT, the state file after a restart and the cycles' model_version
// agree). A system transition whose load fails is reported (MODEL_LOAD_FAILURE,
// SAFE_MODE, an incident) and does not serve a model the state does not name.
// A restart under a changed schema does not load models of the old layout.
import { describe, it, expect } from 'vitest';
import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, execFile } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { sidecarScope, confirmed, drive } from '../helpers/sidecar.js';
import { DEFAULT_SCHEMA } from '../../src/engine/state-schema.js';
import { loadState } from '../../src/store/control-state.js';
import { Registry } from '../../src/store/registry.js';
import { initBody } from '../../src/kernel/model.js';
import { ARCH_LINEAR, ACT_RELU, type ModelShape } from '../../src/kernel/layout.js';
import type { Sidecar } from '../../src/sidecar.js';

const { open, dir, defer } = sidecarScope();
const OP = 'Op-01';
type R = Record<string, any>;
const NO_WATCH = { control: { watch: { cycles: 0 } } };

const cmd = (s: Sidecar, c: R) => s.handle({ operator_id: OP, ...c }) as Promise<R>;
/** Flips bytes in the middle of a model file: it no longer decodes, or its SHA-256 no longer matches. */
function damage(d: string, file: string): void {
  const p = join(d, 'models', file);
  const b = readFileSync(p);
  for (let i = b.length >> 1; i < (b.length >> 1) + 16; i++) b[i] ^= 0xff;
  writeFileSync(p, b);
}
async function servedBy(s: Sidecar): Promise<Set<string | null>> {
  return new Set((await drive(s, 16)).map((r) => r.model_version));
}
async function promote(s: Sidecar, version: string): Promise<void> {
  expect(await cmd(s, { type: 'REGISTER_MODEL', metadata: { version } })).toMatchObject({ status: 'OK' });
  expect(await cmd(s, { type: 'SET_CANDIDATE_MODEL', version })).toMatchObject({ status: 'OK' });
  expect(await confirmed(s, { type: 'PROMOTE_CANDIDATE', operator_id: OP, force: true })).toMatchObject({ status: 'OK', active_model: version });
}

describe('a transition reads its model files before it commits', () => {
  it('a damaged rollback target: ROLLBACK_MODEL refused (at the request and at the confirmation), nothing changed, before and after a restart', async () => {
    const d = dir();
    let s = await open(d, NO_WATCH);
    await promote(s, 'P');
    await promote(s, 'C');
    expect(s.control.state.rollback_stack).toEqual([{ version: 'P', revision: 1 }]);
    // A token taken while the file was sound, confirmed after it was damaged.
    const first = await cmd(s, { type: 'ROLLBACK_MODEL' });
    expect(first.status).toBe('REQUIRED_CONFIRMATION');
    damage(d, 'P.r1.model');
    const before = s.control.state;
    const conf = await cmd(s, { type: 'ROLLBACK_MODEL', confirmation_token: first.confirmation_token });
    expect(conf).toMatchObject({ status: 'ERROR', error: { code: 'E_MODEL_FILE' } });
    expect(conf.error.message).toContain('P revision 1');
    // A new request is refused at once.
    expect(await cmd(s, { type: 'ROLLBACK_MODEL' })).toMatchObject({ status: 'ERROR', error: { code: 'E_MODEL_FILE' } });
    expect(s.control.state).toBe(before);
    const hb = await cmd(s, { type: 'HEARTBEAT' });
    expect(hb).toMatchObject({ status: 'OK', active_model: 'C', active_revision: 1, failure_status: { mode: 'NORMAL' } });
    expect(hb.model_registry.find((m: R) => m.version === 'P').status).toBe('ROLLBACK_TARGET');
    expect(await servedBy(s)).toEqual(new Set(['C']));
    const statePath = s.paths.state;
    await s.close();
    const st = await loadState(statePath);
    expect(st).toMatchObject({ active: { version: 'C', revision: 1 }, rollback_stack: [{ version: 'P', revision: 1 }] });
    s = await open(d, NO_WATCH);
    expect(await cmd(s, { type: 'HEARTBEAT' })).toMatchObject({ status: 'OK', active_model: 'C', active_revision: 1 });
    expect(await servedBy(s)).toEqual(new Set(['C']));
  });

  it('a damaged file: SET_CANDIDATE_MODEL and PROMOTE_CANDIDATE (whose watch holds the previous production back) refused, nothing changed', async () => {
    const d = dir();
    const s = await open(d, { control: { watch: { cycles: 100_000, holdback_ratio: 0.2 } } });
    expect(await cmd(s, { type: 'REGISTER_MODEL', metadata: { version: 'X' } })).toMatchObject({ status: 'OK' });
    damage(d, 'X.r0.model');
    expect(await cmd(s, { type: 'SET_CANDIDATE_MODEL', version: 'X' })).toMatchObject({ status: 'ERROR', error: { code: 'E_MODEL_FILE' } });
    expect(s.control.state.candidate).toBeNull();
    expect((await cmd(s, { type: 'HEARTBEAT' })).candidate_model).toBeNull();
    // The positive control: a sound model is accepted, promoted (no production yet: no holdback to read).
    await promote(s, 'A');
    expect(await cmd(s, { type: 'END_WATCH' })).toMatchObject({ status: 'OK' });
    expect(await cmd(s, { type: 'REGISTER_MODEL', metadata: { version: 'B' } })).toMatchObject({ status: 'OK' });
    expect(await cmd(s, { type: 'SET_CANDIDATE_MODEL', version: 'B' })).toMatchObject({ status: 'OK' });
    const first = await cmd(s, { type: 'PROMOTE_CANDIDATE', force: true });
    expect(first.status).toBe('REQUIRED_CONFIRMATION');
    damage(d, 'A.r1.model'); // the production the watch would hold back
    const before = s.control.state;
    expect(await cmd(s, { type: 'PROMOTE_CANDIDATE', force: true, confirmation_token: first.confirmation_token })).toMatchObject({ status: 'ERROR', error: { code: 'E_MODEL_FILE' } });
    expect(s.control.state).toBe(before);
    expect(s.registry.latestRevision('B')).toBe(0); // no frozen revision written either
    expect(await cmd(s, { type: 'HEARTBEAT' })).toMatchObject({ active_model: 'A', candidate_model: 'B', watch: null });
    expect(await servedBy(s)).toEqual(new Set(['A']));
  });

  it('a system transition during the read is decided on, never overwritten: a failure mode is kept, a lockdown refuses the command', async () => {
    const s = await open(dir(), NO_WATCH);
    for (const v of ['X', 'Y']) expect(await cmd(s, { type: 'REGISTER_MODEL', metadata: { version: v } })).toMatchObject({ status: 'OK' });
    const read = s.registry.read.bind(s.registry);
    let during: (() => void) | null = () => { s.control.system({ type: 'FAILURE', failure: { type: 'CONTRACT_BREACH', detail: 'test', incident_id: null }, mode: 'SAFE_MODE', lockdown: false, cancel_canary: false }); };
    s.registry.read = async (ref) => { const f = during; during = null; f?.(); return read(ref); };
    expect(await cmd(s, { type: 'SET_CANDIDATE_MODEL', version: 'X' })).toMatchObject({ status: 'OK' });
    expect(s.control.state).toMatchObject({ candidate: { version: 'X' }, failure: { mode: 'SAFE_MODE' } });
    during = () => { s.control.system({ type: 'EMERGENCY_LOCKDOWN', reason: 'test: during the read' }); };
    expect(await cmd(s, { type: 'SET_CANDIDATE_MODEL', version: 'Y' })).toMatchObject({ status: 'REJECTED', error: { code: 'E_LOCKDOWN' } });
    expect(s.control.state).toMatchObject({ candidate: { version: 'X' }, lockdown: { active: true } });
    expect((await cmd(s, { type: 'HEARTBEAT' })).failure_status.mode).toBe('LOCKDOWN');
  });

  it('an automatic rollback to a damaged file: MODEL_LOAD_FAILURE (SAFE_MODE, an incident), and the production it left is not served', async () => {
    const d = dir();
    const s = await open(d, { control: { watch: { cycles: 100_000, holdback_ratio: 0.2 } } });
    await promote(s, 'P');
    expect(await cmd(s, { type: 'END_WATCH' })).toMatchObject({ status: 'OK' });
    await promote(s, 'C');
    expect(s.control.state.watch).toMatchObject({ previous: { version: 'P', revision: 1 } });
    damage(d, 'P.r1.model');
    expect(s.control.system({ type: 'AUTO_ROLLBACK', detail: 'test: the new production is worse', incident_id: null })).not.toBeNull();
    await s.control.settled();
    await s.failures.drain();
    const hb = await cmd(s, { type: 'HEARTBEAT' });
    expect(hb).toMatchObject({ active_model: 'P', failure_status: { mode: 'SAFE_MODE', last_failure: { type: 'MODEL_LOAD_FAILURE' } } });
    expect(hb.failure_status.last_failure.detail).toContain('production P revision 1');
    const inc = s.failures.written.find((i) => i.type === 'MODEL_LOAD_FAILURE');
    expect(inc).toBeDefined();
    expect(hb.failure_status.last_failure.incident_id).toBe(inc!.incident_id);
    expect(readdirSync(join(d, 'failures'))).toContain(`incident_${inc!.incident_id}.json`);
    const rs = await drive(s, 16);
    expect(rs.every((r) => r.policy_source === 'RULES' && r.model_version === null)).toBe(true);
    // After the operator's reset, C (which the state no longer names) is still not served.
    expect(await confirmed(s, { type: 'RESET_FAILURE_STATUS', operator_id: OP })).toMatchObject({ status: 'OK' });
    expect((await servedBy(s)).has('C')).toBe(false);
  });
});

describe('a model is checked against the running layout wherever it is loaded', () => {
  const swapped = [DEFAULT_SCHEMA[1], DEFAULT_SCHEMA[0], ...DEFAULT_SCHEMA.slice(2)];

  it('restart under a swapped schema: the old production and candidate are not loaded (startup problems, rules serve); SET_CANDIDATE, PROMOTE and ROLLBACK of the old layout are E_MODEL_LAYOUT', async () => {
    const d = dir();
    let s = await open(d, NO_WATCH);
    await promote(s, 'A');
    expect(await cmd(s, { type: 'REGISTER_MODEL', metadata: { version: 'V1' } })).toMatchObject({ status: 'OK' });
    expect(await cmd(s, { type: 'SET_CANDIDATE_MODEL', version: 'V1' })).toMatchObject({ status: 'OK' });
    expect(await servedBy(s)).toEqual(new Set(['A']));
    await s.close();

    s = await open(d, { ...NO_WATCH, engine: { schema: swapped } });
    const hb = await cmd(s, { type: 'HEARTBEAT' });
    const problems: string[] = hb.monitoring.startup_problems;
    expect(problems.some((p) => p.startsWith('production A revision 1 not loaded: E_MODEL_LAYOUT'))).toBe(true);
    expect(problems.some((p) => p.startsWith('candidate V1 revision 0 not loaded: E_MODEL_LAYOUT'))).toBe(true);
    const rs = await drive(s, 16);
    expect(rs.every((r) => r.model_version === null && r.shadow === undefined)).toBe(true);
    // GET_MODEL shows the layout V1 was stored with, not the running one.
    const gm = await cmd(s, { type: 'GET_MODEL', version: 'V1' });
    expect(gm.model.layout).toMatchObject({ layout_source: 'registered' });
    expect(gm.model.layout.features.slice(0, 2)).toEqual(['health', 'energy']);
    const layoutRefused = { status: 'REJECTED', error: { code: 'E_MODEL_LAYOUT' }, details: { mismatch: { field: 'features', index: 0 } } };
    const sc = await cmd(s, { type: 'SET_CANDIDATE_MODEL', version: 'V1' });
    expect(sc).toMatchObject(layoutRefused);
    expect(sc.error.message).toContain('V1');
    expect(await cmd(s, { type: 'PROMOTE_CANDIDATE', force: true })).toMatchObject(layoutRefused);
    expect(s.control.state.active).toEqual({ version: 'A', revision: 1 });
    // A model registered under the running schema is accepted and promoted; rolling back to A is refused.
    await promote(s, 'B');
    expect(await servedBy(s)).toEqual(new Set(['B']));
    expect(await cmd(s, { type: 'ROLLBACK_MODEL' })).toMatchObject(layoutRefused);
    expect(s.control.state).toMatchObject({ active: { version: 'B', revision: 1 }, rollback_stack: [{ version: 'A', revision: 1 }] });
    // REGISTER_MODEL init.from a model of the old layout.
    expect(await cmd(s, { type: 'REGISTER_MODEL', metadata: { version: 'V1-copy' }, init: { from: 'V1' } })).toMatchObject(layoutRefused);
    await s.close();

    // Back under the original schema, A is a rollback target again, and it loads.
    s = await open(d, NO_WATCH);
    expect((await cmd(s, { type: 'HEARTBEAT' })).monitoring.startup_problems.some((p: string) => p.startsWith('production B revision 1 not loaded: E_MODEL_LAYOUT'))).toBe(true);
    expect(await confirmed(s, { type: 'ROLLBACK_MODEL', operator_id: OP })).toMatchObject({ status: 'OK' });
    expect(await servedBy(s)).toEqual(new Set(['A']));
  }, 60_000);

  it('a model stored without a layout (an older shadowpath): accepted, GET_MODEL and EXPORT_MODEL say its layout is unknown', async () => {
    const d = dir();
    const reg = await Registry.open(join(d, 'models'));
    const shape: ModelShape = { arch: ARCH_LINEAR, d: 12, k: 7, h: 0, activation: ACT_RELU };
    await reg.write({ version: 'Old', architecture: 'linear', created_at: new Date().toISOString() }, 0, { shape, seed: 1, updates: 0, body: initBody(shape, 'zeros', 1) }, 'registered', new Date().toISOString());
    const s = await open(d, NO_WATCH);
    const gm = await cmd(s, { type: 'GET_MODEL', version: 'Old' });
    expect(gm.model.layout).toMatchObject({ layout_source: 'unknown', features: null, d: 12, k: 7 });
    expect(gm.model.layout.warning).toContain('without its input layout');
    const exp = await cmd(s, { type: 'EXPORT_MODEL', version: 'Old' });
    expect(exp).toMatchObject({ status: 'OK', metadata: { version: 'Old' } });
    expect(exp.metadata.layout).toBeUndefined();
    expect(exp.warning).toContain('without its input layout');
    expect(await cmd(s, { type: 'SET_CANDIDATE_MODEL', version: 'Old' })).toMatchObject({ status: 'OK' });
    // A model registered now stores the running layout, with or without weights.
    expect(await cmd(s, { type: 'REGISTER_MODEL', metadata: { version: 'New' } })).toMatchObject({ status: 'OK' });
    expect((s.registry.get('New')!.metadata.layout as R).features[0].name).toBe('health');
  });
});

describe('shadowpath serve restarted under a swapped schema (real processes)', () => {
  const MAIN = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
  async function serve(d: string, cfg: string) {
    const srv = spawn(process.execPath, [MAIN, 'serve', '--data-dir', d, '--tcp-port', '0', '--http-port', '0', '--config', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    defer(() => { srv.kill('SIGKILL'); });
    const info = JSON.parse(await new Promise<string>((r) => createInterface({ input: srv.stdout! }).once('line', r))) as { tcp_port: number };
    const run = (args: string[]) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [MAIN, ...args, ...(args[0] === 'cmd' ? ['--operator', OP] : []), '--tcp-port', String(info.tcp_port)], { timeout: 30_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
    });
    const stop = () => new Promise<void>((r) => { srv.once('exit', () => r()); srv.kill('SIGTERM'); });
    return { run, stop };
  }

  it('SET_CANDIDATE_MODEL of a model registered under the old schema is E_MODEL_LAYOUT, nothing changed', async () => {
    const root = dir(), d = join(root, 'data');
    const plain = join(root, 'plain.json'), swapped = join(root, 'swapped.json');
    writeFileSync(plain, JSON.stringify({ engine: { batch_timeout_ms: 2000 } }));
    writeFileSync(swapped, JSON.stringify({ engine: { batch_timeout_ms: 2000, schema: [DEFAULT_SCHEMA[1], DEFAULT_SCHEMA[0], ...DEFAULT_SCHEMA.slice(2)] } }));
    let srv = await serve(d, plain);
    const reg = await srv.run(['cmd', 'REGISTER_MODEL', 'metadata.version=V1']);
    expect(reg.code, reg.stderr).toBe(0);
    await srv.stop();
    srv = await serve(d, swapped);
    const sc = await srv.run(['cmd', 'SET_CANDIDATE_MODEL', 'version=V1']);
    expect(sc.code).toBe(1);
    expect(JSON.parse(sc.stdout)).toMatchObject({ status: 'REJECTED', error: { code: 'E_MODEL_LAYOUT' }, details: { mismatch: { field: 'features', index: 0 } } });
    const hb = await srv.run(['heartbeat']);
    expect(hb.code, hb.stderr).toBe(0);
    expect(JSON.parse(hb.stdout)).toMatchObject({ status: 'OK', candidate_model: null });
    // The positive control: the same command under the schema V1 was registered with.
    await srv.stop();
    srv = await serve(d, plain);
    expect((await srv.run(['cmd', 'SET_CANDIDATE_MODEL', 'version=V1'])).code).toBe(0);
    await srv.stop();
  }, 90_000);
});
