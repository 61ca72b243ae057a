import type { ChildProcess } from 'node:child_process';

export interface ChildServer {
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Runs `node <args>` and resolves once its output matches `ready`, whose first group is the port. */
export function startChild(args: string[], ready: RegExp, timeoutMs?: number): Promise<ChildServer>;
