import { readFileSync } from 'node:fs';
import { TcpClient, type ClientTls } from '../transport/client.js';
import { SidecarError } from '../errors.js';

/** Where a client subcommand finds the server. */
export const CLIENT_OPTIONS = { host: 'string', 'tcp-port': 'number', 'http-port': 'number', tls: 'boolean', 'tls-ca': 'string' } as const;

export const CLIENT_HELP = `  --host HOST         server address (default 127.0.0.1)
  --tcp-port N        server TCP port (default 5001)
  --http-port N       server HTTP port (default 8080)
  --tls               speak TLS, verifying the server's certificate against the system's CAs
  --tls-ca FILE       speak TLS, verifying the server's certificate against this CA (PEM; a
                      self-signed server certificate is its own CA)`;

/** The client's TLS settings from --tls / --tls-ca; undefined for plain TCP. */
export function clientTls(o: Record<string, unknown>): ClientTls | undefined {
  if (o['tls-ca'] !== undefined) {
    try {
      return { ca: readFileSync(o['tls-ca'] as string) };
    } catch (e) {
      throw new SidecarError('E_CONFIG', `cannot read --tls-ca ${String(o['tls-ca'])}: ${(e as Error).message}`);
    }
  }
  return o.tls === true ? {} : undefined;
}

export async function connect(o: Record<string, unknown>): Promise<TcpClient> {
  const host = (o.host as string) ?? '127.0.0.1', port = (o['tcp-port'] as number) ?? 5001;
  const tls = clientTls(o);
  try {
    return await TcpClient.connect(host, port, 'json', tls);
  } catch (e) {
    throw new SidecarError('E_CONFIG', `cannot reach shadowpath at ${host}:${port}${tls ? ' over TLS' : ''} (${(e as Error).message}); is \`shadowpath serve\` running${tls ? ' with --tls-cert, and is --tls-ca the CA of its certificate' : ''}?`);
  }
}
