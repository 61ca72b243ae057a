// Faults on demand: each added fault matches requests by operation, label or path, skips `after` of them, fires
// `times`, and is logged in `fired`. A fault only counts requests it can act on (a download fault ignores lists).
export type FaultLabel = 'Light' | 'Medium' | 'Heavy' | 'download' | 'token';
export type FaultTarget = { operationId?: string; label?: FaultLabel; pathIncludes?: string };
export type Fault =
  | { type: 'status'; status: number; body?: unknown; headers?: Record<string, string> }
  | { type: 'reset' }
  | { type: 'resetMidBody'; afterBytes: number }
  | { type: 'truncate'; bytes: number }
  | { type: 'slow'; delayMs: number }
  | { type: 'slowBody'; bytesPerSecond: number }
  | { type: 'html' }
  | { type: 'wrongLength'; delta: number }
  | { type: 'stalePageToken' }
  | { type: 'repeatPageToken' }
  /** Answers a page token with the one sent before it for the same query: A, B, A, B … */
  | { type: 'cyclePageToken' }
  | { type: 'shiftPage'; by: number }
  | { type: 'moveItem' }
  | { type: 'duplicateItems' }
  | { type: 'expireToken' }
  | { type: 'expireToken400' }
  /** The other body Zoom sends for an expired token (PRODUCT.md "Expired tokens"). */
  | { type: 'expireTokenErrorCode' }
  | { type: 'redirect'; location: string }
  | { type: 'malformed'; body: string };

export interface Faults {
  add(target: FaultTarget, fault: Fault, options?: { times?: number; after?: number }): void;
  clear(): void;
  refuseCredentials(refuse: boolean): void;
  readonly fired: { fault: string; path: string }[];
}

/** What the server knows about a request when it asks for a fault. */
export interface FaultContext {
  operationId: string | null;
  label: FaultLabel | null;
  path: string;
  kind: 'token' | 'list' | 'get' | 'download';
  hasPageToken: boolean;
  hasBearer: boolean;
}

interface Armed { target: FaultTarget; fault: Fault; remaining: number; skip: number }

const DOWNLOAD_ONLY = new Set(['resetMidBody', 'truncate', 'slowBody', 'wrongLength', 'redirect']);
const LIST_ONLY = new Set(['repeatPageToken', 'cyclePageToken', 'shiftPage', 'moveItem', 'duplicateItems']);
/** List faults that act on a page token, so only on requests that send one. */
const ON_PAGE_TOKEN = new Set(['repeatPageToken', 'cyclePageToken', 'stalePageToken']);

/** A fault the list handler itself applies to the page it answers (the others replace or delay the answer). */
export function isListFault(fault: Fault): boolean {
  return LIST_ONLY.has(fault.type);
}

function applicable(fault: Fault, ctx: FaultContext): boolean {
  if (DOWNLOAD_ONLY.has(fault.type)) return ctx.kind === 'download';
  if (ON_PAGE_TOKEN.has(fault.type)) return ctx.kind === 'list' && ctx.hasPageToken;
  if (LIST_ONLY.has(fault.type)) return ctx.kind === 'list';
  if (fault.type === 'expireToken' || fault.type === 'expireToken400' || fault.type === 'expireTokenErrorCode') return ctx.kind !== 'token' && ctx.hasBearer;
  return true;
}

function matches(target: FaultTarget, ctx: FaultContext): boolean {
  if (target.operationId !== undefined && target.operationId !== ctx.operationId) return false;
  if (target.label !== undefined && target.label !== ctx.label) return false;
  if (target.pathIncludes !== undefined && !ctx.path.includes(target.pathIncludes)) return false;
  return true;
}

export class FaultBook implements Faults {
  readonly fired: { fault: string; path: string }[] = [];
  credentialsRefused = false;
  private armed: Armed[] = [];

  constructor(private readonly onClear: () => void) {}

  add(target: FaultTarget, fault: Fault, options: { times?: number; after?: number } = {}): void {
    this.armed.push({ target, fault, remaining: options.times ?? 1, skip: options.after ?? 0 });
  }

  clear(): void {
    this.armed = [];
    this.credentialsRefused = false;
    this.onClear();
  }

  refuseCredentials(refuse: boolean): void {
    this.credentialsRefused = refuse;
  }

  /** The fault this request gets, if any (consumed and logged). */
  take(ctx: FaultContext): Fault | null {
    let chosen: Fault | null = null;
    for (const a of this.armed) {
      if (a.remaining <= 0 || !matches(a.target, ctx) || !applicable(a.fault, ctx)) continue;
      // Every matching fault counts the request towards its `after`, even when an earlier fault fires.
      if (a.skip > 0) {
        a.skip--;
        continue;
      }
      if (chosen) continue;
      a.remaining--;
      chosen = a.fault;
    }
    this.armed = this.armed.filter((a) => a.remaining > 0);
    if (chosen) this.fired.push({ fault: chosen.type, path: ctx.path });
    return chosen;
  }
}
