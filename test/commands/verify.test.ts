// `verify`: detects a corrupted and a deleted file, reports them as a table and as schema-valid JSON, changes nothing
// without --repair, and with --repair re-queues exactly those so the next run re-delivers exactly those.
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { harness, walkArchive, type Harness, type StoredFile } from '../support/harness.js';
import { cli, schemaErrors } from './helpers.js';

const WINDOW = ['--from', '2026-11-18', '--to', '2026-11-19'];

let current: Harness | null = null;
afterEach(async () => {
  await current?.close();
  current = null;
});

/** Flips bytes in the middle of a file, keeping its size: only the checksum can tell. */
function corrupt(file: StoredFile): void {
  const bytes = readFileSync(file.path);
  for (let i = Math.floor(bytes.length / 2); i < Math.floor(bytes.length / 2) + 8 && i < bytes.length; i++) bytes[i] = bytes[i]! ^ 0xff;
  writeFileSync(file.path, bytes);
}

function ledgerHash(h: Harness): string {
  return createHash('sha256').update(readFileSync(h.ledgerPath)).digest('hex') + statSync(h.ledgerPath).mtimeMs;
}

describe('verify', () => {
  it('finds files where the ledger says after zoom.timezone changed, and --repair re-queues none of them', async () => {
    const h = (current = await harness());
    expect(await cli(['run', '--config', h.configPath, ...WINDOW], h.env(), h.dir)).toMatchObject({ code: 0, stderr: '' });
    const delivered = walkArchive(h.archive).length;
    // Folders are dated in zoom.timezone: most of these would be a day later in UTC+14.
    const moved = path.join(h.dir, 'kiritimati.json');
    const raw = JSON.parse(readFileSync(h.configPath, 'utf8')) as { zoom: Record<string, unknown> };
    writeFileSync(moved, JSON.stringify({ ...raw, zoom: { ...raw.zoom, timezone: 'Pacific/Kiritimati' } }));
    const verified = await cli(['verify', '--config', moved, '--repair', '--format', 'json'], h.env(), h.dir);
    expect(verified.code).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ checked: delivered, ok: delivered, missing: 0, differs: 0, requeued: 0 });
  });

  it('finds a corrupted and a deleted file; --repair re-queues them and the next run re-delivers exactly those', async () => {
    const h = (current = await harness());
    expect(await cli(['run', '--config', h.configPath, ...WINDOW], h.env(), h.dir)).toMatchObject({ code: 0, stderr: '' });
    const files = walkArchive(h.archive);
    const recording = files.find((file) => file.key.startsWith('recording/'))!;
    const note = files.find((file) => file.key.startsWith('note/'))!;
    corrupt(recording);
    rmSync(note.path);

    const clean = await cli(['verify', '--config', h.configPath, '--kinds', 'disposition'], h.env(), h.dir);
    expect(clean).toMatchObject({ code: 0, stderr: '', signal: null });
    expect(clean.stdout).toMatch(/^Verified \d+ delivered artifact\(s\) \(exists, size and sha256\): \d+ match · 0 missing · 0 differ · 0 errors$/m);
    // --quiet: nothing on success; what is wrong is still printed.
    expect(await cli(['--quiet', 'verify', '--config', h.configPath, '--kinds', 'disposition'], h.env(), h.dir)).toMatchObject({ code: 0, stdout: '', stderr: '' });
    const quietProblems = await cli(['--quiet', 'verify', '--config', h.configPath], h.env(), h.dir);
    expect(quietProblems.code).toBe(1);
    expect(quietProblems.stdout).toContain(recording.key);

    const before = ledgerHash(h);
    const table = await cli(['verify', '--config', h.configPath], { ...h.env(), FORCE_COLOR: '0' }, h.dir);
    expect(table.code).toBe(1);
    const lines = table.stdout.trim().split('\n');
    const marked = lines.filter((line) => /^[-*!] /.test(line));
    expect(marked).toHaveLength(2);
    expect(marked).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`^\\* ${recording.key} → archive: sha256 [0-9a-f]{12}…, the ledger says ${recording.sha256.slice(0, 12)}…$`)),
        expect.stringMatching(new RegExp(`^- ${note.key} → archive: missing at \\d{4}/\\d{2}/\\d{2}/`)),
      ]),
    );
    expect(table.stdout).toMatch(new RegExp(`Verified ${files.length} delivered artifact\\(s\\) \\(exists, size and sha256\\): ${files.length - 2} match · 1 missing · 1 differ · 0 errors`));
    expect(table.stdout).toContain('run `zcc-reconcile verify --repair` to re-queue them for the next run');
    expect(ledgerHash(h)).toBe(before);

    // Size only: the deletion shows, the same-size corruption cannot.
    const sizeOnly = await cli(['verify', '--config', h.configPath, '--size-only', '--format', 'json'], h.env(), h.dir);
    const quick = JSON.parse(sizeOnly.stdout);
    expect(schemaErrors('verify-report', quick)).toEqual([]);
    expect(quick).toMatchObject({ sizeOnly: true, missing: 1, differs: 0, exitCode: 1 });

    const json = await cli(['verify', '--config', h.configPath, '--format', 'json'], h.env(), h.dir);
    const report = JSON.parse(json.stdout);
    expect(schemaErrors('verify-report', report)).toEqual([]);
    expect(report).toMatchObject({ checked: files.length, ok: files.length - 2, missing: 1, differs: 1, errors: 0, requeued: 0, exitCode: 1, problemsTotal: 2 });
    expect(report.problems.map((problem: { key: string; problem: string }) => [problem.key, problem.problem]).sort()).toEqual(
      [[note.key, 'missing'], [recording.key, 'differs']].sort(),
    );

    const repair = await cli(['verify', '--config', h.configPath, '--repair', '--format', 'json'], h.env(), h.dir);
    expect(repair.code).toBe(1);
    expect(JSON.parse(repair.stdout)).toMatchObject({ repair: true, requeued: 2 });
    const status = JSON.parse((await cli(['status', '--config', h.configPath, '--format', 'json'], h.env(), h.dir)).stdout);
    expect(status.failing.items.map((item: { key: string }) => item.key).sort()).toEqual([note.key, recording.key].sort());
    expect(status.failing.items[0].lastError).toMatch(/^verify: /);

    // The next run (any window: failed deliveries are retried from the ledger) re-delivers exactly those two.
    const next = await cli(['--log-format', 'json', 'run', '--config', h.configPath, '--from', '2026-11-12', '--to', '2026-11-12'], h.env(), h.dir);
    expect(next.code).toBe(0);
    const delivered = next.stderr.trim().split('\n').map((line) => JSON.parse(line)).filter((record) => record.event === 'artifact_delivered');
    const redelivered = delivered.map((record) => record.key).filter((key: string) => key === note.key || key === recording.key);
    expect(redelivered.sort()).toEqual([note.key, recording.key].sort());
    const sameWindow = await cli(['--log-format', 'json', 'run', '--config', h.configPath, ...WINDOW], h.env(), h.dir);
    expect(sameWindow.stderr.split('\n').filter((line) => line.includes('"artifact_delivered"'))).toEqual([]);

    const after = walkArchive(h.archive);
    expect(after.find((file) => file.key === recording.key)!.sha256).toBe(recording.sha256);
    expect(after.find((file) => file.key === note.key)!.sha256).toBe(note.sha256);
    const fine = await cli(['verify', '--config', h.configPath, ...WINDOW], h.env(), h.dir);
    expect(fine.code).toBe(0);
    expect(fine.stdout).toMatch(/0 missing · 0 differ · 0 errors/);
  });

  it('re-delivers exactly the repaired keys when the next run covers the same window', async () => {
    const h = (current = await harness());
    expect(await cli(['run', '--config', h.configPath, ...WINDOW], h.env(), h.dir)).toMatchObject({ code: 0, stderr: '' });
    const files = walkArchive(h.archive);
    const victims = [files.find((file) => file.key.startsWith('disposition/'))!, files.find((file) => file.key.startsWith('voicemail/'))!];
    rmSync(victims[0]!.path);
    writeFileSync(victims[1]!.path, 'short');
    const repair = await cli(['verify', '--config', h.configPath, '--repair'], { ...h.env(), FORCE_COLOR: '0' }, h.dir);
    expect(repair.code).toBe(1);
    expect(repair.stdout).toMatch(new RegExp(`^\\* ${victims[1]!.key} → archive: size 5, the ledger says ${victims[1]!.size}$`, 'm'));
    expect(repair.stdout).toContain('re-queued 2: the next `zcc-reconcile run` delivers them again');
    const next = await cli(['run', '--config', h.configPath, ...WINDOW, '--format', 'csv'], h.env(), h.dir);
    const delivered = next.stdout.split('\n').filter((line) => line.split(',')[5] === 'delivered').map((line) => line.split(',')[1]);
    expect(delivered.sort()).toEqual(victims.map((file) => file.key).sort());
    expect(next.stdout.split('\n').filter((line) => line.includes(',delivered,'))[0]).toMatch(/,retry$/);
  });

  it('filters by window, kind and destination, and refuses bad filters', async () => {
    const h = (current = await harness());
    expect(await cli(['run', '--config', h.configPath, ...WINDOW], h.env(), h.dir)).toMatchObject({ code: 0, stderr: '' });
    const all = JSON.parse((await cli(['verify', '--config', h.configPath, '--format', 'json'], h.env(), h.dir)).stdout);
    const day = JSON.parse((await cli(['verify', '--config', h.configPath, '--format', 'json', '--from', '2026-11-19', '--to', '2026-11-19'], h.env(), h.dir)).stdout);
    const notes = JSON.parse((await cli(['verify', '--config', h.configPath, '--format', 'json', '--kinds', 'note'], h.env(), h.dir)).stdout);
    expect(all.checked).toBe(walkArchive(h.archive).length);
    expect(day.checked).toBeGreaterThan(0);
    expect(day.checked).toBeLessThan(all.checked);
    expect(notes.checked).toBe(walkArchive(h.archive).filter((file) => file.key.startsWith('note/')).length);
    expect(notes.filter).toMatchObject({ kinds: ['note'], from: null });
    expect(await cli(['verify', '--config', h.configPath, '--destination', 'nope'], h.env(), h.dir)).toMatchObject({ code: 2, stderr: expect.stringMatching(/--destination: "nope" is not valid/) });
    expect(await cli(['verify', '--config', h.configPath, '--kinds', 'notes'], h.env(), h.dir)).toMatchObject({ code: 2 });
  });
});
