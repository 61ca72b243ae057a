// Child processes for a benchmark: the sandbox (a server) and the measured run (one reconciliation).
import { fork } from 'node:child_process';
import path from 'node:path';
import { launcherFlags } from './launcher.mjs';
import { ROOT } from './paths.mjs';

const LIB = path.join(ROOT, 'bench', 'lib');

function nextMessage(child, type, id) {
  return new Promise((resolve, reject) => {
    const onMessage = (message) => {
      if (message.type !== type || (id !== undefined && message.id !== id)) return;
      cleanup();
      resolve(message);
    };
    const onExit = (code) => {
      cleanup();
      reject(new Error(`${path.basename(child.spawnfile)} child exited with ${code} before sending "${type}"`));
    };
    const cleanup = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/** Starts the sandbox in a child process; resolves once it listens. */
export async function startSandboxProcess(options) {
  const child = fork(path.join(LIB, 'sandbox-child.mjs'), [JSON.stringify(options)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = await nextMessage(child, 'ready');
  let ids = 0;
  return {
    ...ready,
    pid: child.pid,
    async stats() {
      const id = ++ids;
      child.send({ type: 'stats', id });
      return (await nextMessage(child, 'stats', id)).stats;
    },
    async close() {
      if (child.exitCode !== null) return;
      child.send({ type: 'close' });
      await nextMessage(child, 'closed').catch(() => undefined);
    },
  };
}

/**
 * Runs one reconciliation in a child process (the measured one) and resolves with what it reports: wall time of
 * the reconciliation, its counts, and the process's peak RSS. `profile` writes a V8 CPU profile into that folder;
 * `nodeOptions` are node flags for the child, by default those bin/zcc-reconcile launches with.
 */
export async function runInChild(job, { profile, nodeOptions = launcherFlags() } = {}) {
  const execArgv = [...nodeOptions, ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [])];
  if (process.env.BENCH_EXEC_ARGV) execArgv.push(...process.env.BENCH_EXEC_ARGV.split(' '));
  const child = fork(path.join(LIB, 'runner-child.mjs'), [JSON.stringify(job)], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const done = await nextMessage(child, 'done');
  await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)));
  if (done.error) throw new Error(`the measured run failed: ${done.error}`);
  return done.result;
}
