// The model registry: one immutable file per model revision under
// <data>/models/, named <version>.r<revision>.model. Revision 0 holds the
// weights a version was registered with; a promotion freezes the candidate's
// learned weights into the next revision of the same version. A file is
// written once (atomically) and never changed.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SidecarError } from '../errors.js';
import { writeFileAtomic, ensureDir } from './atomic-file.js';
import { decodeModelFile, encodeModelFile, type ModelMetadata } from './model-file.js';
import type { ModelParams } from '../kernel/model.js';
import type { ModelRef } from './control-state.js';

export const VERSION_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface RevisionInfo {
  revision: number;
  weights_sha256: string;
  created_at: string;
  /** Why it exists: "registered" or "promoted". */
  origin: string;
}

export interface ModelEntry {
  version: string;
  architecture: 'linear' | 'mlp';
  created_at: string;
  metadata: ModelMetadata;
  revisions: RevisionInfo[];
}

const FILE = /^(.+)\.r(\d+)\.model$/;

export class Registry {
  private readonly entries = new Map<string, ModelEntry>();
  /** Files that could not be read at start-up, by name, with the error. */
  readonly broken: Array<{ file: string; code: string; message: string }> = [];

  private constructor(readonly dir: string) {}

  static async open(dir: string): Promise<Registry> {
    await ensureDir(dir);
    const r = new Registry(dir);
    const files = (await readdir(dir)).filter((f) => FILE.test(f)).sort();
    for (const f of files) {
      const [, version, rev] = FILE.exec(f)!;
      try {
        const m = decodeModelFile(await readFile(join(dir, f)));
        if (m.metadata.version !== version) throw new SidecarError('E_MODEL_FILE', `file name says ${version}, contents say ${m.metadata.version}`);
        r.index(m.metadata, Number(rev), m.sha256, (m.metadata.revision_origin as string) ?? (Number(rev) === 0 ? 'registered' : 'promoted'), (m.metadata.revision_created_at as string) ?? m.metadata.created_at);
      } catch (e) {
        const err = e as SidecarError;
        r.broken.push({ file: f, code: err.code ?? 'E_MODEL_FILE', message: err.message });
      }
    }
    return r;
  }

  private index(md: ModelMetadata, revision: number, sha: string, origin: string, createdAt: string): void {
    let e = this.entries.get(md.version);
    if (!e) {
      e = { version: md.version, architecture: md.architecture, created_at: md.created_at, metadata: md, revisions: [] };
      this.entries.set(md.version, e);
    }
    e.revisions.push({ revision, weights_sha256: sha, created_at: createdAt, origin });
    e.revisions.sort((a, b) => a.revision - b.revision);
  }

  has(version: string): boolean {
    return this.entries.has(version);
  }

  get(version: string): ModelEntry | undefined {
    return this.entries.get(version);
  }

  list(): ModelEntry[] {
    return [...this.entries.values()].sort((a, b) => a.created_at.localeCompare(b.created_at) || a.version.localeCompare(b.version));
  }

  latestRevision(version: string): number {
    const e = this.entries.get(version);
    return e ? e.revisions[e.revisions.length - 1].revision : -1;
  }

  revisionInfo(ref: ModelRef): RevisionInfo | undefined {
    return this.entries.get(ref.version)?.revisions.find((r) => r.revision === ref.revision);
  }

  private path(ref: ModelRef): string {
    return join(this.dir, `${ref.version}.r${ref.revision}.model`);
  }

  /** Writes a new revision; refuses to overwrite. */
  async write(metadata: ModelMetadata, revision: number, params: ModelParams, origin: string, createdAt: string): Promise<RevisionInfo> {
    if (this.revisionInfo({ version: metadata.version, revision })) throw new SidecarError('E_DUPLICATE_VERSION', `${metadata.version} revision ${revision} exists`);
    const md: ModelMetadata = { ...metadata, revision_origin: origin, revision_created_at: createdAt };
    const { bytes, sha256 } = encodeModelFile(md, params);
    await writeFileAtomic(this.path({ version: metadata.version, revision }), bytes);
    this.index(md, revision, sha256, origin, createdAt);
    return this.revisionInfo({ version: metadata.version, revision })!;
  }

  /** Reads a revision back (checked against its SHA-256). */
  async read(ref: ModelRef): Promise<ModelParams> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.path(ref));
    } catch (e) {
      throw new SidecarError('E_MODEL_FILE', `cannot read model ${ref.version} revision ${ref.revision}: ${(e as Error).message}`);
    }
    const m = decodeModelFile(bytes);
    const want = this.revisionInfo(ref)?.weights_sha256;
    if (want && m.sha256 !== want) throw new SidecarError('E_MODEL_FILE', `model ${ref.version} revision ${ref.revision} changed on disk since start-up`);
    return m.params;
  }
}
