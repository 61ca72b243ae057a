// Text entries kept as blocks of one Task Description (`notes: "description"`): each block is an entry's rendered
// text, whose last line is its marker; blocks are separated by a blank line. Pure functions, no I/O.
import { markerOf } from '../crm/adapter.js';

const SEPARATOR = '\n\n';

interface Span {
  start: number;
  end: number;
}

/** Where the block for `key` sits in `description`: from after the previous block's marker to the end of its own. */
function spanOf(description: string, key: string): Span | null {
  const marker = markerOf(key);
  let at = description.indexOf(marker);
  while (at >= 0) {
    const end = at + marker.length;
    const lineStart = at === 0 || description[at - 1] === '\n';
    const lineEnd = end === description.length || description[end] === '\n';
    if (lineStart && lineEnd) return { start: startOfBlock(description, at), end };
    at = description.indexOf(marker, at + 1);
  }
  return null;
}

/** A block starts after the preceding marker line and its separator, or at the top. */
function startOfBlock(description: string, markerAt: number): number {
  const before = description.slice(0, markerAt);
  const previousMarker = /\[zcc:[^\n]*\]\n/g;
  let start = 0;
  for (let match = previousMarker.exec(before); match; match = previousMarker.exec(before)) {
    if (match.index === 0 || before[match.index - 1] === '\n') start = match.index + match[0].length;
  }
  while (description[start] === '\n') start += 1;
  return start;
}

export function readBlock(description: string, key: string): string | null {
  const span = spanOf(description, key);
  return span ? description.slice(span.start, span.end) : null;
}

/** The description with `text` as the key's block: replaced where it was, else appended. */
export function putBlock(description: string, key: string, text: string): string {
  const span = spanOf(description, key);
  if (span) return description.slice(0, span.start) + text + description.slice(span.end);
  return description.trimEnd() === '' ? text : description.trimEnd() + SEPARATOR + text;
}

/** The description without the key's block (and its separator). */
export function dropBlock(description: string, key: string): string {
  const span = spanOf(description, key);
  if (!span) return description;
  const before = description.slice(0, span.start).replace(/\n+$/, '');
  const after = description.slice(span.end).replace(/^\n+/, '');
  return before && after ? before + SEPARATOR + after : before + after;
}
