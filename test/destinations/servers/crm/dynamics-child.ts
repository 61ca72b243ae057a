// Runs the Dataverse fake in a child process, so a test that measures this process's memory (the conformance
// suite's large upload) does not count the fake's own garbage: base64 JSON blocks are megabytes of strings each.
// The fake's TypeScript (and the loopback helper it imports) is transpiled to a temp folder.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { startChild, type ChildServer } from '../child.mjs';
import type { DynamicsFakeOptions } from './dynamics.js';

export async function startDynamicsFakeChild(options: DynamicsFakeOptions = {}): Promise<{ port: number; stop: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'zcc-dynamics-child-'));
  // The same layout as here, so the fake's relative imports resolve: crm/dynamics.js beside ../loopback.js.
  await mkdir(path.join(dir, 'crm'));
  await writeFile(path.join(dir, 'package.json'), '{ "type": "module" }\n');
  for (const file of ['crm/dynamics', 'loopback']) {
    const source = await readFile(fileURLToPath(new URL(`../${file}.ts`, import.meta.url)), 'utf8');
    const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
    await writeFile(path.join(dir, `${file}.js`), outputText);
  }
  await writeFile(
    path.join(dir, 'main.js'),
    `import { startDynamicsFake } from './crm/dynamics.js';
const fake = await startDynamicsFake(${JSON.stringify(options)});
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
console.log('dynamics fake on port ' + new URL(fake.url).port);
`,
  );
  let child: ChildServer;
  try {
    child = await startChild([path.join(dir, 'main.js')], /dynamics fake on port (\d+)/);
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
