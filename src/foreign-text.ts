// Text another service wrote (an error message, the body of an answer) goes into our messages, the ledger and the
// operator's terminal. Its control characters become spaces (an escape sequence could retitle or clear the terminal,
// or fake a line of our output), and secrets it echoes are removed before it is cut short: a secret cut in half no
// longer matches any redactor.
import { redactSecrets } from './redact.js';

// C0 and C1 controls, and the Unicode line separators and bidirectional overrides that reorder what a terminal shows.
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]+/g;

export function printable(text: string): string {
  return text.replace(CONTROLS, ' ');
}

/** `text` as one printable line of at most `max` characters, secrets removed first. */
export function foreignLine(text: string, max: number): string {
  // A bounded prefix is redacted: any secret that starts inside the first `max` characters ends inside it.
  const line = printable(redactSecrets(text.slice(0, max + 8192))).replace(/\s+/g, ' ').trim();
  return line.length > max ? line.slice(0, max) : line;
}
