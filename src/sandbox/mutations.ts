// Late data for tests: an overlay on the generated data (notes, dispositions, late recordings, removed items).
import { Kind, OVERLAY_DAY } from './ids.js';
import type { Store } from './store.js';
import type { EngagementSkeleton } from './generate.js';

export interface Mutations {
  addNote(engagementId: string, text?: string): { noteId: string };
  editNote(engagementId: string, noteId: string, text: string): void;
  addDisposition(engagementId: string, name?: string): { dispositionId: string };
  addRecording(engagementId: string, options?: { endTime?: Date }): { recordingId: string };
  removeItem(kind: 'engagement' | 'recording' | 'message', id: string): void;
}

export class SandboxMutations implements Mutations {
  constructor(private readonly store: Store) {}

  private engagement(id: string): EngagementSkeleton {
    const sk = this.store.engagementById(id);
    if (!sk) throw new Error(`sandbox: no engagement ${id}`);
    return sk;
  }

  private nextIndex(): number {
    this.store.version++;
    return ++this.store.counter;
  }

  addNote(engagementId: string, text = 'Supervisor follow-up: customer called back, issue confirmed resolved.'): { noteId: string } {
    const sk = this.engagement(engagementId);
    const noteId = this.store.gen.ids.id(Kind.Note, OVERLAY_DAY, this.nextIndex());
    const notes = this.store.addedNotes.get(sk.id) ?? [];
    notes.push({ noteId, userId: sk.agents[0] ?? 0, text, modified: this.store.nowSec() });
    this.store.addedNotes.set(sk.id, notes);
    return { noteId };
  }

  editNote(engagementId: string, noteId: string, text: string): void {
    const sk = this.engagement(engagementId);
    const exists = this.store.notesOf(sk, this.store.gen.extras(sk).notes).some((n) => n.noteId === noteId);
    if (!exists) throw new Error(`sandbox: engagement ${engagementId} has no note ${noteId}`);
    this.store.editedNotes.set(`${sk.id}/${noteId}`, { text, modified: this.store.nowSec() });
    this.store.version++;
  }

  addDisposition(engagementId: string, name?: string): { dispositionId: string } {
    const sk = this.engagement(engagementId);
    const catalog = this.store.catalog;
    const present = this.store.dispositionsOf(sk, this.store.gen.extras(sk).dispositions);
    let index: number;
    if (name !== undefined) {
      const type = catalog.dispositionNamed(name);
      index = catalog.dispositions.indexOf(type);
      if (present.includes(index)) throw new Error(`sandbox: engagement ${engagementId} already has disposition "${name}"`);
    } else {
      index = catalog.dispositions.findIndex((_, i) => !present.includes(i));
      if (index < 0) index = catalog.dispositions.indexOf(catalog.dispositionNamed(`Disposition ${catalog.dispositions.length + 1}`));
    }
    const added = this.store.addedDispositions.get(sk.id) ?? [];
    added.push(index);
    this.store.addedDispositions.set(sk.id, added);
    this.store.version++;
    return { dispositionId: catalog.disposition(index).id };
  }

  addRecording(engagementId: string, options: { endTime?: Date } = {}): { recordingId: string } {
    const sk = this.engagement(engagementId);
    const end = Math.floor((options.endTime?.getTime() ?? this.store.nowSec() * 1000 - 30 * 60_000) / 1000);
    const recording = this.store.gen.lateRecording(sk, this.nextIndex(), end);
    this.store.lateRecordings.set(recording.id, recording);
    return { recordingId: recording.id };
  }

  removeItem(kind: 'engagement' | 'recording' | 'message', id: string): void {
    this.store.removed[kind].add(id);
    this.store.version++;
  }
}
