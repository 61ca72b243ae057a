// Downloads arrive as 64 KiB buffers outside the V8 heap. V8 frees them only when it collects their small wrappers,
// and it schedules that by external memory (tens of MB), not by what passes through: a fast download left 10-25 MB
// of spent buffers resident at any moment. With `--expose-gc` (bin/zcc-reconcile sets it), a young-generation
// collection every few MB streamed frees them at once; a scavenge of the 1 MiB young space takes well under a
// millisecond. Without the flag (tests, embedding) this does nothing.

const EVERY_BYTES = 8 * 1024 * 1024;

type Collect = (options: { type: 'minor' }) => void;
const collect = (globalThis as { gc?: Collect }).gc;
let sinceLast = 0;

/** Counts bytes streamed from Zoom; runs a young-generation collection after every 8 MiB. */
export function countStreamedBytes(bytes: number): void {
  if (!collect) return;
  sinceLast += bytes;
  if (sinceLast < EVERY_BYTES) return;
  sinceLast = 0;
  collect({ type: 'minor' });
}
