import { startServer, type RunningServer, type ServerOptions } from '../../src/server.js';

export async function server(dataDir: string, extra: Partial<ServerOptions> = {}): Promise<RunningServer> {
  return startServer({ dataDir, tcpPort: 0, httpPort: 0, checkpointEverySec: 0, ...extra,
    config: { ...extra.config, engine: { pool_threads: 1, ...extra.config?.engine } } });
}
