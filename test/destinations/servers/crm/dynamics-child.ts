// Runs the Dataverse fake in a child process, so a test that measures this process's memory (the conformance
// suite's large upload) does not count the fake's own garbage: base64 JSON blocks are megabytes of strings each.
// The fake's TypeScript is transpiled to a temp .mjs (it imports nothing but node builtins at run time).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { startChild, type ChildServer } from '../child.js';
import type { DynamicsFakeOptions } from './dynamics.js';

export async function startDynamicsFakeChild(options: DynamicsFakeOptions = {}): Promise<{ port: number; stop: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'zcc-dynamics-child-'));
  const source = await readFile(fileURLToPath(new URL('./dynamics.ts', import.meta.url)), 'utf8');
  const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
  await writeFile(path.join(dir, 'dynamics.mjs'), outputText);
  await writeFile(
    path.join(dir, 'main.mjs'),
    `import { startDynamicsFake } from './dynamics.mjs';
const fake = await startDynamicsFake(${JSON.stringify(options)});
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
console.log('dynamics fake on port ' + new URL(fake.url).port);
`,
  );
  let child: ChildServer;
  try {
    child = await startChild([path.join(dir, 'main.mjs')], /dynamics fake on port (\d+)/);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    port: child.port,
    stop: async () => {
      await child.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
