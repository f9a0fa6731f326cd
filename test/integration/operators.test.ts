// Operators, roles and the two-person rule over real HTTP: `authorization:
// Bearer <secret>` works as `auth` does, a wrong or missing credential or a
// role without the right is 403 / E_AUTH, `force` needs the admin role, a
// forced promotion under the two-person rule needs a second admin, and
// secrets never reach a reply or the audit log. Plus /v1/health: 200 while
// no check fails, 503 when one does.
import { describe, it, expect, afterEach } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { server } from '../helpers/server.js';
import { HttpClient } from '../../src/transport/client.js';
import type { RunningServer } from '../../src/server.js';

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.reverse()) await c(); cleanups = []; });
type R = Record<string, any>;

const SECRETS = { 'Vi-01': 'viewer-secret-0123456789', 'Op-01': 'operator-secret-0123456789', 'Ad-01': 'admin-one-secret-0123456789', 'Ad-02': 'admin-two-secret-0123456789' } as const;
const ROLES = { 'Vi-01': 'viewer', 'Op-01': 'operator', 'Ad-01': 'admin', 'Ad-02': 'admin' } as const;
type Who = keyof typeof SECRETS;

async function up(twoPerson: boolean): Promise<{ s: RunningServer; h: HttpClient; dir: string; as: (who: Who, req: R, via?: 'bearer' | 'auth') => Promise<{ status: number; body: R }> }> {
  const t = tmpDir();
  cleanups.push(t.cleanup);
  const file = join(t.dir, 'operators.json');
  writeFileSync(file, JSON.stringify(Object.entries(SECRETS).map(([id, secret]) => ({ id, role: ROLES[id as Who], secret_sha256: createHash('sha256').update(secret).digest('hex') }))));
  const s = await server(t.dir, { operatorsFile: file, config: { control: { two_person_rule: twoPerson } } });
  cleanups.push(() => s.close());
  const h = new HttpClient('127.0.0.1', s.httpPort!);
  cleanups.push(() => h.close());
  const as = (who: Who, req: R, via: 'bearer' | 'auth' = 'bearer') =>
    via === 'bearer' ? h.command({ ...req, operator_id: who }, SECRETS[who]) : h.command({ ...req, operator_id: who, auth: SECRETS[who] });
  return { s, h, dir: t.dir, as };
}

describe('operators over HTTP', () => {
  it('a Bearer secret authenticates like `auth`; a wrong, missing or foreign one is 403 / E_AUTH', async () => {
    const { h, as, dir } = await up(false);
    expect(await as('Op-01', { type: 'REGISTER_MODEL', metadata: { version: 'V1' } })).toMatchObject({ status: 200, body: { status: 'OK' } });
    expect(await as('Op-01', { type: 'REGISTER_MODEL', metadata: { version: 'V2' } }, 'auth')).toMatchObject({ status: 200, body: { status: 'OK' } });
    const refused: Array<Promise<{ status: number; body: R }>> = [
      h.command({ type: 'REGISTER_MODEL', operator_id: 'Op-01', metadata: { version: 'X1' } }, 'not-the-secret'),
      h.command({ type: 'REGISTER_MODEL', operator_id: 'Op-01', metadata: { version: 'X2' } }),
      h.command({ type: 'REGISTER_MODEL', operator_id: 'Op-01', metadata: { version: 'X3' } }, SECRETS['Ad-01']), // another operator's secret
      h.command({ type: 'REGISTER_MODEL', operator_id: 'Nobody', metadata: { version: 'X4' } }, SECRETS['Op-01']),
      h.command({ type: 'REGISTER_MODEL', metadata: { version: 'X5' } }, SECRETS['Op-01']), // no operator_id, with an operators file
      h.request('POST', '/v1/command', { type: 'REGISTER_MODEL', operator_id: 'Op-01', metadata: { version: 'X6' } }, { authorization: `Basic ${SECRETS['Op-01']}` }),
      as('Vi-01', { type: 'REGISTER_MODEL', metadata: { version: 'X7' } }), // a viewer may not
      as('Op-01', { type: 'ROLLBACK_MODEL' }), // an operator may not
    ];
    for (const r of await Promise.all(refused)) expect(r).toMatchObject({ status: 403, body: { status: 'REJECTED', error: { code: 'E_AUTH' } } });
    expect(await as('Vi-01', { type: 'LIST_MODELS' })).toMatchObject({ status: 200, body: { status: 'OK' } });
    const models = ((await as('Vi-01', { type: 'LIST_MODELS' })).body.models as R[]).map((m) => m.version).sort();
    expect(models).toEqual(['V1', 'V2']); // none of the refused registrations happened
    // Secrets are never echoed or audited; the refusals are audited.
    const log = readFileSync(join(dir, 'audit', 'audit.log'), 'utf8');
    for (const secret of Object.values(SECRETS)) expect(log).not.toContain(secret);
    expect(log.split('\n').filter((l) => l.includes('"error":"E_AUTH"')).length).toBe(8);
  });

  it('`force` needs the admin role', async () => {
    const { as } = await up(false);
    expect((await as('Op-01', { type: 'REGISTER_MODEL', metadata: { version: 'V1' } })).body.status).toBe('OK');
    expect((await as('Op-01', { type: 'SET_CANDIDATE_MODEL', version: 'V1' })).body.status).toBe('OK');
    expect(await as('Op-01', { type: 'PROMOTE_CANDIDATE', force: true })).toMatchObject({ status: 403, body: { error: { code: 'E_AUTH' } } });
    const first = await as('Ad-01', { type: 'PROMOTE_CANDIDATE', force: true });
    expect(first).toMatchObject({ status: 200, body: { status: 'REQUIRED_CONFIRMATION' } });
    expect(first.body.two_person_rule).toBeUndefined();
    expect(await as('Ad-01', { type: 'PROMOTE_CANDIDATE', force: true, confirmation_token: first.body.confirmation_token })).toMatchObject({ status: 200, body: { status: 'OK', active_model: 'V1' } });
  });

  it('under the two-person rule a forced promotion needs a second admin to confirm', async () => {
    const { as, dir } = await up(true);
    expect((await as('Op-01', { type: 'REGISTER_MODEL', metadata: { version: 'V1' } })).body.status).toBe('OK');
    expect((await as('Op-01', { type: 'SET_CANDIDATE_MODEL', version: 'V1' })).body.status).toBe('OK');
    const req = { type: 'PROMOTE_CANDIDATE', force: true };
    const a = await as('Ad-01', req);
    expect(a.body).toMatchObject({ status: 'REQUIRED_CONFIRMATION', two_person_rule: expect.any(String) });
    // The requester cannot confirm it (and the token is spent)…
    expect(await as('Ad-01', { ...req, confirmation_token: a.body.confirmation_token })).toMatchObject({ status: 409, body: { error: { code: 'E_TOKEN_SAME_OPERATOR' } } });
    expect(await as('Ad-02', { ...req, confirmation_token: a.body.confirmation_token })).toMatchObject({ status: 409, body: { error: { code: 'E_TOKEN_USED' } } });
    // …nor can an operator without the admin role.
    const b = await as('Ad-01', req);
    expect(await as('Op-01', { ...req, confirmation_token: b.body.confirmation_token })).toMatchObject({ status: 403, body: { error: { code: 'E_AUTH' } } });
    expect((await as('Vi-01', { type: 'HEARTBEAT' })).body.active_model).toBe(null);
    // A second admin can.
    const c = await as('Ad-01', req);
    expect(await as('Ad-02', { ...req, confirmation_token: c.body.confirmation_token })).toMatchObject({ status: 200, body: { status: 'OK', active_model: 'V1' } });
    expect((await as('Vi-01', { type: 'HEARTBEAT' })).body.active_model).toBe('V1');
    // The audit shows the forced promotion, confirmed by Ad-02.
    const recs = readFileSync(join(dir, 'audit', 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as R);
    expect(recs.find((r) => r.payload?.type === 'PROMOTE_CANDIDATE' && r.payload.status === 'OK')).toMatchObject({ operator_id: 'Ad-02', payload: { forced: true, step: 'confirm' } });
  });

  it('without the two-person rule, the requester confirms its own forced promotion (the control for the test above)', async () => {
    const { as } = await up(false);
    expect((await as('Op-01', { type: 'REGISTER_MODEL', metadata: { version: 'V1' } })).body.status).toBe('OK');
    expect((await as('Op-01', { type: 'SET_CANDIDATE_MODEL', version: 'V1' })).body.status).toBe('OK');
    const a = await as('Ad-01', { type: 'PROMOTE_CANDIDATE', force: true });
    expect(await as('Ad-02', { type: 'PROMOTE_CANDIDATE', force: true, confirmation_token: a.body.confirmation_token })).toMatchObject({ status: 409, body: { error: { code: 'E_TOKEN_OPERATOR' } } });
  });
});

describe('GET /v1/health', () => {
  it('is 200 while no check fails and 503 once one does (survival under 0.9)', async () => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    const s = await server(t.dir);
    cleanups.push(() => s.close());
    const h = new HttpClient('127.0.0.1', s.httpPort!);
    cleanups.push(() => h.close());
    const feed = async (alive: boolean, n: number) => {
      let last: R | null = null;
      for (let i = 0; i < n; i++) {
        const r: R = (await h.cycle(last ? { agent_id: 'hx', state: { health: 1, target_distance: 30 }, intent_taken: last.intent, result: { outcomes: { is_alive: alive } } } : { agent_id: 'hx', state: { health: 1, target_distance: 30 } })).body;
        expect(r.status).toBe('OK');
        last = r;
      }
    };
    const check = (b: R, name: string) => (b.checks as R[]).find((c) => c.name.startsWith(name))?.verdict;
    await feed(true, 60);
    const good = await h.request('GET', '/v1/health');
    expect(check(good.body, 'Survival')).toBe('PASS');
    // 200 exactly when no check is FAIL (latency is the machine's; survival is ours).
    expect(good.status).toBe((good.body.checks as R[]).some((c) => c.verdict === 'FAIL') ? 503 : 200);
    await feed(false, 60);
    // HEARTBEAT's window is cached for 100 ms: poll until it has the new outcomes.
    const bad = await waitFor('the health report over all 118 outcomes', async () => {
      const r = await h.request('GET', '/v1/health');
      return /over the last 118 outcomes/.test(JSON.stringify(r.body)) ? r : undefined;
    });
    expect(check(bad.body, 'Survival'), JSON.stringify(bad.body)).toBe('FAIL');
    expect(bad.status).toBe(503);
    expect(bad.body.checks).toHaveLength(5);
  });
});
