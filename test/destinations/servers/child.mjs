// Starts a server as a child process and waits for the line that gives its port; stop() ends that process only.
// Plain JavaScript (types in child.d.mts), so that the benchmarks, which run without a TypeScript loader, start the
// same servers with it.
import { spawn } from 'node:child_process';

export async function startChild(args, ready, timeoutMs = 30_000) {
  // stdin stays open as a lifeline: a server that sees it close (we died) exits on its own.
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${ready.source}" from ${args[0]} in ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const onData = (data) => {
      output += data.toString();
      const match = ready.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args[0]} exited with ${code}:\n${output}`));
    });
  });
  // Keep draining, so a chatty server never blocks on a full pipe.
  child.stdout.resume();
  child.stderr.resume();
  return {
    port,
    process: child,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
