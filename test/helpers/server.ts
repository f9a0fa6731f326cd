import { startServer, type RunningServer, type ServerOptions } from '../../src/server.js';

/**
 * A server on ephemeral loopback ports for a test. Its batches get 2 s in
 * their worker instead of the default 25 ms: the suite runs several test
 * files at once on a 2-core machine, where a 25 ms stall is the machine's
 * doing, and its INFERENCE_TIMEOUT (STOP for the batch, then SAFE_MODE) would
 * change what a test about something else measures (the runbook test's
 * promoted model once served by the rules, CI run of 2026-11-26). The tests of
 * the time budget set their own `batch_timeout_ms`.
 */
export async function server(dataDir: string, extra: Partial<ServerOptions> = {}): Promise<RunningServer> {
  return startServer({ dataDir, tcpPort: 0, httpPort: 0, checkpointEverySec: 0, ...extra,
    config: { ...extra.config, engine: { pool_threads: 1, batch_timeout_ms: 2000, ...extra.config?.engine } } });
}
