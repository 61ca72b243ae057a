// Aligned text columns for the operator views (status): numbers to the right, text to the left.
import chalk from 'chalk';

export type Colour = (row: string[], text: string, column: number) => string;

const NUMERIC = /^\d+( \(gave up\))?$/;

/**
 * Aligned columns; colour is applied after padding so escape codes do not skew the widths. Columns of whole numbers,
 * and those listed in `right`, are aligned to the right.
 */
export function table(header: string[], rows: string[][], colour: Colour = (_r, t) => t, right: readonly number[] = []): string[] {
  const widths = header.map((title, index) => Math.max(title.length, ...rows.map((row) => row[index]!.length)));
  const numeric = header.map((_, index) => right.includes(index) || (rows.length > 0 && rows.every((row) => NUMERIC.test(row[index]!))));
  const pad = (text: string, index: number) => (numeric[index] ? text.padStart(widths[index]!) : text.padEnd(widths[index]!));
  return [
    chalk.dim(`  ${header.map(pad).join('  ')}`.trimEnd()),
    ...rows.map((row) => `  ${row.map((text, index) => colour(row, pad(text, index), index)).join('  ')}`.trimEnd()),
  ];
}

export function shortTime(iso: string): string {
  return iso.replace('T', ' ').replace(/:\d{2}(\.\d{3})?Z$/, 'Z');
}

export function truncate(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
