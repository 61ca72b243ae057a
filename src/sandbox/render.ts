// Turns generated items (plus the overlay) into the JSON shapes Zoom returns, with absolute URLs on the sandbox.
import type { Catalog } from './catalog.js';
import type { Content } from './content.js';
import type { EngagementSkeleton, RecordingSkeleton, VoicemailSkeleton } from './generate.js';
import { formatInstant } from './params.js';
import type { Store } from './store.js';

type Json = Record<string, unknown>;

const CHANNEL_TYPE: Record<string, string> = {
  in_app_video: 'in_app_video', kiosk_video: 'kiosk', web_video: 'video',
  web_chat: 'chat', in_app_chat: 'in_app_chat', sms: 'sms', facebook_messenger: 'chat', whatsapp: 'chat',
};
// Sources the events[] schema of Get Engagement knows.
const EVENT_SOURCES = new Set(['in_app_video', 'kiosk_video', 'web_video', 'web_chat', 'in_app_chat', 'sms', 'email_address']);

export function channelTypes(sk: EngagementSkeleton): string[] {
  if (sk.channel === 'voice') return ['voice'];
  if (sk.channel === 'email' || sk.source === null) return [];
  return [CHANNEL_TYPE[sk.source] ?? 'chat'];
}

export class Renderer {
  constructor(private readonly store: Store, private readonly content: Content, private readonly baseUrl: string) {}

  private get catalog(): Catalog { return this.store.catalog; }

  private common(sk: EngagementSkeleton, tz: string): Json {
    const c = this.catalog;
    const consumer = c.consumer(sk.consumer);
    const flow = c.flow(sk.flow);
    const extras = this.store.gen.extras(sk);
    const item: Json = {
      engagement_id: sk.id,
      start_time: formatInstant(sk.start, tz),
      end_time: formatInstant(sk.end, tz),
      duration: sk.end - sk.start,
      direction: sk.direction,
      channels: [sk.source ? { channel: sk.channel, channel_source: sk.source } : { channel: sk.channel }],
      channel_types: channelTypes(sk),
      consumers: [{ consumer_id: consumer.id, consumer_display_name: consumer.name, consumer_number: sk.channel === 'email' ? '' : consumer.number }],
      flows: [{ flow_id: flow.id, flow_name: flow.name, flow_version: flow.version }],
      queues: [...new Set(sk.queues)].map((q) => ({ cc_queue_id: c.queue(q).id, queue_name: c.queue(q).name })),
      agents: sk.agents.map((a) => ({ user_id: c.agent(a).id, display_name: c.agent(a).name })),
      talk_duration: sk.talkDuration,
      flow_duration: sk.flowDuration,
      waiting_duration: sk.waitingDuration,
      handling_duration: sk.talkDuration,
      wrap_up_duration: sk.wrapUpDuration,
      dispositions: this.store.dispositionsOf(sk, extras.dispositions).map((d) => ({ disposition_id: c.disposition(d).id, disposition_name: c.disposition(d).name })),
      notes: this.store.notesOf(sk, extras.notes).map((n) => ({
        user_id: c.agent(n.userId).id, note_id: n.noteId, note: n.text, last_modified_time: formatInstant(n.modified, tz),
      })),
      survey_id: extras.surveyId,
    };
    if (this.content.messagingTranscriptReady(sk)) item['transcript_url'] = `${this.baseUrl}/v2/contact_center/engagements/transcripts/download/${sk.id}`;
    return item;
  }

  engagementListItem(sk: EngagementSkeleton, tz: string): Json {
    return { ...this.common(sk, tz), transfer_count: sk.transferCount };
  }

  engagementDetail(sk: EngagementSkeleton): Json {
    const item = this.common(sk, 'UTC');
    const c = this.catalog;
    item['queues'] = [...new Set(sk.queues)].map((q) => ({ queue_id: c.queue(q).id, cc_queue_id: c.queue(q).id, queue_name: c.queue(q).name }));
    item['queue_wait_type'] = 'live_waiting';
    item['voice_mail'] = sk.voicemail ? 1 : 0;
    item['events'] = this.events(sk);
    return item;
  }

  private events(sk: EngagementSkeleton): Json[] {
    const c = this.catalog;
    const flow = c.flow(sk.flow);
    const base: Json = { channel: sk.channel, direction: sk.direction, flow_id: flow.id, flow_name: flow.name };
    if (sk.source && EVENT_SOURCES.has(sk.source)) base['channel_source'] = sk.source;
    const queue = c.queue(sk.queues[0] ?? 0);
    const events: Json[] = [
      { ...base, start_time: formatInstant(sk.start), duration: sk.flowDuration, event_type: 'Flow Start' },
      { ...base, start_time: formatInstant(sk.start + sk.flowDuration), duration: sk.waitingDuration, event_type: 'Queue Enter', cc_queue_id: queue.id, queue_name: queue.name },
    ];
    const answered = sk.start + sk.flowDuration + sk.waitingDuration;
    if (sk.voicemail) {
      const inbox = c.inbox(sk.voicemail.inbox);
      events.push({ ...base, start_time: formatInstant(answered), duration: sk.voicemail.duration, event_type: 'Voicemail', inbox_id: inbox.id, inbox_name: inbox.name });
    }
    sk.agents.forEach((a, i) => {
      const q = c.queue(sk.queues[i] ?? 0);
      const event: Json = {
        ...base, start_time: formatInstant(answered), duration: sk.talkDuration, event_type: 'Agent Accept', accept_type: 'manual',
        cc_queue_id: q.id, queue_name: q.name, user_id: c.agent(a).id, user_display_name: c.agent(a).name,
      };
      const next = sk.agents[i + 1];
      if (next !== undefined) {
        Object.assign(event, { transfer_type: 'warm', transfer_to_user_id: c.agent(next).id, transfer_to_user_display_name: c.agent(next).name });
      }
      events.push(event);
    });
    return events;
  }

  recordingItem(r: RecordingSkeleton): Json {
    const c = this.catalog;
    const queue = c.queue(r.queue);
    const agent = c.agent(r.agent);
    const flow = c.flow(r.flow);
    const consumer = c.consumer(r.consumer);
    const item: Json = {
      recording_id: r.id,
      cc_queue_id: queue.id,
      queue_name: queue.name,
      recording_duration: r.end - r.start,
      download_url: `${this.baseUrl}/v2/contact_center/recording/download/${r.fileId}?type=${r.channel}`,
      playback_url: `${this.baseUrl}/v2/contact_center/recording/playback/${r.id}?type=${r.channel}`,
      recording_start_time: formatInstant(r.start),
      recording_end_time: formatInstant(r.end),
      user_id: agent.id,
      display_name: agent.name,
      user_email: agent.email,
      recording_type: r.recordingType,
      channel: r.channel,
      channel_type: r.channel,
      direction: r.direction,
      owner_id: r.ownerType === 'queue' ? queue.id : agent.id,
      owner_name: r.ownerType === 'queue' ? queue.name : agent.name,
      owner_type: r.ownerType,
      engagement_id: r.engagementId,
      flow_id: flow.id,
      flow_name: flow.name,
      consumers: [{ consumer_name: consumer.name, consumer_number: consumer.number }],
    };
    if (this.content.recordingTranscriptReady(r)) {
      item['transcript_url'] = `${this.baseUrl}/v2/contact_center/recording/transcripts/download/${r.id}?type=voice`;
    }
    return item;
  }

  /** `perInbox`: List an inbox's messages (non-deprecated queue_id, no cci_queue_id). */
  messageItem(vm: VoicemailSkeleton, perInbox: boolean): Json {
    const c = this.catalog;
    const inbox = c.inbox(vm.inbox);
    const flow = c.flow(vm.flow);
    const queue = c.queue(vm.queue);
    const consumer = c.consumer(vm.consumer);
    const item: Json = {
      message_id: vm.id,
      inbox_id: inbox.id,
      inbox_name: inbox.name,
      engagement_id: vm.engagementId,
      created_at: formatInstant(vm.created),
      flow_id: flow.id,
      flow_name: flow.name,
      ...(perInbox ? { queue_id: queue.id } : { queue_id: '', cci_queue_id: queue.id }),
      queue_name: queue.name,
      message_type: 'voicemail',
      download_url: `${this.baseUrl}/v2/contact_center/inbox/message/download/${vm.id}?type=voicemail`,
      playback_url: `${this.baseUrl}/v2/contact_center/inbox/message/playback/${vm.id}?type=voicemail`,
      message_duration: vm.duration,
      consumer_number: consumer.number,
      consumer_id: consumer.id,
      consumer_display_name: consumer.name,
      status: 'normal',
    };
    if (this.content.voicemailTranscriptReady(vm)) item['transcript_url'] = `${this.baseUrl}/v2/contact_center/inbox/message/transcripts/download/${vm.id}`;
    return item;
  }
}
