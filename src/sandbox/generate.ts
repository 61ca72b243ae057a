// Deterministic generation of one engagement (and its recordings, voicemail, notes, dispositions) from
// (seed, day, index). Each item has its own PRNG stream, so any single item can be rebuilt without its neighbours.
import type { Catalog } from './catalog.js';
import { NOTE_TEXTS } from './catalog.js';
import { IdCodec, Kind } from './ids.js';
import { Rng, hash32 } from './random.js';

export type Channel = 'voice' | 'video' | 'messaging' | 'email';
export const DAY = 86_400;
/** No engagement lasts longer than this (lets a listing bound which days can hold a recording). */
export const MAX_ENGAGEMENT_SECONDS = 2 * 3600;

export interface MediaSizes {
  min: number;
  max: number;
  /** The first leg's recording of each day's first `perDay` engagements is `bytes` long (benchmarks: one huge file). */
  large?: { bytes: number; perDay: number };
}

export interface RecordingSkeleton {
  id: string;
  fileId: string;
  engagementId: string;
  start: number;
  end: number;
  /** Listed once end + processingDelay <= now. */
  processingDelay: number;
  /** transcript_url appears once end + transcriptDelay <= now; null = never. */
  transcriptDelay: number | null;
  channel: 'voice' | 'video';
  direction: 'inbound' | 'outbound';
  queue: number;
  agent: number;
  flow: number;
  consumer: number;
  recordingType: 'automatic' | 'on_demand';
  ownerType: 'user' | 'queue';
  size: number;
}

export interface VoicemailSkeleton {
  id: string;
  engagementId: string;
  created: number;
  duration: number;
  inbox: number;
  queue: number;
  flow: number;
  consumer: number;
  transcriptDelay: number | null;
  size: number;
}

export interface EngagementSkeleton {
  id: string;
  day: number;
  index: number;
  start: number;
  end: number;
  channel: Channel;
  source: string | null;
  direction: 'inbound' | 'outbound';
  flow: number;
  queues: number[];
  agents: number[];
  consumer: number;
  flowDuration: number;
  waitingDuration: number;
  talkDuration: number;
  wrapUpDuration: number;
  transferCount: number;
  recordings: RecordingSkeleton[];
  voicemail: VoicemailSkeleton | null;
  /** Messaging only: transcript_url appears once end + transcriptDelay <= now. */
  transcriptDelay: number | null;
}

export interface GeneratedNote { noteId: string; userId: number; text: string; modified: number }

const SOURCES: Record<Channel, readonly string[]> = {
  voice: [],
  video: ['in_app_video', 'kiosk_video', 'web_video'],
  messaging: ['web_chat', 'in_app_chat', 'sms', 'facebook_messenger', 'whatsapp'],
  email: ['email_address'],
};

const TALK_RANGE: Record<Channel, [number, number]> = { voice: [30, 1500], video: [60, 1800], messaging: [60, 1800], email: [30, 600] };

export class Generator {
  private readonly queueWeights: number[];

  constructor(
    readonly seed: number,
    readonly ids: IdCodec,
    readonly catalog: Catalog,
    readonly media: MediaSizes,
  ) {
    this.queueWeights = catalog.queues.map((q) => q.weight);
  }

  engagement(day: number, index: number): EngagementSkeleton {
    const rng = new Rng(hash32(this.seed, day, index, 1));
    const catalog = this.catalog;
    const dayStart = day * DAY;
    // Index 0 of every day is a call that starts just before midnight and ends after it.
    const crossesMidnight = index === 0;
    const start = crossesMidnight ? dayStart + DAY - rng.int(120, 400) : dayStart + rng.int(0, DAY - 1);
    const u = rng.next();
    const channel: Channel = crossesMidnight ? 'voice' : u < 0.6 ? 'voice' : u < 0.7 ? 'video' : u < 0.95 ? 'messaging' : 'email';
    const sources = SOURCES[channel];
    const source = sources.length > 0 ? rng.pick(sources) : null;
    const direction = crossesMidnight || rng.chance(channel === 'voice' ? 0.75 : 0.92) ? 'inbound' : 'outbound';
    const flow = channel === 'voice' ? 0 : channel === 'messaging' ? 1 : channel === 'video' ? 2 : 3;
    const weights = this.queueWeights;
    const queue = rng.weighted(weights);
    const consumer = rng.int(0, catalog.consumerPool - 1);
    const flowDuration = crossesMidnight ? 10 : rng.int(5, 60);
    const waitingDuration = crossesMidnight ? 20 : rng.int(0, 240);
    const voicemail = !crossesMidnight && channel === 'voice' && direction === 'inbound' && rng.chance(0.15);
    const id = this.ids.id(Kind.Engagement, day, index);
    const sk: EngagementSkeleton = {
      id, day, index, start, end: start, channel, source, direction, flow, queues: [queue], agents: [], consumer,
      flowDuration, waitingDuration, talkDuration: 0, wrapUpDuration: 0, transferCount: 0, recordings: [], voicemail: null, transcriptDelay: null,
    };

    if (voicemail) {
      const duration = rng.int(5, 90);
      sk.end = start + flowDuration + waitingDuration + duration;
      sk.voicemail = {
        id: this.ids.id(Kind.Message, day, index),
        engagementId: id,
        created: sk.end,
        duration,
        inbox: rng.int(0, catalog.inboxes.length - 1),
        queue,
        flow,
        consumer,
        transcriptDelay: rng.chance(0.1) ? null : rng.int(120, 1800),
        size: rng.int(this.media.min, this.media.max),
      };
      return sk;
    }

    const [tMin, tMax] = TALK_RANGE[channel];
    const talkDuration = crossesMidnight ? rng.int(600, 900) : rng.int(tMin, tMax);
    const transfer = !crossesMidnight && rng.chance(0.12);
    const agents = sk.agents;
    agents.push(rng.int(0, catalog.agents.length - 1));
    if (transfer) {
      agents.push(((agents[0] ?? 0) + rng.int(1, catalog.agents.length - 1)) % catalog.agents.length);
      sk.queues.push(rng.chance(0.5) ? queue : rng.weighted(weights));
    }
    const answered = start + flowDuration + waitingDuration;
    sk.end = answered + talkDuration;
    sk.talkDuration = talkDuration;
    sk.wrapUpDuration = rng.int(0, 120);
    sk.transferCount = transfer ? 1 : 0;
    if ((channel === 'voice' || channel === 'video') && (crossesMidnight || rng.chance(0.85))) {
      if (transfer) {
        const split = answered + Math.floor(talkDuration * (0.3 + rng.next() * 0.4));
        this.addRecording(sk, rng, 0, answered, split);
        this.addRecording(sk, rng, 1, split + rng.int(1, 5), sk.end);
      } else {
        this.addRecording(sk, rng, 0, answered + rng.int(0, 3), sk.end);
      }
    }
    if (channel === 'messaging') sk.transcriptDelay = rng.int(300, 3600);
    return sk;
  }

  private addRecording(sk: EngagementSkeleton, rng: Rng, leg: number, start: number, end: number): void {
    const queue = sk.queues[Math.min(leg, sk.queues.length - 1)] ?? 0;
    const processingDelay = rng.int(120, 1200);
    const transcriptDelay = rng.int(600, 6 * 3600);
    sk.recordings.push({
      id: this.ids.id(Kind.Recording, sk.day, sk.index, leg),
      fileId: this.ids.uuid(Kind.MediaFile, sk.day, sk.index, leg),
      engagementId: sk.id,
      start,
      end: Math.max(end, start + 1),
      processingDelay,
      transcriptDelay: this.catalog.queue(queue).transcription ? transcriptDelay : null,
      channel: sk.channel === 'video' ? 'video' : 'voice',
      direction: sk.direction,
      queue,
      agent: sk.agents[leg] ?? 0,
      flow: sk.flow,
      consumer: sk.consumer,
      recordingType: rng.chance(0.8) ? 'automatic' : 'on_demand',
      ownerType: rng.chance(0.5) ? 'queue' : 'user',
      size: this.recordingSize(sk, leg, rng.int(this.media.min, this.media.max)),
    });
  }

  /** The drawn size, unless this recording is one of the configured large ones (the draw is kept either way). */
  private recordingSize(sk: EngagementSkeleton, leg: number, drawn: number): number {
    const large = this.media.large;
    return large && leg === 0 && sk.index < large.perDay ? large.bytes : drawn;
  }

  /** Notes and dispositions the agents left (before any mutation). */
  extras(sk: EngagementSkeleton): { notes: GeneratedNote[]; dispositions: number[]; surveyId: string } {
    const rng = new Rng(hash32(this.seed, sk.day, sk.index, 2));
    const notes: GeneratedNote[] = [];
    const noteCount = sk.agents.length === 0 ? 0 : rng.int(0, 3);
    for (let k = 0; k < noteCount; k++) {
      notes.push({
        noteId: this.ids.id(Kind.Note, sk.day, sk.index, k),
        userId: sk.agents[k % sk.agents.length] ?? 0,
        text: rng.pick(NOTE_TEXTS),
        // Written during wrap-up, before the engagement shows in listings (end + 60 s).
        modified: sk.end + rng.int(1, 55),
      });
    }
    const dispositions: number[] = [];
    const dispositionCount = sk.agents.length === 0 ? 0 : rng.int(0, 2);
    while (dispositions.length < dispositionCount) {
      const d = rng.int(0, 5);
      if (!dispositions.includes(d)) dispositions.push(d);
    }
    const surveyId = rng.chance(0.3) ? this.ids.id(Kind.Survey, sk.day, sk.index) : '';
    return { notes, dispositions, surveyId };
  }

  /** A recording added late by a mutation (ids from the overlay counter). */
  lateRecording(sk: EngagementSkeleton, counter: number, end: number): RecordingSkeleton {
    const rng = new Rng(hash32(this.seed, 0x1a7e, counter));
    const queue = sk.queues[0] ?? 0;
    const duration = rng.int(60, 600);
    const processingDelay = rng.int(120, 1200);
    const transcriptDelay = rng.int(600, 6 * 3600);
    return {
      id: this.ids.id(Kind.Recording, 0xffff, counter),
      fileId: this.ids.uuid(Kind.MediaFile, 0xffff, counter),
      engagementId: sk.id,
      start: end - duration,
      end,
      processingDelay,
      transcriptDelay: this.catalog.queue(queue).transcription ? transcriptDelay : null,
      channel: sk.channel === 'video' ? 'video' : 'voice',
      direction: sk.direction,
      queue,
      agent: sk.agents[0] ?? 0,
      flow: sk.flow,
      consumer: sk.consumer,
      recordingType: 'on_demand',
      ownerType: 'queue',
      size: rng.int(this.media.min, this.media.max),
    };
  }
}
