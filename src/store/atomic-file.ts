// Durable file writes. A file replaced with writeFileAtomic is, after the
// promise resolves, either entirely the old contents or entirely the new ones,
// even across a kill -9 or a power cut: the bytes go to a temporary file in
// the same directory, which is fsynced, renamed over the target, and the
// directory is fsynced so the rename itself is on disk.
import { open, rename, unlink, mkdir } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';

export async function fsyncDir(dir: string): Promise<void> {
  const h = await open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const h = await open(tmp, 'wx', 0o600);
  try {
    await h.writeFile(data);
    await h.sync();
  } catch (e) {
    await h.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await h.close();
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await fsyncDir(dir);
}

/** Creates a directory (and parents) and makes its entry durable. */
export async function ensureDir(path: string): Promise<void> {
  await mkdir(path, { recursive: true });
  await fsyncDir(dirname(path)).catch(() => {});
}
