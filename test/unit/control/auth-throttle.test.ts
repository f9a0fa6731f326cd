// Failed-authentication throttling with a hand-moved clock.
import { describe, it, expect } from 'vitest';
import { Operators, hashSecret, type AuthFailure } from '../../../src/control/operators.js';

function setup() {
  let now = 1_000_000;
  const ops = new Operators([
    { id: 'Op-01', role: 'operator', secret_sha256: hashSecret('right-01') },
    { id: 'Op-02', role: 'admin', secret_sha256: hashSecret('right-02') },
  ], () => now);
  const failures: AuthFailure[] = [];
  ops.onFailure = (f) => failures.push(f);
  return { ops, failures, advance: (ms: number) => { now += ms; } };
}

describe('failed authentications', () => {
  it('a peer that keeps failing is throttled, and only that peer', () => {
    const { ops, failures } = setup();
    for (let i = 0; i < 10; i++) expect(ops.authenticate('Op-01', `guess-${i}`, '10.0.0.9')).toMatchObject({ ok: false, code: 'E_AUTH' });
    // Throttled: even the right secret is not checked.
    expect(ops.authenticate('Op-01', 'right-01', '10.0.0.9')).toMatchObject({ ok: false, code: 'E_AUTH_THROTTLED' });
    expect(ops.authenticate('Op-02', 'right-02', '10.0.0.9')).toMatchObject({ ok: false, code: 'E_AUTH_THROTTLED' });
    // The legitimate operator's other machines are not locked out.
    expect(ops.authenticate('Op-01', 'right-01', '10.0.0.1')).toMatchObject({ ok: true, operator: 'Op-01' });
    expect(failures.filter((f) => f.reason === 'bad_credential').length).toBe(10);
    expect(failures.filter((f) => f.reason === 'throttled')).toEqual([{ claimed_operator_id: 'Op-01', peer: '10.0.0.9', reason: 'throttled', scope: 'peer', retry_after_s: 10, suppressed: 0 }]);
    expect(JSON.stringify(failures)).not.toMatch(/guess-|right-0/);
  });

  it('the budget refills with time', () => {
    const { ops, advance } = setup();
    for (let i = 0; i < 10; i++) ops.authenticate('Op-01', 'wrong', '10.0.0.9');
    expect(ops.authenticate('Op-01', 'right-01', '10.0.0.9')).toMatchObject({ code: 'E_AUTH_THROTTLED' });
    advance(9_000);
    expect(ops.authenticate('Op-01', 'right-01', '10.0.0.9')).toMatchObject({ code: 'E_AUTH_THROTTLED' });
    advance(1_000); // 6 a minute: one more attempt after 10 s
    expect(ops.authenticate('Op-01', 'right-01', '10.0.0.9')).toMatchObject({ ok: true });
  });

  it('an operator guessed at from many peers is guarded: peers that failed for it wait, clean peers do not', () => {
    const { ops } = setup();
    // 9 + 9 + 2 failures from 3 peers: no peer over its own budget of 10, Op-01's 20 spent.
    for (const [p, n] of [['10.0.1.1', 9], ['10.0.1.2', 9], ['10.0.1.3', 2]] as const) {
      for (let i = 0; i < n; i++) expect(ops.authenticate('Op-01', 'wrong', p)).toMatchObject({ code: 'E_AUTH' });
    }
    for (const p of ['10.0.1.1', '10.0.1.2', '10.0.1.3']) expect(ops.authenticate('Op-01', 'right-01', p), p).toMatchObject({ ok: false, code: 'E_AUTH_THROTTLED' });
    // The same peer may still authenticate as another operator (its own budget is not spent).
    expect(ops.authenticate('Op-02', 'right-02', '10.0.1.1')).toMatchObject({ ok: true });
    // A peer that never failed for Op-01 has its credential checked.
    expect(ops.authenticate('Op-01', 'right-01', '10.0.2.2')).toMatchObject({ ok: true });
    // A new peer gets one guess, then waits.
    expect(ops.authenticate('Op-01', 'wrong', '10.0.3.3')).toMatchObject({ code: 'E_AUTH' });
    expect(ops.authenticate('Op-01', 'right-01', '10.0.3.3')).toMatchObject({ code: 'E_AUTH_THROTTLED' });
  });

  it('a throttled peer is audited once a minute, with the refusals in between counted', () => {
    const { ops, failures, advance } = setup();
    for (let i = 0; i < 10; i++) ops.authenticate('Op-01', 'wrong', '10.0.0.9');
    for (let i = 0; i < 5; i++) ops.authenticate('Op-01', 'wrong', '10.0.0.9');
    advance(1_000);
    expect(failures.filter((f) => f.reason === 'throttled').length).toBe(1);
    advance(60_000);
    // 61 s refilled 6 attempts; spend them, then the next refusal is audited with the 4 suppressed.
    for (let i = 0; i < 6; i++) ops.authenticate('Op-01', 'wrong', '10.0.0.9');
    ops.authenticate('Op-01', 'wrong', '10.0.0.9');
    expect(failures.filter((f) => f.reason === 'throttled').map((f) => f.suppressed)).toEqual([0, 4]);
  });

  it('no operator_id is refused but not counted (an anonymous HEARTBEAT is one); no operators file throttles nothing', () => {
    const { ops, failures } = setup();
    for (let i = 0; i < 30; i++) expect(ops.authenticate(undefined, undefined, '10.0.0.9')).toMatchObject({ code: 'E_AUTH' });
    expect(failures).toEqual([]);
    expect(ops.authenticate('Op-01', 'right-01', '10.0.0.9')).toMatchObject({ ok: true });
    const open = new Operators(null);
    for (let i = 0; i < 30; i++) expect(open.authenticate('Op-01', 'x', '10.0.0.9')).toMatchObject({ ok: true });
  });

  it('IPv6 peers of one /64 share a budget', () => {
    const { ops } = setup();
    for (let i = 0; i < 10; i++) ops.authenticate('Op-01', 'wrong', `2001:db8:0:1::${(i + 1).toString(16)}`);
    expect(ops.authenticate('Op-01', 'right-01', '2001:db8:0:1::ffff')).toMatchObject({ code: 'E_AUTH_THROTTLED' });
    expect(ops.authenticate('Op-01', 'right-01', '2001:db8:0:2::1')).toMatchObject({ ok: true });
  });
});
