import { readFileSync } from 'node:fs';
import { TcpClient, HttpClient, type ClientTls } from '../transport/client.js';
import { SidecarError } from '../errors.js';

/** Where a client subcommand finds the server. */
export const CLIENT_OPTIONS = { host: 'string', 'tcp-port': 'number', 'http-port': 'number', tls: 'boolean', 'tls-ca': 'string' } as const;

export const CLIENT_HELP = `  --host HOST         server address (default 127.0.0.1)
  --tcp-port N        server TCP port (default 5001)
  --http-port N       speak HTTP to this port (POST /v1/command) instead of TCP
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

/** One server, over TCP (JSON lines) or HTTP; the CLI's commands do not care which. */
export interface CliClient {
  request(cmd: Record<string, unknown>): Promise<Record<string, unknown>>;
  close(): void;
  /** The flags that reach this server again (`--http-port 8081`), for a command printed for another operator. */
  readonly flags: string[];
}

function unreachable(host: string, port: number, what: string, e: unknown, tls: boolean): SidecarError {
  return new SidecarError('E_CONFIG', `cannot reach shadowpath at ${host}:${port} over ${what}${tls ? ' (TLS)' : ''} (${(e as Error).message}); is \`shadowpath serve\` running${tls ? ' with --tls-cert, and is --tls-ca the CA of its certificate' : ''}?`);
}

/**
 * Connects as the options say: `--http-port N` speaks HTTP to N, otherwise
 * TCP to `--tcp-port` (default 5001); `--tls`/`--tls-ca` for either. Both
 * ports at once would be ambiguous about which one the user meant, so that
 * is an error.
 */
export async function connect(o: Record<string, unknown>): Promise<CliClient> {
  const host = (o.host as string) ?? '127.0.0.1';
  const tls = clientTls(o);
  const flags = [...(o.host !== undefined ? ['--host', host] : []), ...(o['tls-ca'] !== undefined ? ['--tls-ca', String(o['tls-ca'])] : o.tls === true ? ['--tls'] : [])];
  if (o['http-port'] !== undefined) {
    if (o['tcp-port'] !== undefined) throw new SidecarError('E_CONFIG', 'give --tcp-port or --http-port, not both');
    const port = o['http-port'] as number;
    const h = new HttpClient(host, port, 1, tls);
    return {
      flags: [...flags, '--http-port', String(port)],
      request: async (cmd) => {
        // The secret travels in the body (`auth`), as over TCP; the server takes either.
        try { return (await h.command(cmd)).body; } catch (e) { throw unreachable(host, port, 'HTTP', e, tls !== undefined); }
      },
      close: () => h.close(),
    };
  }
  const port = (o['tcp-port'] as number) ?? 5001;
  let c: TcpClient;
  try {
    c = await TcpClient.connect(host, port, 'json', tls);
  } catch (e) {
    throw unreachable(host, port, 'TCP', e, tls !== undefined);
  }
  return { flags: [...flags, ...(o['tcp-port'] !== undefined ? ['--tcp-port', String(port)] : [])], request: (cmd) => c.request(cmd), close: () => c.close() };
}
