// `listen` from the command line: listed in --help, refuses to start with nothing to listen to (exit 2, naming the
// variable), and the sandbox's event side stays apart from the product code it tests.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { harness, type Harness } from '../support/harness.js';
import { freePort, listenConfig } from './child.js';

const ROOT = path.resolve(fileURLToPath(import.meta.url), '../../..');
const BIN = path.join(ROOT, 'bin/zcc-reconcile');

function cli(args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env, cwd, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

let h: Harness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

describe('zcc-reconcile listen', () => {
  it('is listed in --help with its environment and endpoints', async () => {
    const help = await cli(['listen', '--help'], process.env, ROOT);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/ZOOM_WEBHOOK_SECRET_TOKEN/);
    expect(help.stdout).toMatch(/ZCC_FLOW_SECRET/);
    expect(help.stdout).toMatch(/\/healthz/);
    expect((await cli(['--help'], process.env, ROOT)).stdout).toMatch(/listen/);
  });

  it('exits 2 naming ZOOM_WEBHOOK_SECRET_TOKEN when it has nothing to listen to', async () => {
    h = await harness();
    const config = listenConfig(h, await freePort());
    const env = { ...h.env(), ZOOM_WEBHOOK_SECRET_TOKEN: '', ZCC_FLOW_SECRET: '' };
    const result = await cli(['--config', config, 'listen'], env, h.dir);
    expect({ code: result.code, stderr: result.stderr }).toMatchObject({ code: 2, stderr: expect.stringMatching(/ZOOM_WEBHOOK_SECRET_TOKEN/) });
  });

  it('keeps the sandbox (event sender, stream) free of product imports', () => {
    const dir = path.join(ROOT, 'src/sandbox');
    for (const file of readdirSync(dir).filter((name) => name.endsWith('.ts'))) {
      const imports = [...readFileSync(path.join(dir, file), 'utf8').matchAll(/from '(\.[^']+)'/g)].map((match) => match[1]!);
      expect({ file, outside: imports.filter((target) => !target.startsWith('./')) }).toEqual({ file, outside: [] });
    }
  });
});
