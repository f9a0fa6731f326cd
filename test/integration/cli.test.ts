// The `shadowpath` command as a user runs it: real processes, real ports.
import { describe, it, expect, afterEach } from 'vitest';
import { spawn, execFile } from 'node:child_process';
import { createInterface } from 'node:readline';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpDir } from '../helpers/tmp.js';

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

describe('shadowpath CLI', () => {
  it('serve, cmd, heartbeat, loadgen, clean SIGTERM, audit verify', async () => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    const srv = spawn(process.execPath, [MAIN, 'serve', '--data-dir', t.dir, '--tcp-port', '0', '--http-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    cleanups.push(() => srv.kill('SIGKILL'));
    const first = await new Promise<string>((r) => createInterface({ input: srv.stdout! }).once('line', r));
    const info = JSON.parse(first) as { tcp_port: number; http_port: number };
    const port = ['--tcp-port', String(info.tcp_port)];
    const hb = await run(['heartbeat', ...port]);
    expect(hb.code).toBe(0);
    expect(JSON.parse(hb.stdout)).toMatchObject({ status: 'OK', type: 'HEARTBEAT' });
    const reg = await run(['cmd', 'REGISTER_MODEL', 'metadata.version=V1', '--operator', 'Op-01', ...port]);
    expect(reg.code).toBe(0);
    expect(JSON.parse(reg.stdout)).toMatchObject({ status: 'OK', version: 'V1' });
    const lock = await run(['cmd', 'EMERGENCY_LOCKDOWN', 'reason=drill', '--operator', 'Op-01', ...port]);
    expect(lock.code).toBe(0);
    // Two-step without a terminal and without --yes: refused, nothing done.
    const rel = await run(['cmd', 'UNRELEASE_LOCKDOWN', '--operator', 'Op-01', ...port]);
    expect(rel.code).toBe(1);
    expect(rel.stderr).toContain('--yes');
    const rel2 = await run(['cmd', 'UNRELEASE_LOCKDOWN', '--operator', 'Op-01', '--yes', ...port]);
    expect(rel2.code).toBe(0);
    expect(JSON.parse(rel2.stdout)).toMatchObject({ status: 'OK' });
    const lg = await run(['loadgen', '--rate', '500', '--duration', '1', '--json', ...port]);
    expect(lg.code).toBe(0);
    expect(JSON.parse(lg.stdout)).toMatchObject({ sent: 500, answered: 500, ok: 500, unanswered: 0 });
    const bad = await run(['cmd', 'SET_CANARY_RATIO', 'ratio=7', ...port]);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ status: 'ERROR', error: { code: 'E_BAD_COMMAND' } });
    const exit = new Promise<number | null>((r) => srv.once('exit', (c) => r(c)));
    srv.kill('SIGTERM');
    expect(await exit).toBe(0);
    const ok = await run(['audit', 'verify', '--data-dir', t.dir]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/intact: \d+ records/);
    const path = join(t.dir, 'audit', 'audit.log');
    const lines = readFileSync(path, 'utf8').split('\n');
    lines[3] = lines[3].replace('"OK"', '"KO"');
    writeFileSync(path, lines.join('\n'));
    const broken = await run(['audit', 'verify', '--data-dir', t.dir, '--json']);
    expect(broken.code).toBe(1);
    expect(JSON.parse(broken.stdout)).toMatchObject({ verified: false, first_bad: { index: 3, seq: 4 } });
  });

  it('answers errors in one line with a non-zero exit', async () => {
    const r = await run(['heartbeat', '--tcp-port', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('cannot reach shadowpath');
    expect((await run(['nope'])).code).toBe(2);
    expect((await run(['loadgen', '--transport', 'carrier-pigeon'])).stderr).toContain('--transport must be');
    const help = await run(['serve', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--data-dir');
  });
});
