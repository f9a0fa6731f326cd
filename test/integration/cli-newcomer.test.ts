// The CLI as a newcomer meets it (issue 12): real processes, real ports.
// --http-port reaches the server over HTTP; the two-person rule works from
// the CLI; `operators add` writes a file the server accepts; offline commands
// on a missing data directory fail with a code; `quarantine show` explains
// its FILE:LINE ids.
import { describe, it, expect, afterEach } from 'vitest';
import { spawn, execFile } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpDir } from '../helpers/tmp.js';

const MAIN = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
let cleanups: Array<() => void> = [];
afterEach(() => { cleanups.reverse().forEach((c) => c()); cleanups = []; });

async function serveChild(dir: string, extra: string[] = []) {
  const srv = spawn(process.execPath, [MAIN, 'serve', '--data-dir', dir, '--tcp-port', '0', '--http-port', '0', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  cleanups.push(() => srv.kill('SIGKILL'));
  const info = JSON.parse(await new Promise<string>((r) => createInterface({ input: srv.stdout! }).once('line', r))) as { tcp_port: number; http_port: number };
  return { srv, info };
}

function run(args: string[], o: { input?: string; cwd?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = execFile(process.execPath, [MAIN, ...args], { timeout: 30_000, cwd: o.cwd }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
    p.stdin!.end(o.input ?? '');
  });
}

describe('client commands over HTTP (--http-port)', () => {
  it('cmd, heartbeat and health speak HTTP to --http-port; both ports at once is an error', async () => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    const { info } = await serveChild(t.dir);
    const http = ['--http-port', String(info.http_port)];
    // A version only this server has: the replies below come from it, not from whatever listens on 5001.
    const version = `M-Http-${process.pid}`;
    const reg = await run(['cmd', 'REGISTER_MODEL', `metadata.version=${version}`, '--operator', 'Op-01', ...http]);
    expect(reg.code, reg.stderr).toBe(0);
    expect(JSON.parse(reg.stdout)).toMatchObject({ status: 'OK', version });
    const hb = await run(['heartbeat', ...http]);
    expect(hb.code, hb.stderr).toBe(0);
    expect(JSON.parse(hb.stdout).model_registry.map((m: { version: string }) => m.version)).toEqual([version]);
    const health = await run(['health', '--expect-model', version, ...http]);
    expect(health.code).toBe(1); // registered, not active
    expect(health.stdout).toMatch(/FAIL\s+Active model matches expectations\s+none \(the rules policy decides\); expected M-Http-/);
    const refused = await run(['cmd', 'SET_CANARY_RATIO', 'ratio=7', ...http]);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout)).toMatchObject({ status: 'ERROR', error: { code: 'E_BAD_COMMAND' } });
    const both = await run(['heartbeat', '--tcp-port', String(info.tcp_port), ...http]);
    expect(both.code).toBe(1);
    expect(both.stderr).toContain('E_CONFIG: give --tcp-port or --http-port, not both');
    const nobody = await run(['heartbeat', '--http-port', '1']);
    expect(nobody.code).toBe(1);
    expect(nobody.stderr).toMatch(/cannot reach shadowpath at 127\.0\.0\.1:1 over HTTP/);
  });
});

describe('two-person confirmation from the CLI', () => {
  it('--no-confirm prints the token and the exact command; the second operator runs it; --yes hands over instead of burning the token', async () => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    const cfg = join(t.dir, 'config.json');
    writeFileSync(cfg, JSON.stringify({ control: { two_person_rule: true } }));
    const { info } = await serveChild(join(t.dir, 'data'), ['--config', cfg]);
    const port = ['--tcp-port', String(info.tcp_port)];
    const heartbeat = async () => JSON.parse((await run(['heartbeat', ...port])).stdout);
    expect((await run(['cmd', 'EMERGENCY_LOCKDOWN', 'reason=drill', '--operator', 'Op-01', ...port])).code).toBe(0);

    const ask = await run(['cmd', 'UNRELEASE_LOCKDOWN', '--operator', 'Op-01', '--no-confirm', ...port]);
    expect(ask.code, ask.stderr).toBe(0);
    const reply = JSON.parse(ask.stdout);
    expect(reply).toMatchObject({ status: 'REQUIRED_CONFIRMATION', confirmation_token: expect.any(String), two_person_rule: expect.any(String) });
    const printed = /^\s+shadowpath (cmd UNRELEASE_LOCKDOWN --token \S+ --operator SECOND_OPERATOR --tcp-port \d+)$/m.exec(ask.stderr);
    expect(printed, ask.stderr).not.toBeNull();
    expect(printed![1]).toContain(`--token ${reply.confirmation_token}`);
    expect((await heartbeat()).lockdown.active).toBe(true);
    // The same operator cannot confirm (and the CLI says why).
    const same = await run(printed![1].replace('SECOND_OPERATOR', 'Op-01').split(' '));
    expect(same.code).toBe(1);
    expect(JSON.parse(same.stdout)).toMatchObject({ status: 'REJECTED', error: { code: 'E_TOKEN_SAME_OPERATOR' } });

    // --yes under the two-person rule: the token is handed over, not used as Op-01; exit 1, nothing done yet.
    const yes = await run(['cmd', 'UNRELEASE_LOCKDOWN', '--operator', 'Op-01', '--yes', ...port]);
    expect(yes.code).toBe(1);
    expect(yes.stderr).toContain('two-person rule: another operator than Op-01 confirms it');
    const handed = /^\s+shadowpath (cmd UNRELEASE_LOCKDOWN --token \S+ --operator SECOND_OPERATOR --tcp-port \d+)$/m.exec(yes.stderr);
    expect(handed).not.toBeNull();
    expect((await heartbeat()).lockdown.active).toBe(true);
    const second = await run(handed![1].replace('SECOND_OPERATOR', 'Op-02').split(' '));
    expect(second.code, second.stdout + second.stderr).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ status: 'OK', type: 'UNRELEASE_LOCKDOWN' });
    expect((await heartbeat()).lockdown.active).toBe(false);
  });

  it('without the two-person rule, --no-confirm prints a command for the same operator, and --token confirms it', async () => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    const { info } = await serveChild(t.dir);
    const port = ['--tcp-port', String(info.tcp_port)];
    await run(['cmd', 'EMERGENCY_LOCKDOWN', '--operator', 'Op-01', ...port]);
    const ask = await run(['cmd', 'UNRELEASE_LOCKDOWN', '--operator', 'Op-01', '--no-confirm', ...port]);
    expect(ask.code).toBe(0);
    const printed = /^\s+shadowpath (cmd UNRELEASE_LOCKDOWN --token \S+ --operator Op-01 --tcp-port \d+)$/m.exec(ask.stderr);
    expect(printed, ask.stderr).not.toBeNull();
    const done = await run(printed![1].split(' '));
    expect(done.code, done.stdout).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ status: 'OK' });
    expect((await run(['cmd', 'UNRELEASE_LOCKDOWN', '--yes', '--no-confirm', ...port])).stderr).toContain('give one of --yes, --no-confirm and --token');
  });
});

describe('shadowpath operators add', () => {
  it('reads the secret from stdin, writes its hex SHA-256, and the server authenticates with it', async () => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    const file = join(t.dir, 'operators.json');
    const add = await run(['operators', 'add', 'Op-01', '--role', 'admin', '--file', file], { input: 'correct horse battery\n' });
    expect(add.code, add.stderr).toBe(0);
    expect(await run(['operators', 'add', 'Viewer-1', '--role', 'viewer', '--file', file], { input: 'just looking around' })).toMatchObject({ code: 0 });
    const specs = JSON.parse(readFileSync(file, 'utf8'));
    expect(specs).toEqual([
      { id: 'Op-01', role: 'admin', secret_sha256: createHash('sha256').update('correct horse battery').digest('hex') },
      { id: 'Viewer-1', role: 'viewer', secret_sha256: createHash('sha256').update('just looking around').digest('hex') },
    ]);
    expect(readFileSync(file, 'utf8')).not.toContain('correct horse');
    // Refusals: a duplicate, a short secret, a bad role; the file is unchanged.
    const dup = await run(['operators', 'add', 'Op-01', '--role', 'admin', '--file', file], { input: 'another secret' });
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain('E_CONFIG');
    expect(dup.stderr).toContain('--replace');
    expect((await run(['operators', 'add', 'Op-02', '--role', 'admin', '--file', file], { input: 'short' })).stderr).toContain('at least 8 characters');
    expect((await run(['operators', 'add', 'Op-02', '--role', 'root', '--file', file], { input: 'long enough secret' })).stderr).toContain('--role must be viewer, operator or admin');
    expect(JSON.parse(readFileSync(file, 'utf8'))).toHaveLength(2);
    const ls = await run(['operators', 'ls', '--file', file]);
    expect(ls.stdout).toMatch(/2 operator\(s\)[\s\S]*Op-01\s+admin[\s\S]*Viewer-1\s+viewer/);

    const { info } = await serveChild(join(t.dir, 'data'), ['--operators', file]);
    const port = ['--tcp-port', String(info.tcp_port)];
    const ok = await run(['cmd', 'REGISTER_MODEL', 'metadata.version=V1', '--operator', 'Op-01', '--auth', 'correct horse battery', ...port]);
    expect(ok.code, ok.stdout).toBe(0);
    const wrong = await run(['cmd', 'REGISTER_MODEL', 'metadata.version=V2', '--operator', 'Op-01', '--auth', 'wrong horse battery', ...port]);
    expect(JSON.parse(wrong.stdout)).toMatchObject({ status: 'REJECTED', error: { code: 'E_AUTH' } });
    const viewer = await run(['cmd', 'REGISTER_MODEL', 'metadata.version=V3', '--operator', 'Viewer-1', '--auth', 'just looking around', ...port]);
    expect(JSON.parse(viewer.stdout)).toMatchObject({ status: 'REJECTED', error: { code: 'E_AUTH' } });
  });
});

describe('offline commands on a data directory', () => {
  it('a missing data directory is E_NO_DATA_DIR, not "intact: 0 records" or "0 quarantined"; a missing incident is E_NO_INCIDENT', async () => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    const missing = join(t.dir, 'no-such-dir');
    for (const args of [['audit', 'verify', '--data-dir', missing], ['quarantine', 'ls', '--data-dir', missing], ['quarantine', 'show', '1:1', '--data-dir', missing],
      ['audit', 'verify', '--data-dir', t.dir] /* exists, but no audit log: not a data directory */]) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toMatch(/^shadowpath: E_NO_DATA_DIR: /);
      expect(r.stdout).toBe('');
    }
    // The default ./data, from a directory without one.
    const dflt = await run(['audit', 'verify'], { cwd: t.dir });
    expect(dflt.code).toBe(1);
    expect(dflt.stderr).toContain('E_NO_DATA_DIR: no data directory');
    expect(dflt.stderr).toContain('give --data-dir DIR');
    const rep = await run(['replay', join(t.dir, 'failures', 'incident_nope.json')]);
    expect(rep.code).toBe(1);
    expect(rep.stderr).toMatch(/^shadowpath: E_NO_INCIDENT: no incident report /);
  });

  it('quarantine show explains the FILE:LINE id format when an id is not found', async () => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    const { srv, info } = await serveChild(t.dir);
    const { TcpClient } = await import('../../src/transport/client.js');
    const c = await TcpClient.connect('127.0.0.1', info.tcp_port);
    const first = await c.request({ agent_id: 'bot-1', state: { health: 1 } });
    expect(first.status).toBe('OK');
    await c.request({ agent_id: 'bot-1', state: { health: 1 }, intent_taken: 'FLY', result: { outcomes: { is_alive: true } } });
    c.close();
    srv.kill('SIGTERM');
    await new Promise((r) => srv.once('exit', r));
    const ls = await run(['quarantine', 'ls', '--data-dir', t.dir]);
    expect(ls.stdout).toMatch(/1 quarantined: UNKNOWN_INTENT 1/);
    const bare = await run(['quarantine', 'show', '3', '--data-dir', t.dir]);
    expect(bare.code).toBe(1);
    expect(bare.stderr).toContain("no entry 3");
    expect(bare.stderr).toContain("an id is FILE:LINE, the quarantine file's number and the line in it (e.g. 1:3)");
    expect(bare.stderr).toContain('ids run from 1:1 to 1:1');
    const show = await run(['quarantine', 'show', '1:1', '--data-dir', t.dir]);
    expect(show.code).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({ id: '1:1', reason: 'UNKNOWN_INTENT' });
    expect((await run(['quarantine', '--help'])).stdout).toContain('ID is FILE:LINE');
  });
});
