// A server for the end-to-end and CPU benches, in a child process: started,
// its first stdout line (JSON: the ports) read, and stopped cleanly.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface Child { proc: ChildProcess; info: Record<string, unknown> }

/** `cwd`: the build the child belongs to (bench:compare runs another commit's build); default this process's. */
export function start(args: string[], cwd?: string): Promise<Child> {
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], ...(cwd ? { cwd } : {}) });
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout! });
    rl.once('line', (l) => resolve({ proc, info: JSON.parse(l) as Record<string, unknown> }));
    proc.once('exit', (c) => reject(new Error(`child ${args.join(' ')} exited with ${c}`)));
  });
}

export async function stop(c: Child): Promise<void> {
  const done = new Promise((r) => c.proc.once('exit', r));
  c.proc.kill('SIGTERM');
  await Promise.race([done, new Promise((r) => setTimeout(r, 5000))]);
  if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
}
