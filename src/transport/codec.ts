// msgpackr settings, in one place. Records (structures) are off: every frame
// must decode on its own, without shared state between peers or files.
// Typed arrays round-trip as such; `undefined` is not encoded.
import { Packr } from 'msgpackr';

export const packr = new Packr({ useRecords: false, moreTypes: true, mapsAsObjects: true, int64AsType: 'number' });

export function pack(v: unknown): Buffer {
  return packr.pack(v);
}

export function unpack(b: Uint8Array): unknown {
  return packr.unpack(b);
}
