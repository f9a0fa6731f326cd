// `shadowpath gate` against a real server process: the verdict as a table,
// the reason and what is missing; JSON; exit status by verdict.
import { describe, it, expect, afterEach } from 'vitest';
import { spawn, execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tmpDir } from '../helpers/tmp.js';
import { TcpClient } from '../../src/transport/client.js';

const MAIN = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
let cleanups: Array<() => void> = [];
afterEach(() => { cleanups.reverse().forEach((c) => c()); cleanups = []; });

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** A free TCP port on loopback. */
async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); }); });
}

describe('shadowpath gate', () => {
  it('prints the verdict criterion by criterion, says what is missing, and exits by verdict', async () => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    const tcp = await freePort(), httpPort = await freePort();
    const srv = spawn(process.execPath, [MAIN, 'serve', '--data-dir', t.dir, '--tcp-port', String(tcp), '--http-port', String(httpPort)], { stdio: 'ignore' });
    cleanups.push(() => srv.kill('SIGKILL'));
    let c: TcpClient | undefined;
    for (let i = 0; i < 200 && !c; i++) {
      try { c = await TcpClient.connect('127.0.0.1', tcp); } catch { await new Promise((r) => setTimeout(r, 50)); }
    }
    expect(c).toBeDefined();
    cleanups.push(() => c!.close());
    const port = ['--tcp-port', String(tcp)];
    const none = await run(['gate', ...port]);
    expect(none.code).toBe(2);
    expect(none.stdout).toMatch(/no candidate is set/);
    expect(await c!.request({ type: 'REGISTER_MODEL', operator_id: 'Op-01', metadata: { version: 'V1' } })).toMatchObject({ status: 'OK' });
    expect(await c!.request({ type: 'SET_CANDIDATE_MODEL', operator_id: 'Op-01', version: 'V1' })).toMatchObject({ status: 'OK' });
    const refused = await run(['gate', ...port]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/criterion\s+evidence\s+estimate\s+bound\s+margin\s+samples\s+verdict/);
    for (const name of ['shadow_cycles', 'survival', 'violation_rate', 'reward', 'reward_off_policy']) expect(refused.stdout).toContain(name);
    expect(refused.stdout).toMatch(/REFUSED: shadow_sample_size 0 < min_shadow_cycles 1000/);
    expect(refused.stdout).toMatch(/missing: 1000 more shadow cycles/);
    const json = await run(['gate', '--json', ...port]);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ candidate: 'V1', gate: { pass: false, criteria: expect.any(Array) }, watch: null });
    // Asking changed nothing: no token was issued, the state is as it was.
    expect(await c!.request({ type: 'HEARTBEAT' })).toMatchObject({ candidate_model: 'V1', canary_ratio: 0 });
  });
});
