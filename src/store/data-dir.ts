// The data directory's layout and its single-owner lock.
import { open, readFile, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { SidecarError } from '../errors.js';
import { ensureDir } from './atomic-file.js';

export interface DataPaths {
  root: string;
  models: string;
  audit: string;
  failures: string;
  quarantine: string;
  state: string;
  lock: string;
  checkpoint: string;
}

export function dataPaths(dir: string): DataPaths {
  // Absolute, so the paths the server reports (an incident's `path` in its
  // reply and its log line) mean the same file wherever they are read.
  const root = resolve(dir);
  return {
    root, models: join(root, 'models'), audit: join(root, 'audit'), failures: join(root, 'failures'),
    quarantine: join(root, 'quarantine'), state: join(root, 'state'), lock: join(root, 'LOCK'), checkpoint: join(root, 'candidate.ckpt'),
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the directory's lock file (O_EXCL, holding our pid). A lock left by a
 * process that no longer exists (kill -9) is taken over; one held by a live
 * process is E_DATA_DIR_LOCKED.
 */
export async function acquireLock(p: DataPaths): Promise<() => Promise<void>> {
  await ensureDir(p.root);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const h = await open(p.lock, 'wx', 0o600);
      await h.writeFile(`${process.pid}\n`);
      await h.sync();
      await h.close();
      return async () => { await unlink(p.lock).catch(() => {}); };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number((await readFile(p.lock, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
        throw new SidecarError('E_DATA_DIR_LOCKED', `the data directory ${p.root} is in use by process ${pid} (remove ${p.lock} only if that is not shadowpath)`);
      }
      await unlink(p.lock).catch(() => {});
    }
  }
  throw new SidecarError('E_DATA_DIR_LOCKED', `could not take the lock ${p.lock}`);
}
