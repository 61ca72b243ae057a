// A person at a terminal: inside tmux (a real pty), `run` draws live progress while it works and ends with a clean
// summary (the bars are gone); with --quiet it draws nothing. Snapshots come from tmux capture-pane.
import { execFile, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { harness, type Harness } from '../support/harness.js';
import { BIN } from '../commands/helpers.js';

const hasTmux = (() => {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

let current: Harness | null = null;
const sockets: string[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) {
    try {
      execFileSync('tmux', ['-S', socket, 'kill-server'], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
  await current?.close();
  current = null;
});

function tmux(socket: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('tmux', ['-S', socket, '-f', '/dev/null', ...args], { timeout: 10_000 }, (error, stdout) => (error ? reject(error) : resolve(stdout)));
  });
}

/** Starts `args` in a detached 140x40 tmux pane and collects screen snapshots until the command has exited. */
async function inTerminal(h: Harness, name: string, args: string[]): Promise<{ snapshots: string[]; final: string }> {
  // A socket of our own in the test's temp folder: no shared tmux server, nothing left in /tmp/tmux-*.
  const socket = path.join(h.dir, `${name}.tmux`);
  sockets.push(socket);
  const env = h.env();
  const script = path.join(h.dir, `${name}.sh`);
  const quote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;
  writeFileSync(
    script,
    [
      'unset CI NO_COLOR FORCE_COLOR',
      `export ZOOM_ACCOUNT_ID=${quote(env.ZOOM_ACCOUNT_ID!)} ZOOM_CLIENT_ID=${quote(env.ZOOM_CLIENT_ID!)} ZOOM_CLIENT_SECRET=${quote(env.ZOOM_CLIENT_SECRET!)}`,
      `cd ${quote(h.dir)}`,
      `${quote(process.execPath)} ${quote(BIN)} ${args.map(quote).join(' ')}`,
      'echo "EXIT:$?"',
      'sleep 120',
    ].join('\n'),
  );
  await tmux(socket, ['new-session', '-d', '-s', 'zcc', '-x', '140', '-y', '40', `bash ${quote(script)}`]);
  const snapshots: string[] = [];
  const deadline = Date.now() + 45_000;
  while (Date.now() < deadline) {
    const screen = await tmux(socket, ['capture-pane', '-p', '-t', 'zcc']);
    snapshots.push(screen);
    if (/EXIT:\d+/.test(screen)) return { snapshots, final: screen };
    await new Promise((resolve) => setTimeout(resolve, 80));
  }
  throw new Error(`the command did not finish in the terminal; last screen:\n${snapshots.at(-1)}`);
}

describe.skipIf(!hasTmux && !process.env.CI)('on a terminal', () => {
  it('draws live progress while it works, then leaves a clean summary', async () => {
    const h = (current = await harness());
    // Slow downloads, so the run lasts long enough to be watched.
    h.sandbox.faults.add({ label: 'download' }, { type: 'slow', delayMs: 120 }, { times: Infinity });
    const { snapshots, final } = await inTerminal(h, 'run', ['run', '--config', h.configPath, '--from', '2026-11-17', '--to', '2026-11-19']);
    const live = snapshots.filter((screen) => /^listing\s+[█░]+ \d+\/\d+ chunks/m.test(screen) && /^pushing\s+[█░]+ \d+\/\d+ \| /m.test(screen));
    expect(live.length, `no snapshot showed the bars; first: ${snapshots[0]}`).toBeGreaterThan(1);
    const busy = live.find((screen) => /^pushing\s+\S+ ([1-9]\d*)\/(\d+)/m.test(screen))!;
    expect(busy).toMatch(/engagements \d+ pages?/);
    expect(busy).toMatch(/\d+(\.\d)? (B|KB|MB) at \d+(\.\d)? (B|KB|MB)\/s \| ETA /);
    expect(busy).toMatch(/^checked \d+ · unchanged \d+ · pending \d+ · failed 0 · elapsed \d+s/m);
    // The end: the table and the verdict, the exit code, and no trace of the bars.
    expect(final).toMatch(/^Backfill \d+ · window \[2026-11-17T00:00:00.000Z, 2026-11-20T00:00:00.000Z\)/m);
    expect(final).toMatch(/^total\s+\d+\s+0\s+\d+/m);
    expect(final).toMatch(/^✓ everything in the window is delivered, pending or not available$/m);
    expect(final).toMatch(/^EXIT:0$/m);
    expect(final).not.toMatch(/[█░]|^listing|^pushing|^checked \d+ ·/m);
    const firstLine = final.split('\n').find((line) => line.trim() !== '');
    expect(firstLine).toMatch(/^Backfill /);
  });

  it('draws nothing with --quiet, even on a terminal', async () => {
    const h = (current = await harness());
    h.sandbox.faults.add({ label: 'download' }, { type: 'slow', delayMs: 60 }, { times: Infinity });
    const { snapshots, final } = await inTerminal(h, 'quiet', ['--quiet', 'run', '--config', h.configPath, '--from', '2026-11-18', '--to', '2026-11-19']);
    for (const screen of snapshots) expect(screen).not.toMatch(/[█░]|listing|pushing/);
    expect(final.trim()).toBe('EXIT:0');
  });
});
