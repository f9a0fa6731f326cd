import { TcpClient } from '../transport/client.js';
import { SidecarError } from '../errors.js';

/** Where a client subcommand finds the server. */
export const CLIENT_OPTIONS = { host: 'string', 'tcp-port': 'number', 'http-port': 'number' } as const;

export const CLIENT_HELP = `  --host HOST         server address (default 127.0.0.1)
  --tcp-port N        server TCP port (default 5001)
  --http-port N       server HTTP port (default 8080)`;

export async function connect(o: Record<string, unknown>): Promise<TcpClient> {
  const host = (o.host as string) ?? '127.0.0.1', port = (o['tcp-port'] as number) ?? 5001;
  try {
    return await TcpClient.connect(host, port);
  } catch (e) {
    throw new SidecarError('E_CONFIG', `cannot reach shadowpath at ${host}:${port} (${(e as Error).message}); is \`shadowpath serve\` running?`);
  }
}
