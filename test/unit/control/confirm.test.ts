import { describe, it, expect } from 'vitest';
import { ConfirmationTokens } from '../../../src/control/confirm.js';

describe('confirmation tokens', () => {
  let now = 1_000_000;
  const clock = () => now;
  const P = { ratio: 0.5, bypass_safety_cap: true };

  it('carry at least 128 random bits and work once', () => {
    const t = new ConfirmationTokens(120_000, clock);
    const { token } = t.issue('SET_CANARY_RATIO', P, 'Op-01', 7);
    expect(Buffer.from(token.split('.')[1], 'base64url').length * 8).toBeGreaterThanOrEqual(128);
    expect(t.redeem(token, 'SET_CANARY_RATIO', P, 'Op-01', 7)).toEqual({ ok: true });
    expect(t.redeem(token, 'SET_CANARY_RATIO', P, 'Op-01', 7)).toMatchObject({ ok: false, code: 'E_TOKEN_USED' });
  });

  it.each([
    ['another command type', 'PROMOTE_CANDIDATE', P, 'Op-01', 7, 'E_TOKEN_TYPE'],
    ['other parameters', 'SET_CANARY_RATIO', { ratio: 0.6, bypass_safety_cap: true }, 'Op-01', 7, 'E_TOKEN_PARAMS'],
    ['another operator', 'SET_CANARY_RATIO', P, 'Op-02', 7, 'E_TOKEN_OPERATOR'],
    ['a changed state', 'SET_CANARY_RATIO', P, 'Op-01', 8, 'E_TOKEN_STATE'],
  ] as const)('refuse a token used for %s, and burn it', (_, type, params, op, ver, code) => {
    const t = new ConfirmationTokens(120_000, clock);
    const { token } = t.issue('SET_CANARY_RATIO', P, 'Op-01', 7);
    expect(t.redeem(token, type, params, op, ver)).toMatchObject({ ok: false, code });
    expect(t.redeem(token, 'SET_CANARY_RATIO', P, 'Op-01', 7)).toMatchObject({ ok: false, code: 'E_TOKEN_USED' });
  });

  it('expire', () => {
    const t = new ConfirmationTokens(120_000, clock);
    const { token, expiresAt } = t.issue('ROLLBACK_MODEL', {}, 'Op-01', 1);
    expect(expiresAt).toBe(now + 120_000);
    now += 120_001;
    expect(t.redeem(token, 'ROLLBACK_MODEL', {}, 'Op-01', 1)).toMatchObject({ ok: false, code: 'E_TOKEN_EXPIRED' });
  });

  it('refuse unknown, forged and malformed tokens', () => {
    const t = new ConfirmationTokens(120_000, clock);
    const { token } = t.issue('ROLLBACK_MODEL', {}, 'Op-01', 1);
    const [id, secret] = token.split('.');
    const forged = `${id}.${Buffer.from(Buffer.from(secret, 'base64url').map((b) => b ^ 1)).toString('base64url')}`;
    for (const bad of [forged, 'nope', '', 42, null, `${id}.`, 'x'.repeat(500)]) {
      expect(t.redeem(bad, 'ROLLBACK_MODEL', {}, 'Op-01', 1)).toMatchObject({ ok: false, code: 'E_TOKEN_UNKNOWN' });
    }
    expect(t.redeem(token, 'ROLLBACK_MODEL', {}, 'Op-01', 1)).toEqual({ ok: true }); // the forgery did not burn it
  });

  it('under the two-person rule, need another operator to confirm', () => {
    const t = new ConfirmationTokens(120_000, clock);
    const a = t.issue('UNRELEASE_LOCKDOWN', {}, 'Op-01', 1, true);
    expect(t.redeem(a.token, 'UNRELEASE_LOCKDOWN', {}, 'Op-01', 1)).toMatchObject({ ok: false, code: 'E_TOKEN_SAME_OPERATOR' });
    const b = t.issue('UNRELEASE_LOCKDOWN', {}, 'Op-01', 1, true);
    expect(t.redeem(b.token, 'UNRELEASE_LOCKDOWN', {}, 'Op-02', 1)).toEqual({ ok: true });
  });

  it('explain every refusal (a non-empty message with each code)', () => {
    const t = new ConfirmationTokens(120_000, clock);
    const { token } = t.issue('ROLLBACK_MODEL', {}, 'Op-01', 1);
    const refusals = [
      t.redeem(42, 'ROLLBACK_MODEL', {}, 'Op-01', 1),
      t.redeem(`${token.split('.')[0]}.${'A'.repeat(32)}`, 'ROLLBACK_MODEL', {}, 'Op-01', 1), // our id, a forged secret
    ];
    refusals.push(t.redeem(token, 'PROMOTE_CANDIDATE', {}, 'Op-01', 1), t.redeem(token, 'ROLLBACK_MODEL', {}, 'Op-01', 1));
    for (const [type, params, op, ver] of [['ROLLBACK_MODEL', { x: 1 }, 'Op-01', 1], ['ROLLBACK_MODEL', {}, 'Op-02', 1], ['ROLLBACK_MODEL', {}, 'Op-01', 2]] as const) {
      const tok = t.issue('ROLLBACK_MODEL', {}, 'Op-01', 1).token;
      refusals.push(t.redeem(tok, type, params, op, ver));
    }
    const two = t.issue('UNRELEASE_LOCKDOWN', {}, 'Op-01', 1, true).token;
    refusals.push(t.redeem(two, 'UNRELEASE_LOCKDOWN', {}, 'Op-01', 1));
    const late = t.issue('ROLLBACK_MODEL', {}, 'Op-01', 1).token;
    now += 120_001;
    refusals.push(t.redeem(late, 'ROLLBACK_MODEL', {}, 'Op-01', 1));
    expect(refusals.map((r) => (r.ok ? 'OK' : r.code))).toEqual([
      'E_TOKEN_UNKNOWN', 'E_TOKEN_UNKNOWN', 'E_TOKEN_TYPE', 'E_TOKEN_USED', 'E_TOKEN_PARAMS', 'E_TOKEN_OPERATOR', 'E_TOKEN_STATE', 'E_TOKEN_SAME_OPERATOR', 'E_TOKEN_EXPIRED',
    ]);
    for (const r of refusals) if (!r.ok) expect(r.message.length).toBeGreaterThan(10);
    expect((refusals[2] as { message: string }).message).toContain('ROLLBACK_MODEL'); // names what it was issued for
  });

  it('are valid up to their expiry instant, and an expired token is burned', () => {
    let at = 5_000;
    const t = new ConfirmationTokens(1_000, () => at);
    const a = t.issue('ROLLBACK_MODEL', {}, 'Op-01', 1);
    at = a.expiresAt;
    expect(t.redeem(a.token, 'ROLLBACK_MODEL', {}, 'Op-01', 1)).toEqual({ ok: true });
    const b = t.issue('ROLLBACK_MODEL', {}, 'Op-01', 1);
    at = b.expiresAt + 1;
    expect(t.redeem(b.token, 'ROLLBACK_MODEL', {}, 'Op-01', 1)).toMatchObject({ ok: false, code: 'E_TOKEN_EXPIRED' });
    at = b.expiresAt - 10; // a clock stepped back does not revive it
    expect(t.redeem(b.token, 'ROLLBACK_MODEL', {}, 'Op-01', 1)).toMatchObject({ ok: false, code: 'E_TOKEN_USED' });
  });

  it('under the two-person rule, burn a token the requester tried to confirm', () => {
    const t = new ConfirmationTokens(120_000, clock);
    const a = t.issue('PROMOTE_CANDIDATE', { force: true }, 'Op-01', 1, true);
    expect(t.redeem(a.token, 'PROMOTE_CANDIDATE', { force: true }, 'Op-01', 1)).toMatchObject({ ok: false, code: 'E_TOKEN_SAME_OPERATOR' });
    expect(t.redeem(a.token, 'PROMOTE_CANDIDATE', { force: true }, 'Op-02', 1)).toMatchObject({ ok: false, code: 'E_TOKEN_USED' });
  });

  it('forget tokens a minute after they expire, and keep the others', () => {
    let at = 0;
    const t = new ConfirmationTokens(1_000, () => at);
    const old = t.issue('ROLLBACK_MODEL', {}, 'Op-01', 1);
    const recent = t.issue('ROLLBACK_MODEL', {}, 'Op-01', 1);
    at = 30_000;
    const fresh = t.issue('ROLLBACK_MODEL', {}, 'Op-01', 1); // sweeps: old and recent expired 29 s ago, kept
    expect(t.redeem(old.token, 'ROLLBACK_MODEL', {}, 'Op-01', 1)).toMatchObject({ ok: false, code: 'E_TOKEN_EXPIRED' });
    at = 61_000;
    t.issue('ROLLBACK_MODEL', {}, 'Op-01', 1); // sweeps: recent expired exactly 60 s ago: still kept
    expect(t.redeem(recent.token, 'ROLLBACK_MODEL', {}, 'Op-01', 1)).toMatchObject({ ok: false, code: 'E_TOKEN_EXPIRED' });
    at = 61_002;
    t.issue('ROLLBACK_MODEL', {}, 'Op-01', 1); // sweeps: recent expired 60.002 s ago, gone; fresh (expires at 31 s) kept until 91 s
    expect(t.redeem(recent.token, 'ROLLBACK_MODEL', {}, 'Op-01', 1)).toMatchObject({ ok: false, code: 'E_TOKEN_UNKNOWN' });
    expect(t.redeem(fresh.token, 'ROLLBACK_MODEL', {}, 'Op-01', 1)).toMatchObject({ ok: false, code: 'E_TOKEN_EXPIRED' });
    // A token with time left survives a sweep.
    const live = t.issue('ROLLBACK_MODEL', {}, 'Op-01', 1);
    at += 900;
    t.issue('ROLLBACK_MODEL', {}, 'Op-01', 1);
    expect(t.redeem(live.token, 'ROLLBACK_MODEL', {}, 'Op-01', 1)).toEqual({ ok: true });
  });

  it('name the operator a token was issued to', () => {
    const t = new ConfirmationTokens(120_000, clock);
    const { token } = t.issue('UNRELEASE_LOCKDOWN', {}, 'Op-07', 1, true);
    expect(t.requesterOf(token)).toBe('Op-07');
    expect(t.requesterOf('0123456789abcdef.nope')).toBeUndefined();
  });
});
