// The HTTP guard's rules, one by one (the real-HTTP cases are in
// test/integration/security.test.ts, a real browser's in browser.test.ts).
import { describe, it, expect } from 'vitest';
import { HttpGuard, hostOf, isLoopbackHost, servedNames } from '../../../src/transport/guard.js';
import { checkExposure } from '../../../src/transport/exposure.js';
import { peerKey } from '../../../src/transport/conn-info.js';
import { isSidecarError } from '../../../src/errors.js';

function guard(extra: string[] = [], listenHost = '127.0.0.1', scheme: 'http' | 'https' = 'http'): HttpGuard {
  const g = new HttpGuard({ listenHost, allowedHosts: extra, scheme });
  g.port = 8080;
  return g;
}
const JSON_POST = { host: '127.0.0.1:8080', 'content-type': 'application/json' };

describe('Host header', () => {
  it('parses names, ports and bracketed IPv6, and refuses malformed values', () => {
    expect(hostOf('LocalHost.:8080')).toBe('localhost');
    expect(hostOf('[::1]:8080')).toBe('::1');
    expect(hostOf('[::1]')).toBe('::1');
    expect(hostOf('127.0.0.1')).toBe('127.0.0.1');
    expect(hostOf('::1')).toBeNull();
    expect(hostOf('a:b')).toBeNull();
    expect(hostOf('[::1]x')).toBeNull();
    expect(hostOf('')).toBeNull();
  });

  it('serves loopback names, the listen address and --allowed-host names only', () => {
    const g = guard(['Sidecar.Internal']);
    for (const host of ['localhost:8080', '127.0.0.1:8080', '[::1]:8080', 'sidecar.internal:8080', 'LOCALHOST']) {
      expect(g.check('GET', { host }), host).toBeNull();
    }
    for (const host of ['evil.example:8080', '127.0.0.2:8080', 'localhost.evil.example', 'sidecar.internal.evil', '[::1', 'a:b:c']) {
      expect(g.check('GET', { host })?.code, host).toBe('E_HOST');
    }
    expect(g.refused.E_HOST).toBe(6);
    expect(guard([], '10.1.2.3').check('GET', { host: '10.1.2.3:8080' })).toBeNull();
  });

  it('a wildcard listen address serves the addresses of this machine, not names', () => {
    const names = servedNames({ listenHost: '0.0.0.0', scheme: 'http' });
    expect(names.has('127.0.0.1')).toBe(true);
    expect(names.has('0.0.0.0')).toBe(false);
    expect([...names].every((n) => n === 'localhost' || /^[0-9a-f.:]+$/.test(n))).toBe(true);
  });
});

describe('Origin and Sec-Fetch-Site', () => {
  it('lets the sidecar\'s own origins through and refuses every other', () => {
    const g = guard(['sidecar.internal']);
    for (const origin of ['http://127.0.0.1:8080', 'http://localhost:8080', 'http://[::1]:8080', 'http://sidecar.internal:8080']) {
      expect(g.check('POST', { ...JSON_POST, origin }), origin).toBeNull();
    }
    for (const origin of ['http://evil.example', 'http://127.0.0.1:9999', 'https://127.0.0.1:8080', 'http://127.0.0.1', 'null', 'file://', 'not a url']) {
      expect(g.check('POST', { ...JSON_POST, origin })?.code, origin).toBe('E_ORIGIN');
    }
    expect(guard([], '127.0.0.1', 'https').check('GET', { host: 'localhost', origin: 'https://localhost:8080' })).toBeNull();
  });

  it('refuses cross-site and same-site fetches, takes same-origin and user navigations', () => {
    const g = guard();
    expect(g.check('GET', { host: 'localhost:8080', 'sec-fetch-site': 'cross-site' })?.code).toBe('E_ORIGIN');
    expect(g.check('GET', { host: 'localhost:8080', 'sec-fetch-site': 'same-site' })?.code).toBe('E_ORIGIN');
    expect(g.check('GET', { host: 'localhost:8080', 'sec-fetch-site': 'same-origin' })).toBeNull();
    expect(g.check('GET', { host: 'localhost:8080', 'sec-fetch-site': 'none' })).toBeNull();
  });
});

describe('content type of a POST', () => {
  it('takes JSON and MessagePack (with parameters, any case) and nothing else', () => {
    const g = guard();
    for (const t of ['application/json', 'application/json; charset=utf-8', 'Application/MsgPack']) {
      expect(g.check('POST', { host: 'localhost', 'content-type': t }), t).toBeNull();
    }
    for (const t of [undefined, '', 'text/plain', 'text/plain; charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json-seq', 'text/json']) {
      expect(g.check('POST', { host: 'localhost', ...(t === undefined ? {} : { 'content-type': t }) })?.code, String(t)).toBe('E_UNSUPPORTED_MEDIA_TYPE');
    }
    expect(g.check('GET', { host: 'localhost' })).toBeNull();
  });
});

describe('the remembered Host (the per-request fast path)', () => {
  it('a Host that passed once skips only its own parse: every other check still runs on every request', () => {
    const g = guard();
    expect(g.check('POST', JSON_POST)).toBeNull();
    // The same Host again, with what a page would add: each is still refused.
    expect(g.check('POST', { ...JSON_POST, origin: 'http://evil.example' })?.code).toBe('E_ORIGIN');
    expect(g.check('POST', { ...JSON_POST, 'sec-fetch-site': 'cross-site' })?.code).toBe('E_ORIGIN');
    expect(g.check('POST', { ...JSON_POST, 'content-type': 'text/plain' })?.code).toBe('E_UNSUPPORTED_MEDIA_TYPE');
    expect(g.check('POST', { host: JSON_POST.host })?.code).toBe('E_UNSUPPORTED_MEDIA_TYPE');
    // A rebinding page's name after a good request is refused, and does not replace the remembered one.
    expect(g.check('POST', { ...JSON_POST, host: 'evil.example:8080' })?.code).toBe('E_HOST');
    expect(g.check('POST', { ...JSON_POST, host: 'evil.example:8080' })?.code).toBe('E_HOST');
    expect(g.check('POST', JSON_POST)).toBeNull();
    expect(g.check('GET', { host: JSON_POST.host })).toBeNull();
    expect(g.refused).toEqual({ E_HOST: 2, E_ORIGIN: 2, E_UNSUPPORTED_MEDIA_TYPE: 2 });
  });

  it('a refused Host is never remembered, even after a refusal for another reason', () => {
    const g = guard();
    expect(g.check('POST', { host: 'evil.example', 'content-type': 'text/plain' })?.code).toBe('E_HOST');
    expect(g.check('POST', { host: 'evil.example', 'content-type': 'application/json' })?.code).toBe('E_HOST');
  });
});

describe('start-up exposure', () => {
  const refused = (i: Parameters<typeof checkExposure>[0]) => {
    try { checkExposure(i); return null; } catch (e) { expect(isSidecarError(e, 'E_CONFIG')).toBe(true); return (e as Error).message; }
  };

  it('loopback needs nothing; beyond it, operators and TLS or --insecure', () => {
    for (const host of ['127.0.0.1', '127.9.9.9', '::1', 'localhost', '[::1]']) {
      expect(isLoopbackHost(host), host).toBe(true);
      expect(checkExposure({ host, operators: false, tls: false, insecure: false })).toMatchObject({ loopback_only: true, warnings: [] });
    }
    for (const host of ['0.0.0.0', '::', '10.0.0.5', 'sidecar.lan']) expect(isLoopbackHost(host), host).toBe(false);
    expect(refused({ host: '0.0.0.0', operators: false, tls: true, insecure: false })).toContain('--operators');
    expect(refused({ host: '0.0.0.0', operators: true, tls: false, insecure: false })).toContain('--tls-cert');
    expect(refused({ host: '0.0.0.0', operators: true, tls: true, insecure: false })).toBeNull();
    const open = checkExposure({ host: '0.0.0.0', operators: false, tls: false, insecure: true });
    expect(open).toMatchObject({ loopback_only: false, insecure: true });
    expect(open.warnings.length).toBe(1);
  });
});

describe('peer keys', () => {
  it('IPv4 by address, IPv6 by its /64, mapped IPv4 as IPv4', () => {
    expect(peerKey('10.0.0.7')).toBe('10.0.0.7');
    expect(peerKey('::ffff:10.0.0.7')).toBe('10.0.0.7');
    expect(peerKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(peerKey('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(peerKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(peerKey('::1')).toBe('0:0:0:0::/64');
    expect(peerKey(undefined)).toBe('in-process');
  });
});
