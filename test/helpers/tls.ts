import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface SelfSigned {
  cert: Buffer;
  key: Buffer;
  certFile: string;
  keyFile: string;
}

/**
 * A fresh self-signed certificate (EC P-256, 2 days) and its key, written to
 * `dir` as `<name>.pem` and `<name>-key.pem`. Self-signed, so the certificate
 * is its own CA; valid for the loopback names (localhost, 127.0.0.1, ::1).
 * Made by Debian's `openssl`: node:crypto can make keys but not X.509
 * certificates, and a pure-JS generator would be a dependency for the tests
 * alone.
 */
export function selfSignedCert(dir: string, name = 'cert'): SelfSigned {
  const certFile = join(dir, `${name}.pem`), keyFile = join(dir, `${name}-key.pem`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile,
    '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1'], { stdio: 'ignore' });
  return { cert: readFileSync(certFile), key: readFileSync(keyFile), certFile, keyFile };
}
