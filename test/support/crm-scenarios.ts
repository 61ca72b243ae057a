// The end-to-end scenarios every CRM destination passes: full `run`s against the built-in ZCC sandbox with the CRM
// (a strict fake of it) configured beside a filesystem archive, each checked against the sandbox's own truth and the
// fake's own state. A CRM's test file is one call: crmScenarios('<type>', () => start<Crm>Fake(...)).
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { TruthArtifact } from '../../src/sandbox/index.js';
import type { CrmFakeView, CrmHeldRecord } from '../destinations/servers/crm/view.js';
import { ensureBuild, startCli } from '../faults/child.js';
import { harness, NOW, walkArchive, type Harness, type HarnessOptions } from './harness.js';

const DAY = 86_400_000;
const LINK_BASE = 'https://recordings.example.com/';
const TEXT_KINDS = new Set(['note', 'disposition', 'recording_transcript', 'messaging_transcript', 'voicemail_transcript']);
/** Media up to 1.6 MB against a fake limit of about 1 MB: some recordings and voicemails become links. */
const DATA: HarnessOptions = { seed: 11, engagementsPerDay: 6, days: 4, mediaBytes: { min: 40_000, max: 1_600_000 } };

interface Setup {
  h: Harness;
  fake: CrmFakeView;
  window: { from: Date; to: Date };
  bounds: { from: string; to: string };
}

export function crmScenarios(type: string, startFake: () => Promise<CrmFakeView>): void {
  describe(`CRM end to end: ${type}`, () => {
    const open: Setup[] = [];
    afterEach(async () => {
      vi.unstubAllEnvs();
      for (const setup of open.splice(0)) await Promise.allSettled([setup.h.close(), setup.fake.close()]);
    });

    async function setup(options: { env?: 'good' | 'bad'; realTime?: boolean; extra?: Record<string, unknown> } = {}): Promise<Setup> {
      const fake = await startFake();
      expect(fake.type).toBe(type);
      for (const [name, value] of Object.entries(options.env === 'bad' ? fake.badEnv() : fake.env())) vi.stubEnv(name, value);
      const crm = fake.destinationConfig('crm', { linkTemplate: `${LINK_BASE}{key}`, ...options.extra });
      const h = await harness({
        ...DATA,
        ...(options.realTime ? { now: () => new Date() } : {}),
        config: { destinations: [{ name: 'archive', type: 'filesystem', path: './archive' }, crm] },
      });
      const end = options.realTime ? Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate()) - DAY : NOW.getTime();
      const window = { from: new Date(end - 2 * DAY), to: new Date(end) };
      const bounds = { from: window.from.toISOString(), to: window.to.toISOString() };
      const created = { h, fake, window, bounds };
      open.push(created);
      return created;
    }

    const run = (s: Setup) => s.h.run({ from: s.bounds.from, to: s.bounds.to });

    it('a full run: one record per engagement, every text once, each file attached or linked by size; a second run changes nothing', async () => {
      const s = await setup();
      const first = await run(s);
      expect(first.exitCode, failures(first)).toBe(0);
      const truth = await expectExactlyOnce(s);
      expect(truth.some((artifact) => isMedia(artifact) && artifact.size > s.fake.fileLimitBytes), 'some media over the limit').toBe(true);
      expect(truth.some((artifact) => isMedia(artifact) && artifact.size <= s.fake.fileLimitBytes), 'some media under the limit').toBe(true);
      for (const record of s.fake.records()) expect(record.internalOnly, `record ${record.id} is agents-only`).toBe(true);

      const before = s.fake.records();
      const second = await run(s);
      expect(second.exitCode).toBe(0);
      expect(second.tally.total('delivered')).toBe(0);
      expect(s.fake.records()).toEqual(before);
    });

    it('an edited note updates its copy (or adds one marked replacement where the CRM cannot edit), nothing else', async () => {
      const s = await setup();
      expect((await run(s)).exitCode).toBe(0);
      const note = s.h.sandbox.truth.artifacts(s.window).find((artifact) => artifact.kind === 'note')!;
      const [, engagementId, noteId] = note.key.split('/');
      const before = entryCounts(s.fake.records());
      s.h.sandbox.mutate.editNote(engagementId!, noteId!, 'Edited: customer called back, all resolved.');
      const after = await run(s);
      expect(after.exitCode, failures(after)).toBe(0);
      // The edit goes to the archive and to the CRM.
      expect(after.tally.total('delivered')).toBe(2);
      const entries = s.fake.records().flatMap((record) => record.texts).filter((text) => text.key === note.key);
      expect(entries.length).toBe(s.fake.editsInPlace ? 1 : 2);
      expect(entries.filter((entry) => entry.text.includes('Edited: customer called back, all resolved.')).length).toBe(1);
      const counts = entryCounts(s.fake.records());
      counts.set(note.key, before.get(note.key)!);
      expect(counts).toEqual(before);
    });

    it('a 429 storm pauses the whole destination for its Retry-After and every artifact still arrives once', async () => {
      const s = await setup();
      s.fake.faults.rateLimitStorm(12);
      const result = await run(s);
      expect(result.exitCode, failures(result)).toBe(0);
      await expectExactlyOnce(s);
      const log = s.fake.log();
      const limited = log.filter((entry) => entry.retryAfterMs !== undefined);
      expect(limited.length).toBeGreaterThan(0);
      // Requests already on the wire when the 429 left may still arrive; none may be sent inside the pause.
      const grace = 150;
      for (const answer of limited) {
        const inside = log.filter((entry) => !entry.token && entry.at > answer.at + grace && entry.at < answer.at + answer.retryAfterMs! - 50);
        expect(inside, `requests inside the pause after the 429 at ${answer.at}`).toEqual([]);
      }
    });

    it('a spent daily allowance ends the destination for the run after a few requests; the archive gets everything; the next run completes', async () => {
      const s = await setup();
      s.fake.faults.dailyLimit(true);
      const stopped = await run(s);
      expect(stopped.exitCode).toBe(1);
      expect(failures(stopped)).toMatch(/crm/);
      const refused = s.fake.log().filter((entry) => !entry.token);
      expect(refused.length).toBeLessThanOrEqual(s.h.config.concurrency + 4);
      expect(walkArchive(s.h.archive).length).toBe(s.h.sandbox.truth.artifacts(s.window).length);

      s.fake.faults.dailyLimit(false);
      const next = await run(s);
      expect(next.exitCode, failures(next)).toBe(0);
      await expectExactlyOnce(s);
    });

    it('expired tokens mid-run are refreshed and the run completes', async (context) => {
      const s = await setup();
      const tokenRequests = () => s.fake.log().filter((entry) => entry.token).length;
      let expired = false;
      s.fake.onWrite((writes) => {
        if (writes === 5 && !expired) {
          expired = true;
          s.fake.faults.expireTokens();
        }
      });
      const result = await run(s);
      expect(result.exitCode, failures(result)).toBe(0);
      expect(expired).toBe(true);
      await expectExactlyOnce(s);
      // A static token (HubSpot's private-app token) cannot be refreshed: there is no token endpoint to see.
      if (tokenRequests() === 0) context.skip();
      expect(tokenRequests()).toBeGreaterThanOrEqual(2);
    });

    it('refused credentials fail only this destination, after a few requests; the archive gets everything', async () => {
      const s = await setup({ env: 'bad' });
      const result = await run(s);
      expect(result.exitCode).toBe(1);
      expect(failures(result)).toMatch(/crm/);
      expect(s.fake.log().length).toBeLessThanOrEqual(4);
      expect(s.fake.records()).toEqual([]);
      expect(walkArchive(s.h.archive).length).toBe(s.h.sandbox.truth.artifacts(s.window).length);
    });

    describe('killed mid-run', () => {
      beforeAll(() => ensureBuild());

      it('SIGKILL after some CRM writes, then a re-run: no duplicate record, entry or file', async () => {
        const s = await setup({ realTime: true });
        for (const killAt of [3, 17]) {
          const child = startCli(['run', '--config', s.h.configPath, '--from', s.bounds.from.slice(0, 10), '--to', dayBefore(s.bounds.to)], { ...s.h.env(), ...s.fake.env() }, s.h.dir);
          let killed = false;
          s.fake.onWrite((writes) => {
            if (writes >= killAt && !killed) {
              killed = true;
              child.process.kill('SIGKILL');
            }
          });
          const exited = await child.exited;
          expect(exited.signal ?? String(exited.code), exited.stderr).toBe(killed ? 'SIGKILL' : '0');
        }
        const resumed = startCli(['run', '--config', s.h.configPath, '--from', s.bounds.from.slice(0, 10), '--to', dayBefore(s.bounds.to)], { ...s.h.env(), ...s.fake.env() }, s.h.dir);
        const done = await resumed.exited;
        expect(done.code, done.stderr).toBe(0);
        await expectExactlyOnce(s);
      }, 120_000);
    });

    /** Checks the fake against the sandbox's truth for the window; returns the truth. */
    async function expectExactlyOnce(s: Setup): Promise<TruthArtifact[]> {
      const truth = s.h.sandbox.truth.artifacts(s.window);
      const records = s.fake.records();
      const byEngagement = new Map<string, CrmHeldRecord[]>();
      for (const record of records) byEngagement.set(record.engagementId, [...(byEngagement.get(record.engagementId) ?? []), record]);
      for (const engagementId of new Set(truth.map((artifact) => artifact.engagementId))) {
        expect(byEngagement.get(engagementId)?.length ?? 0, `records for engagement ${engagementId}`).toBe(1);
      }
      const texts = records.flatMap((record) => record.texts.map((text) => ({ ...text, engagementId: record.engagementId })));
      const files = records.flatMap((record) => record.files.map((file) => ({ ...file, engagementId: record.engagementId })));
      for (const artifact of truth) {
        const ownTexts = texts.filter((text) => text.key === artifact.key);
        const ownFiles = files.filter((file) => file.key === artifact.key);
        if (TEXT_KINDS.has(artifact.kind)) {
          expect(ownTexts.length + ownFiles.length, `entries for ${artifact.key}`).toBe(1);
          const [entry] = ownTexts;
          if (entry) {
            expect(entry.engagementId).toBe(artifact.engagementId);
            const words = await wordsOf(s.h, artifact);
            if (words) expect(entry.text, artifact.key).toContain(words);
          }
        } else if (artifact.size > s.fake.fileLimitBytes) {
          expect(ownFiles, `no file for ${artifact.key} (over the limit)`).toEqual([]);
          expect(ownTexts.length, `one link for ${artifact.key}`).toBe(1);
          expect(ownTexts[0]!.text).toContain(`${LINK_BASE}${artifact.key}`);
        } else {
          expect(ownTexts, `no link for ${artifact.key} (under the limit)`).toEqual([]);
          expect(ownFiles.map(({ size, sha256, engagementId }) => ({ size, sha256, engagementId })), artifact.key).toEqual([
            { size: artifact.size, sha256: artifact.sha256, engagementId: artifact.engagementId },
          ]);
        }
      }
      const known = new Set(truth.map((artifact) => artifact.key));
      expect([...texts, ...files].filter((entry) => !known.has(entry.key)).map((entry) => entry.key), 'entries for keys outside the truth').toEqual([]);
      return truth;
    }
  });
}

function isMedia(artifact: TruthArtifact): boolean {
  return !TEXT_KINDS.has(artifact.kind);
}

function entryCounts(records: CrmHeldRecord[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const entry of records.flatMap((record) => [...record.texts, ...record.files])) counts.set(entry.key, (counts.get(entry.key) ?? 0) + 1);
  return counts;
}

/** A phrase of the artifact's own text that an agent must find on the record (a transcript's first spoken line). */
async function wordsOf(h: Harness, artifact: TruthArtifact): Promise<string | null> {
  if (artifact.kind === 'note' || artifact.kind === 'disposition') return artifact.text ?? null;
  const chunks: Buffer[] = [];
  for await (const chunk of h.sandbox.truth.content(artifact.key)) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks).toString('utf8');
  if (artifact.kind === 'recording_transcript') return raw.split('\n').find((line) => /[a-z]{3}/i.test(line) && !line.startsWith('WEBVTT')) ?? null;
  if (artifact.kind === 'messaging_transcript') return (JSON.parse(raw) as { messages: { text: string }[] }).messages[0]?.text ?? null;
  return raw.split('\n')[0]?.trim() || null;
}

function failures(result: { tally: { failures: readonly { key: string; destination: string; reason: string }[] } }): string {
  return result.tally.failures.map((failure) => `${failure.destination} ${failure.key}: ${failure.reason}`).join('\n');
}

function dayBefore(iso: string): string {
  return new Date(Date.parse(iso) - DAY).toISOString().slice(0, 10);
}
