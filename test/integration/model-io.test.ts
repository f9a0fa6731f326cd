// Models that travel: GET_MODEL's layout, EXPORT_MODEL → REGISTER_MODEL in
// another data directory (bit-identical decisions), refusal of another
// layout, and the CLI's `model export` / `model register`.
import { describe, it, expect } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sidecarScope, confirmed, drive } from '../helpers/sidecar.js';
import { DEFAULT_SCHEMA } from '../../src/engine/state-schema.js';
import { DEFAULT_INTENTS } from '../../src/engine/intents.js';
import type { Sidecar } from '../../src/sidecar.js';

const { open, dir, defer } = sidecarScope();
const OP = 'Op-01';
type R = Record<string, any>;


/** The same cycles, with outcomes, for two sidecars. */
async function sequence(s: Sidecar): Promise<R[]> {
  const out: R[] = [];
  const last = new Map<string, string>();
  for (let i = 0; i < 300; i++) {
    const id = `bot-${i % 5}`;
    const state = { health: ((i * 7) % 10) / 10, energy: ((i * 3) % 10) / 10, target_distance: (i * 13) % 90, target_yaw: (i * 37) % 360 - 180, is_floor_ahead: i % 11 !== 0, attack_cooldown: i % 3 === 0 ? 0 : 0.5 };
    const prev = last.get(id);
    const r = (await s.handle(prev ? { agent_id: id, state, intent_taken: prev, result: { outcomes: { is_alive: true, damage_dealt: i % 4 === 0 ? 1 : 0 } } } : { agent_id: id, state })) as R;
    expect(r.status).toBe('OK');
    last.set(id, r.intent);
    const { latency_us: _l, ...rest } = r;
    out.push(rest);
  }
  return out;
}

describe('models that travel', () => {
  it('GET_MODEL reports the input layout: shape, feature order, intents, running scales', async () => {
    const s = await open(dir());
    expect(await s.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'M', architecture: 'mlp', hidden: 8, activation: 'tanh' } })).toMatchObject({ status: 'OK' });
    const r = (await s.handle({ type: 'GET_MODEL', operator_id: OP, version: 'M' })) as R;
    const features = DEFAULT_SCHEMA.filter((f) => f.role !== 'timestamp').map((f) => f.name);
    expect(r.model.layout).toMatchObject({ architecture: 'mlp', d: 12, k: 7, hidden: 8, activation: 'tanh', features, intents: [...DEFAULT_INTENTS], scales_revision: 0 });
    expect(r.model.layout.scales).toHaveLength(12);
    expect(r.model.layout.feature_specs[2]).toEqual({ name: 'target_distance', type: 'f', min: 0, max: 1000, scale: 1 / 1000 });
    expect(r.model.layout.feature_specs[6]).toEqual({ name: 'is_colliding', type: 'b', min: 0, max: 1, scale: 1 });
    expect(await s.handle({ type: 'GET_MODEL', operator_id: OP, version: 'M', revision: 4 })).toMatchObject({ status: 'REJECTED', error: { code: 'E_UNKNOWN_MODEL' } });
  });

  it('export from one data directory, register in another: same weights (SHA-256), bit-identical decisions', async () => {
    const dirA = dir(), dirB = dir();
    // A: a model that has learned something, promoted.
    let a = await open(dirA);
    expect(await a.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'M-Travel', architecture: 'mlp', hidden: 8, note: 'kept' } })).toMatchObject({ status: 'OK' });
    expect(await a.handle({ type: 'SET_CANDIDATE_MODEL', operator_id: OP, version: 'M-Travel' })).toMatchObject({ status: 'OK' });
    await drive(a, 400);
    expect(await confirmed(a, { type: 'PROMOTE_CANDIDATE', operator_id: OP, force: true })).toMatchObject({ status: 'OK', revision: 1 });
    await a.close();
    // A again (a fresh process's cycle ids), exporting revision 1 through a JSON file's round trip.
    a = await open(dirA);
    const exp = (await a.handle({ type: 'EXPORT_MODEL', operator_id: OP, version: 'M-Travel' })) as R;
    expect(exp).toMatchObject({ status: 'OK', metadata: { version: 'M-Travel', architecture: 'mlp', hidden: 8, note: 'kept', exported_from: { revision: 1 } } });
    const sha1 = (a.registry.revisionInfo({ version: 'M-Travel', revision: 1 }))!.weights_sha256;
    expect(exp.metadata.exported_from.weights_sha256).toBe(sha1);
    expect(exp.weights.scales.some((x: number) => x > 0)).toBe(true); // it learned its feature scales
    const file = JSON.parse(JSON.stringify({ metadata: exp.metadata, weights: exp.weights }));
    // B: registered from the file, promoted as it is.
    const b = await open(dirB);
    const reg = (await b.handle({ type: 'REGISTER_MODEL', operator_id: OP, ...file })) as R;
    expect(reg).toMatchObject({ status: 'OK', version: 'M-Travel', revision: 0 });
    expect(reg.weights_sha256).toBe(sha1);
    expect(await b.handle({ type: 'SET_CANDIDATE_MODEL', operator_id: OP, version: 'M-Travel' })).toMatchObject({ status: 'OK' });
    expect(await confirmed(b, { type: 'PROMOTE_CANDIDATE', operator_id: OP, force: true })).toMatchObject({ status: 'OK', weights_sha256: sha1 });
    const ra = await sequence(a), rb = await sequence(b);
    expect(ra.filter((r) => r.policy_source === 'ML').length).toBeGreaterThan(200);
    expect(rb).toEqual(ra);
    // A named revision, and an unknown one.
    expect(await a.handle({ type: 'EXPORT_MODEL', operator_id: OP, version: 'M-Travel', revision: 0 })).toMatchObject({ status: 'OK', metadata: { exported_from: { revision: 0 } } });
    expect(await a.handle({ type: 'EXPORT_MODEL', operator_id: OP, version: 'M-Travel', revision: 9 })).toMatchObject({ status: 'REJECTED', error: { code: 'E_UNKNOWN_MODEL' } });
  });

  it('refuses a model made for another layout, naming the difference (E_MODEL_LAYOUT)', async () => {
    const a = await open(dir());
    expect(await a.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'L1' } })).toMatchObject({ status: 'OK' });
    const exp = (await a.handle({ type: 'EXPORT_MODEL', operator_id: OP, version: 'L1' })) as R;
    const reg = (s: Sidecar) => s.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: exp.metadata, weights: exp.weights }) as Promise<R>;
    const swapped = [DEFAULT_SCHEMA[1], DEFAULT_SCHEMA[0], ...DEFAULT_SCHEMA.slice(2)];
    const r1 = await reg(await open(dir(), { engine: { schema: swapped } }));
    expect(r1).toMatchObject({ status: 'REJECTED', error: { code: 'E_MODEL_LAYOUT' }, details: { mismatch: { field: 'features', index: 0 } } });
    expect(r1.error.message).toContain('"health"');
    const rescaled = DEFAULT_SCHEMA.map((f) => (f.name === 'target_distance' ? { ...f, max: 100 } : f));
    const r2 = await reg(await open(dir(), { engine: { schema: rescaled } }));
    expect(r2).toMatchObject({ status: 'REJECTED', error: { code: 'E_MODEL_LAYOUT' }, details: { mismatch: { field: 'feature', name: 'target_distance' } } });
    const intents = ['EVADE', 'PRIMARY_ATTACK', 'MOVE', 'HOLD', 'RELEASE', 'STOP', 'JUMP'];
    const r3 = await reg(await open(dir(), { engine: { intents } }));
    expect(r3).toMatchObject({ status: 'REJECTED', error: { code: 'E_MODEL_LAYOUT' }, details: { mismatch: { field: 'intents' } } });
    // The positive control: the same file into a sidecar with the same layout.
    expect(await reg(await open(dir()))).toMatchObject({ status: 'OK', version: 'L1' });
    // A hand-written layout by names only is checked by name.
    const named = { ...exp.metadata, version: 'L2', layout: { features: exp.metadata.layout.features.map((f: R) => f.name).reverse(), intents: [...DEFAULT_INTENTS] } };
    expect(await a.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: named, weights: exp.weights })).toMatchObject({ status: 'REJECTED', error: { code: 'E_MODEL_LAYOUT' } });
  });
});

describe('shadowpath model export / register', () => {
  it('writes a model to a file and registers it back under another version, with the same weights', async () => {
    const d = dir();
    const MAIN = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
    const srv = spawn(process.execPath, [MAIN, 'serve', '--data-dir', join(d, 'data'), '--tcp-port', '0', '--http-port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    defer(() => { srv.kill('SIGKILL'); });
    const info = JSON.parse(await new Promise<string>((r) => createInterface({ input: srv.stdout! }).once('line', r))) as { tcp_port: number };
    const run = (args: string[]) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [MAIN, ...args, '--tcp-port', String(info.tcp_port)], { timeout: 30_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
    });
    const reg = await run(['cmd', 'REGISTER_MODEL', 'metadata.version=V1', 'metadata.architecture=mlp', 'metadata.hidden=4']);
    expect(reg.code, reg.stderr).toBe(0);
    const exp = await run(['model', 'export', 'V1']);
    expect(exp.code, exp.stderr).toBe(0);
    const file = join(d, 'm.json');
    writeFileSync(file, exp.stdout);
    expect(JSON.parse(exp.stdout)).toMatchObject({ metadata: { version: 'V1', architecture: 'mlp', hidden: 4 }, weights: { w1: expect.any(Array), w2: expect.any(Array) } });
    const back = await run(['model', 'register', file, '--version', 'V2']);
    expect(back.code, back.stderr).toBe(0);
    expect(JSON.parse(back.stdout)).toMatchObject({ status: 'OK', version: 'V2', weights_sha256: JSON.parse(reg.stdout).weights_sha256 });
    const dup = await run(['model', 'register', file]);
    expect(dup.code).toBe(1);
    expect(JSON.parse(dup.stderr)).toMatchObject({ status: 'REJECTED', error: { code: 'E_DUPLICATE_VERSION' } });
  }, 60_000);
});
