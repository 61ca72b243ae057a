// What a correct reconciliation of a window must deliver, computed from the sandbox's own data (not from listings
// a client saw): the tests compare a run's ledger and destinations against this.
import { Readable } from 'node:stream';
import type { Content } from './content.js';
import type { Lister, ListQuery } from './lists.js';
import type { Payload } from './media.js';
import { sha256Of } from './media.js';
import type { SourceName, Store } from './store.js';

export interface TruthArtifact { key: string; kind: string; engagementId: string; size: number; sha256: string; text?: string }

export interface Truth {
  engagementIds(window: { from: Date; to: Date }): string[];
  artifacts(window: { from: Date; to: Date }): TruthArtifact[];
  content(key: string): Readable;
}

export class SandboxTruth implements Truth {
  private readonly hashes = new Map<string, string>();

  constructor(private readonly store: Store, private readonly lister: Lister, private readonly files: Content) {}

  /** Half-open [from, to) in milliseconds → the inclusive whole-second bounds the lister takes. */
  private query(source: SourceName, w: { from: Date; to: Date }): ListQuery {
    return { source, from: Math.ceil(w.from.getTime() / 1000), to: Math.ceil(w.to.getTime() / 1000) - 1, filter: null, filterKey: 'truth' };
  }

  engagementIds(w: { from: Date; to: Date }): string[] {
    return this.lister.all(this.query('engagements', w)).map((e) => e.id);
  }

  artifacts(w: { from: Date; to: Date }): TruthArtifact[] {
    const out: TruthArtifact[] = [];
    const c = this.store.catalog;
    for (const e of this.lister.all(this.query('engagements', w))) {
      const sk = this.store.skeleton(e.day, e.index);
      const extras = this.store.gen.extras(sk);
      for (const n of this.store.notesOf(sk, extras.notes)) {
        out.push({ key: `note/${sk.id}/${n.noteId}`, kind: 'note', engagementId: sk.id, size: 0, sha256: '', text: n.text });
      }
      for (const d of this.store.dispositionsOf(sk, extras.dispositions)) {
        const t = c.disposition(d);
        out.push({ key: `disposition/${sk.id}/${t.id}`, kind: 'disposition', engagementId: sk.id, size: 0, sha256: '', text: t.name });
      }
      this.file(out, 'messaging_transcript', sk.id, sk.id, this.files.messagingTranscript(sk.id));
    }
    for (const e of this.lister.all(this.query('recordings:end', w))) {
      const r = e.late ?? this.store.skeleton(e.day, e.index).recordings[e.sub];
      if (!r) continue;
      this.file(out, 'recording', r.id, r.engagementId, this.files.recordingMedia(r.fileId));
      this.file(out, 'recording_transcript', r.id, r.engagementId, this.files.recordingTranscript(r.id));
    }
    for (const e of this.lister.all(this.query('messages', w))) {
      const vm = this.store.skeleton(e.day, e.index).voicemail;
      if (!vm) continue;
      this.file(out, 'voicemail', vm.id, vm.engagementId, this.files.voicemail(vm.id));
      this.file(out, 'voicemail_transcript', vm.id, vm.engagementId, this.files.voicemailTranscript(vm.id));
    }
    return out;
  }

  private file(out: TruthArtifact[], kind: string, id: string, engagementId: string, payload: Payload | null): void {
    if (!payload) return;
    const key = `${kind}/${id}`;
    const memo = `${key}|${payload.size}`;
    let sha256 = this.hashes.get(memo);
    if (sha256 === undefined) this.hashes.set(memo, (sha256 = sha256Of(payload)));
    out.push({ key, kind, engagementId, size: payload.size, sha256 });
  }

  /** The bytes behind an artifact key, or behind a download URL (absolute or a `/v2/...` path). */
  content(key: string): Readable {
    const path = key.startsWith('http') ? new URL(key).pathname : key;
    const payload = path.startsWith('/') ? this.files.byPath(path) : this.files.byKey(key);
    if (!payload) throw new Error(`sandbox has no content for ${key} (unknown, or not ready yet)`);
    return Readable.from(payload.chunks(0, payload.size));
  }
}
