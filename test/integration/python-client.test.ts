// The Python client's own unittest suite (clients/python/tests), run by
// python3 against a real server on loopback. Without python3 the suite is
// skipped with a visible message, except under CI=true, where it fails:
// `.ci/run` installs python3 when it is missing.
import { describe, it, expect, afterAll } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpDir } from '../helpers/tmp.js';
import { server } from '../helpers/server.js';
import { selfSignedCert } from '../helpers/tls.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const probe = spawnSync('python3', ['--version'], { encoding: 'utf8' });
const HAVE_PYTHON = probe.status === 0;
const CI = process.env.CI === 'true';
if (!HAVE_PYTHON && !CI) console.warn('\n*** python3 not found: the Python client tests (clients/python) are SKIPPED. Install python3 to run them. ***\n');

const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => { for (const c of cleanups.reverse()) await c(); });

describe('Python client (clients/python)', () => {
  it.skipIf(!HAVE_PYTHON && !CI)('passes its unittest suite against a real server', async () => {
    expect(HAVE_PYTHON, 'python3 is required when CI=true (.ci/run installs it)').toBe(true);
    const t = tmpDir();
    cleanups.push(t.cleanup);
    const s = await server(join(t.dir, 'plain'));
    cleanups.push(() => s.close());
    // The TLS cases: a second server with a fresh self-signed certificate, and another one as the wrong CA.
    const mine = selfSignedCert(t.dir, 'mine'), other = selfSignedCert(t.dir, 'other');
    const st = await server(join(t.dir, 'tls'), { tls: { cert: mine.cert, key: mine.key } });
    cleanups.push(() => st.close());
    const out = await new Promise<{ code: number | null; text: string }>((resolve) => {
      const p = spawn('python3', ['-m', 'unittest', 'discover', '-s', 'clients/python/tests', '-v'],
        { cwd: ROOT, env: { ...process.env, SHADOWPATH_PORT: String(s.tcpPort), SHADOWPATH_TLS_PORT: String(st.tcpPort),
          SHADOWPATH_TLS_CA: mine.certFile, SHADOWPATH_TLS_OTHER_CA: other.certFile, PYTHONDONTWRITEBYTECODE: '1' } });
      let text = '';
      p.stdout.on('data', (d) => { text += d; });
      p.stderr.on('data', (d) => { text += d; });
      p.on('close', (code) => resolve({ code, text }));
    });
    expect(out.code, out.text).toBe(0);
    const ran = Number(/Ran (\d+) tests?/.exec(out.text)?.[1] ?? 0);
    expect(ran, out.text).toBeGreaterThanOrEqual(17);
    expect(out.text).not.toMatch(/skipped/i);
    // The TLS cases ran, against the TLS server (it counted their requests).
    for (const name of ['test_cycle_and_heartbeat_over_tls', 'test_another_ca_is_refused', 'test_tls_client_to_a_plain_port_fails']) expect(out.text).toMatch(new RegExp(`${name} .*\\.\\.\\. ok`));
    expect(st.tcp!.stats.requests).toBeGreaterThan(0);
    expect(st.sidecar.engine.stats.cycles).toBeGreaterThanOrEqual(21);
    expect(out.text).toMatch(/\nOK\s*$/);
  }, 120_000);
});
