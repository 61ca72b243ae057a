// Bad input the user controls: a one-line error naming the value, exit 2, nothing written anywhere.
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { runReconciliation } from '../../src/run.js';
import { harness, listFiles, type Harness } from '../support/harness.js';

let current: Harness | null = null;
afterEach(async () => {
  await current?.close();
  current = null;
});

describe('bad user input', () => {
  it('refuses a ledger path that cannot be written, naming ledger.path, before touching Zoom', async () => {
    const h = (current = await harness());
    const blocker = path.join(h.dir, 'not-a-folder');
    writeFileSync(blocker, 'x');
    const config = { ...h.config, ledger: { path: path.join(blocker, 'ledger.sqlite') } };
    await expect(runReconciliation({ config, secrets: h.sandbox.credentials, from: '2026-11-18', to: '2026-11-19' })).rejects.toThrow(
      ConfigError,
    );
    await expect(runReconciliation({ config, secrets: h.sandbox.credentials, from: '2026-11-18', to: '2026-11-19' })).rejects.toThrow(
      /^ledger\.path: ".*not-a-folder\/ledger\.sqlite" is not valid; expected a file the tool can create and write \((ENOTDIR|EEXIST)\)$/,
    );
    expect(h.sandbox.requests).toHaveLength(0);
    expect(listFiles(h.archive)).toEqual([]);
  });

  it('refuses impossible windows before opening the ledger', async () => {
    const h = (current = await harness());
    for (const bounds of [{ from: '2026-11-10', to: '2026-11-01' }, { from: 'yesterday' }, { from: '2027-01-01', to: '2027-02-01' }]) {
      await expect(h.run(bounds)).rejects.toThrow(/--from/);
    }
    expect(existsSync(h.ledgerPath)).toBe(false);
    expect(h.sandbox.requests).toHaveLength(0);
  });
});
