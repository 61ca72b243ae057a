// The sandbox's data: generated days (built lazily, a few memoised in an LRU bounded by item count) plus the
// overlay of mutations (late recordings, added/edited notes, added dispositions, removed items).
import type { Catalog } from './catalog.js';
import { DAY, Generator, MAX_ENGAGEMENT_SECONDS } from './generate.js';
import type { EngagementSkeleton, GeneratedNote, RecordingSkeleton, VoicemailSkeleton } from './generate.js';
import { Kind, OVERLAY_DAY } from './ids.js';

export type SourceName = 'engagements' | 'recordings:start' | 'recordings:end' | 'messages';

/** One listable item: where it sorts (t, then id), when it becomes visible (avail), and how to rebuild it. */
export interface Entry {
  id: string;
  t: number;
  avail: number;
  day: number;
  index: number;
  sub: number;
  late?: RecordingSkeleton;
}

export interface NoteState { noteId: string; userId: number; text: string; modified: number }

const LRU_BUDGET = 600_000;
const NO_ENTRIES: Entry[] = [];

export class Store {
  readonly removed = { engagement: new Set<string>(), recording: new Set<string>(), message: new Set<string>() };
  readonly addedNotes = new Map<string, GeneratedNote[]>();
  readonly editedNotes = new Map<string, { text: string; modified: number }>();
  readonly addedDispositions = new Map<string, number[]>();
  readonly lateRecordings = new Map<string, RecordingSkeleton>();
  /** Bumped by every mutation, so caches that depend on the overlay can be keyed by it. */
  version = 0;
  counter = 0;
  private readonly cache = new Map<string, Entry[]>();
  /** Generated buckets merged with late recordings, valid for one overlay version. */
  private readonly merged = new Map<string, { version: number; base: Entry[]; entries: Entry[] }>();
  private cached = 0;

  constructor(
    readonly gen: Generator,
    readonly perDay: number,
    readonly days: number,
    private readonly nowMs: () => number,
  ) {}

  get catalog(): Catalog { return this.gen.catalog; }
  nowSec(): number { return Math.floor(this.nowMs() / 1000); }

  /** The first and last UTC day numbers that hold data, as of now. */
  dataDays(): [number, number] {
    const last = Math.floor(this.nowSec() / DAY);
    return [last - this.days + 1, last];
  }

  private inRange(day: number): boolean {
    const [first, last] = this.dataDays();
    return day >= first && day <= last;
  }

  skeleton(day: number, index: number): EngagementSkeleton { return this.gen.engagement(day, index); }

  /** The engagement with this id if it exists in the data range (happened or not). */
  engagementById(id: string): EngagementSkeleton | null {
    const p = this.gen.ids.decode(id, Kind.Engagement);
    if (!p || !this.inRange(p.day) || p.index >= this.perDay || p.sub !== 0) return null;
    return this.skeleton(p.day, p.index);
  }

  /** Recording by recording_id or by its file id (the uuid in download_url). */
  recording(id: string, byFile = false): RecordingSkeleton | null {
    for (const late of this.lateRecordings.values()) if ((byFile ? late.fileId : late.id) === id) return late;
    const p = this.gen.ids.decode(id, byFile ? Kind.MediaFile : Kind.Recording);
    if (!p || p.day === OVERLAY_DAY || !this.inRange(p.day) || p.index >= this.perDay) return null;
    return this.skeleton(p.day, p.index).recordings[p.sub] ?? null;
  }

  message(id: string): VoicemailSkeleton | null {
    const p = this.gen.ids.decode(id, Kind.Message);
    if (!p || !this.inRange(p.day) || p.index >= this.perDay) return null;
    return this.skeleton(p.day, p.index).voicemail;
  }

  recordingsOf(sk: EngagementSkeleton): RecordingSkeleton[] {
    const late = [...this.lateRecordings.values()].filter((r) => r.engagementId === sk.id);
    return [...sk.recordings, ...late];
  }

  notesOf(sk: EngagementSkeleton, generated: GeneratedNote[]): NoteState[] {
    return [...generated, ...(this.addedNotes.get(sk.id) ?? [])].map((n) => {
      const edit = this.editedNotes.get(`${sk.id}/${n.noteId}`);
      return edit ? { ...n, text: edit.text, modified: edit.modified } : n;
    });
  }

  dispositionsOf(sk: EngagementSkeleton, generated: number[]): number[] {
    return [...generated, ...(this.addedDispositions.get(sk.id) ?? [])];
  }

  isRemoved(source: SourceName, id: string): boolean {
    const set = source === 'engagements' ? this.removed.engagement : source === 'messages' ? this.removed.message : this.removed.recording;
    return set.has(id);
  }

  /** The items of one UTC day of a source, sorted by (t, id). Days outside the data range are empty. */
  bucket(source: SourceName, day: number): Entry[] {
    const useful = source === 'engagements' ? this.inRange(day) : this.inRange(day) || this.inRange(day - 1);
    const key = `${source}|${day}|${this.inRange(day - 1) ? 1 : 0}${this.inRange(day) ? 1 : 0}`;
    let entries = useful ? this.cache.get(key) : NO_ENTRIES;
    if (entries === NO_ENTRIES) {
      // Outside the data range: only late recordings can be here.
    } else if (entries) {
      this.cache.delete(key);
      this.cache.set(key, entries);
    } else {
      entries = this.build(source, day);
      this.cache.set(key, entries);
      this.cached += entries.length;
      for (const [k, v] of this.cache) {
        if (this.cached <= LRU_BUDGET || k === key) break;
        this.cache.delete(k);
        this.merged.delete(k);
        this.cached -= v.length;
      }
    }
    if ((source === 'recordings:start' || source === 'recordings:end') && this.lateRecordings.size > 0) {
      const merged = this.merged.get(key);
      if (merged?.version === this.version && merged.base === entries) return merged.entries;
      const late = [...this.lateRecordings.values()].filter((r) => Math.floor(timeOf(source, r) / DAY) === day);
      if (late.length > 0) {
        const all = [...entries, ...late.map((r) => recordingEntry(source, r, OVERLAY_DAY, 0, 0, r))].sort(byTimeThenId);
        this.merged.set(key, { version: this.version, base: entries, entries: all });
        return all;
      }
    }
    return entries;
  }

  private build(source: SourceName, day: number): Entry[] {
    const out: Entry[] = [];
    // An item timed on `day` comes from an engagement that started that day or, for recordings and voicemails
    // (which end after the call started), the day before.
    const fromDays = source === 'engagements' ? [day] : [day - 1, day];
    for (const d of fromDays) {
      if (!this.inRange(d)) continue;
      for (let i = 0; i < this.perDay; i++) {
        const sk = this.skeleton(d, i);
        if (source === 'engagements') {
          out.push({ id: sk.id, t: sk.start, avail: sk.end + 60, day: d, index: i, sub: 0 });
        } else if (source === 'messages') {
          const vm = sk.voicemail;
          if (vm && Math.floor(vm.created / DAY) === day) out.push({ id: vm.id, t: vm.created, avail: vm.created + 60, day: d, index: i, sub: 0 });
        } else {
          sk.recordings.forEach((r, sub) => {
            if (Math.floor(timeOf(source, r) / DAY) === day) out.push(recordingEntry(source, r, d, i, sub));
          });
        }
      }
    }
    return out.sort(byTimeThenId);
  }

  /** UTC days whose bucket can hold items timed within [from, to]. */
  bucketDays(from: number, to: number): number[] {
    const [first, last] = this.dataDays();
    const lo = Math.max(Math.floor(from / DAY), first);
    const hi = Math.min(Math.floor(to / DAY), last + Math.ceil(MAX_ENGAGEMENT_SECONDS / DAY));
    const days: number[] = [];
    for (let d = lo; d <= hi; d++) days.push(d);
    // Late recordings can sit on any day.
    for (const r of this.lateRecordings.values()) {
      for (const t of [r.start, r.end]) {
        const d = Math.floor(t / DAY);
        if (t >= from && t <= to && !days.includes(d)) days.push(d);
      }
    }
    return days.sort((a, b) => a - b);
  }
}

function timeOf(source: SourceName, r: RecordingSkeleton): number {
  return source === 'recordings:start' ? r.start : r.end;
}

function recordingEntry(source: SourceName, r: RecordingSkeleton, day: number, index: number, sub: number, late?: RecordingSkeleton): Entry {
  const e: Entry = { id: r.id, t: timeOf(source, r), avail: r.end + r.processingDelay, day, index, sub };
  if (late) e.late = late;
  return e;
}

export function byTimeThenId(a: Entry, b: Entry): number {
  return a.t - b.t || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
