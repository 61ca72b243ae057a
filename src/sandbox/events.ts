// The events Zoom would send for the sandbox's data: one body per note, disposition, messaging transcript,
// recording (and its transcript) and voicemail (and its transcript) of a window, shaped as zcc-events.md §1.3 shows
// (ISO-ms `*_ms` strings, no event id, no download_url). The window matches the truth's, so "every event delivered"
// means "every artifact of the truth".
import type { Catalog } from './catalog.js';
import type { Content } from './content.js';
import type { EngagementSkeleton, RecordingSkeleton, VoicemailSkeleton } from './generate.js';
import type { Lister, ListQuery } from './lists.js';
import { formatInstant } from './params.js';
import type { SourceName, Store } from './store.js';

export const ACCOUNT_ID = 'Acc001kkkkkkkkkkkkkkkk';

export interface SandboxEvent {
  event: string;
  /** The webhook body: `{event, event_ts, payload: {account_id, object}}`. */
  body: { event: string; event_ts: number; payload: { account_id: string; object: Record<string, unknown> } };
  /** When it happened (ms): the order Zoom would send it in. */
  at: number;
  /** The artifact keys it signals. */
  keys: string[];
  engagementId: string;
}

export interface EventCatalog {
  forWindow(window: { from: Date; to: Date }): SandboxEvent[];
  /** Deletion events (recorded by listeners, never acted on). */
  recordingDeleted(recordingId: string): SandboxEvent;
}

const ms = (sec: number): string => new Date(sec * 1000).toISOString();

export class SandboxEvents implements EventCatalog {
  constructor(
    private readonly store: Store,
    private readonly lister: Lister,
    private readonly content: Content,
    private readonly baseUrl: () => string,
  ) {}

  private get catalog(): Catalog {
    return this.store.catalog;
  }

  private query(source: SourceName, w: { from: Date; to: Date }): ListQuery {
    return { source, from: Math.ceil(w.from.getTime() / 1000), to: Math.ceil(w.to.getTime() / 1000) - 1, filter: null, filterKey: 'events' };
  }

  forWindow(w: { from: Date; to: Date }): SandboxEvent[] {
    const out: SandboxEvent[] = [];
    for (const e of this.lister.all(this.query('engagements', w))) this.engagementEvents(out, this.store.skeleton(e.day, e.index));
    for (const e of this.lister.all(this.query('recordings:end', w))) {
      const r = e.late ?? this.store.skeleton(e.day, e.index).recordings[e.sub];
      if (r) this.recordingEvents(out, r);
    }
    for (const e of this.lister.all(this.query('messages', w))) {
      const vm = this.store.skeleton(e.day, e.index).voicemail;
      if (vm) this.voicemailEvents(out, vm);
    }
    return out.sort((a, b) => a.at - b.at || (a.keys[0] ?? '').localeCompare(b.keys[0] ?? ''));
  }

  recordingDeleted(recordingId: string): SandboxEvent {
    const now = this.store.nowSec();
    return event(`contact_center.recording_deleted`, now, { recording_id: recordingId, date_time_ms: ms(now) }, [], '');
  }

  private engagementBase(sk: EngagementSkeleton): Record<string, unknown> {
    const c = this.catalog;
    const queue = c.queue(sk.queues[0] ?? 0);
    const flow = c.flow(sk.flow);
    const consumer = c.consumer(sk.consumer);
    return {
      engagement_id: sk.id,
      engagement_direction: sk.direction,
      channel: sk.channel,
      channel_source: sk.source ?? '',
      cc_queue_id: queue.id,
      queue_name: queue.name,
      flow_id: flow.id,
      flow_name: flow.name,
      flow_number: flow.number,
      consumer_id: consumer.id,
      consumer_display_name: consumer.name,
      consumer_number: sk.channel === 'email' ? '' : consumer.number,
    };
  }

  private engagementEvents(out: SandboxEvent[], sk: EngagementSkeleton): void {
    const c = this.catalog;
    const extras = this.store.gen.extras(sk);
    const base = this.engagementBase(sk);
    for (const n of this.store.notesOf(sk, extras.notes)) {
      const agent = c.agent(n.userId);
      out.push(
        event('contact_center.engagement_note_added', n.modified, {
          note_id: n.noteId,
          note: n.text,
          ...base,
          last_modified_time: formatInstant(n.modified),
          user_id: agent.id,
          user_display_name: agent.name,
          date_time_ms: ms(n.modified),
        }, [`note/${sk.id}/${n.noteId}`], sk.id),
      );
    }
    const agent = c.agent(sk.agents[sk.agents.length - 1] ?? 0);
    // Zoom sends the disposition as the agent picks it, seconds before the wrap-up note is saved.
    const chosen = sk.end + 1;
    for (const d of this.store.dispositionsOf(sk, extras.dispositions)) {
      const type = c.disposition(d);
      out.push(
        event('contact_center.engagement_disposition_added', chosen, {
          disposition_id: type.id,
          disposition_name: type.name,
          disposition_description: `${type.name} (sandbox)`,
          status: 'active',
          last_modified_time: '2024-11-02T08:00:00Z',
          modified_by: agent.id,
          ...base,
          user_id: agent.id,
          user_display_name: agent.name,
          date_time_ms: ms(chosen),
        }, [`disposition/${sk.id}/${type.id}`], sk.id),
      );
    }
    if (sk.channel === 'messaging' && this.content.messagingTranscriptReady(sk) && sk.transcriptDelay !== null) {
      const at = sk.end + sk.transcriptDelay;
      const flow = c.flow(sk.flow);
      out.push(
        event('contact_center.engagement_messaging_transcript_completed', at, {
          engagement_id: sk.id,
          engagement_direction: sk.direction,
          channel: 'messaging',
          channel_source: sk.source ?? '',
          flow_id: flow.id,
          flow_name: flow.name,
          transcript_url: `${this.baseUrl()}/v2/contact_center/engagements/transcripts/download/${sk.id}`,
          date_time_ms: ms(at),
        }, [`messaging_transcript/${sk.id}`], sk.id),
      );
    }
  }

  private recordingEvents(out: SandboxEvent[], r: RecordingSkeleton): void {
    if (!this.content.recordingReady(r)) return;
    const c = this.catalog;
    const queue = c.queue(r.queue);
    const agent = c.agent(r.agent);
    const flow = c.flow(r.flow);
    const consumer = c.consumer(r.consumer);
    const object: Record<string, unknown> = {
      recording_id: r.id,
      engagement_id: r.engagementId,
      engagement_direction: r.direction,
      channel: r.channel,
      recording_start_time_ms: ms(r.start),
      recording_end_time_ms: ms(r.end),
      recording_type: r.recordingType,
      recording_duration: r.end - r.start,
      flow_id: flow.id,
      flow_name: flow.name,
      cc_queue_id: queue.id,
      queue_name: queue.name,
      owner_id: r.ownerType === 'queue' ? queue.id : agent.id,
      owner_name: r.ownerType === 'queue' ? queue.name : agent.name,
      owner_type: r.ownerType,
      users: [{ user_id: agent.id, user_display_name: agent.name }],
      consumers: [{ consumer_id: consumer.id, consumer_number: consumer.number, consumer_display_name: consumer.name }],
    };
    const processed = r.end + r.processingDelay;
    out.push(event('contact_center.recording_completed', processed, { ...object, date_time_ms: ms(processed) }, [`recording/${r.id}`], r.engagementId));
    if (this.content.recordingTranscriptReady(r) && r.transcriptDelay !== null) {
      const at = r.end + Math.max(r.transcriptDelay, r.processingDelay);
      out.push(
        event('contact_center.recording_transcript_completed', at, {
          ...object,
          transcript_url: `${this.baseUrl()}/v2/contact_center/recording/transcripts/download/${r.id}?type=voice`,
          date_time_ms: ms(at),
        }, [`recording_transcript/${r.id}`], r.engagementId),
      );
    }
  }

  private voicemailEvents(out: SandboxEvent[], vm: VoicemailSkeleton): void {
    if (!this.content.voicemailReady(vm)) return;
    const c = this.catalog;
    const inbox = c.inbox(vm.inbox);
    const queue = c.queue(vm.queue);
    const flow = c.flow(vm.flow);
    const consumer = c.consumer(vm.consumer);
    const common = { inbox_id: inbox.id, inbox_name: inbox.name, message_id: vm.id, engagement_id: vm.engagementId, flow_id: flow.id, flow_name: flow.name, cc_queue_id: queue.id, queue_name: queue.name };
    out.push(
      event('contact_center.inbox_message_received', vm.created, {
        ...common,
        engagement_direction: 'inbound',
        channel: 'voice',
        flow_number: flow.number,
        consumer_number: consumer.number,
        date_time_ms: ms(vm.created),
      }, [`voicemail/${vm.id}`], vm.engagementId),
    );
    if (this.content.voicemailTranscriptReady(vm) && vm.transcriptDelay !== null) {
      const at = vm.created + vm.transcriptDelay;
      out.push(
        event('contact_center.voicemail_transcript_completed', at, {
          ...common,
          // Zoom's webhook names a different path than the REST inbox message's transcript_url (zcc-events.md §1.3).
          transcript_url: `${this.baseUrl()}/v2/contact_center/voicemail/transcripts/download/${vm.id}?type=voice`,
          message_duration: vm.duration,
          consumer_number: consumer.number,
          consumer_id: consumer.id,
          consumer_display_name: consumer.name,
          status: 'normal',
          date_time_ms: ms(at),
        }, [`voicemail_transcript/${vm.id}`], vm.engagementId),
      );
    }
  }
}

function event(name: string, atSec: number, object: Record<string, unknown>, keys: string[], engagementId: string): SandboxEvent {
  return { event: name, body: { event: name, event_ts: atSec * 1000, payload: { account_id: ACCOUNT_ID, object } }, at: atSec * 1000, keys, engagementId };
}
