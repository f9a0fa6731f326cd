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
});
