// Who may reach the sidecar, decided once at start-up (docs/SECURITY.md).
//
// On loopback only processes of this host connect (browsers included, which
// guard.ts handles). Beyond loopback anyone who can route to the port does,
// so the server refuses to start there by accident:
//   - without an operators file, every command would be open to them;
//   - with one but without TLS, secrets would cross the network in clear.
// `--insecure` accepts either explicitly; it is logged, audited and shown in
// HEARTBEAT (`security.insecure`).
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { SidecarError } from '../errors.js';
import { isLoopbackHost } from './guard.js';

export interface ExposureInput {
  host: string;
  operators: boolean;
  tls: boolean;
  insecure: boolean;
}

export interface Exposure {
  host: string;
  loopback_only: boolean;
  tls: boolean;
  operators: boolean;
  insecure: boolean;
  /** What --insecure let through, for the log and HEARTBEAT; empty when nothing. */
  warnings: string[];
}

/** The exposure of a server, or E_CONFIG naming the fix when it would be open by accident. */
export function checkExposure(i: ExposureInput): Exposure {
  const loopback = isLoopbackHost(i.host);
  const warnings: string[] = [];
  if (!loopback && !i.operators) {
    const what = `--host ${i.host} is beyond loopback and there is no operators file: anyone who can reach the ports could run every command`;
    if (!i.insecure) throw new SidecarError('E_CONFIG', `${what}. Pass --operators FILE (with --tls-cert FILE --tls-key FILE), listen on 127.0.0.1, or pass --insecure to accept it`);
    warnings.push(what);
  }
  if (!loopback && i.operators && !i.tls) {
    const what = `--host ${i.host} is beyond loopback without TLS: operator secrets would cross the network in clear text`;
    if (!i.insecure) throw new SidecarError('E_CONFIG', `${what}. Pass --tls-cert FILE --tls-key FILE, listen on 127.0.0.1, or pass --insecure to accept it`);
    warnings.push(what);
  }
  return { host: i.host, loopback_only: loopback, tls: i.tls, operators: i.operators, insecure: i.insecure, warnings };
}

/** Checks a certificate and its key before anything listens (a bad pair is E_CONFIG, not a failed handshake later). */
export function tlsOptions(cert: string | Buffer, key: string | Buffer): SecureContextOptions {
  try {
    createSecureContext({ cert, key });
  } catch (e) {
    throw new SidecarError('E_CONFIG', `the TLS certificate and key cannot be used together: ${(e as Error).message}`);
  }
  return { cert, key };
}
