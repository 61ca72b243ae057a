// What each download URL serves (and each file artifact's bytes), plus the readiness rules that decide when a file
// or transcript exists yet. Transcript texts are small and derived from the seed and the item's id.
import type { Payload } from './media.js';
import { mediaPayload, textPayload } from './media.js';
import { formatInstant } from './params.js';
import { Rng, hash32, hashString } from './random.js';
import type { EngagementSkeleton, RecordingSkeleton, VoicemailSkeleton } from './generate.js';
import type { Store } from './store.js';

const LINES = [
  'Thank you for calling, how can I help you today?',
  'I would like to check the status of my order.',
  'Sure, can you confirm your account number please?',
  'It is the one ending in four two seven.',
  'Thanks. I can see the order shipped yesterday.',
  'Great, when will it arrive?',
  'It should be with you by Thursday.',
  'Is there anything else I can help with?',
  'No, that is all, thank you.',
  'You are welcome, have a nice day.',
];

export class Content {
  constructor(private readonly store: Store, private readonly seed: number) {}

  private now(): number { return this.store.nowSec(); }

  recordingReady(r: RecordingSkeleton): boolean {
    return r.end + r.processingDelay <= this.now() && !this.store.removed.recording.has(r.id);
  }
  recordingTranscriptReady(r: RecordingSkeleton): boolean {
    return this.recordingReady(r) && r.transcriptDelay !== null && r.end + r.transcriptDelay <= this.now();
  }
  engagementListed(sk: EngagementSkeleton): boolean {
    return sk.end + 60 <= this.now() && !this.store.removed.engagement.has(sk.id);
  }
  messagingTranscriptReady(sk: EngagementSkeleton): boolean {
    return this.engagementListed(sk) && sk.transcriptDelay !== null && sk.end + sk.transcriptDelay <= this.now();
  }
  voicemailReady(vm: VoicemailSkeleton): boolean {
    return vm.created + 60 <= this.now() && !this.store.removed.message.has(vm.id);
  }
  voicemailTranscriptReady(vm: VoicemailSkeleton): boolean {
    return this.voicemailReady(vm) && vm.transcriptDelay !== null && vm.created + vm.transcriptDelay <= this.now();
  }

  recordingMedia(fileId: string): Payload | null {
    const r = this.store.recording(fileId, true);
    if (!r || !this.recordingReady(r)) return null;
    return mediaPayload(this.seed, r.id, r.size, r.channel === 'video' ? 'video/mp4' : 'audio/mpeg', `${r.id}.${r.channel === 'video' ? 'mp4' : 'mp3'}`);
  }

  recordingTranscript(recordingId: string): Payload | null {
    const r = this.store.recording(recordingId);
    if (!r || !this.recordingTranscriptReady(r)) return null;
    const agent = this.store.catalog.agent(r.agent).name;
    const consumer = this.store.catalog.consumer(r.consumer).name;
    const rng = new Rng(hash32(this.seed, hashString(r.id), 3));
    const cues = Math.min(12, Math.max(3, Math.floor((r.end - r.start) / 30)));
    let t = 0;
    const out = ['WEBVTT', ''];
    for (let i = 0; i < cues; i++) {
      const len = rng.int(2, 9);
      out.push(String(i + 1), `${vttTime(t)} --> ${vttTime(t + len)}`, `${i % 2 === 0 ? agent : consumer}: ${LINES[i % LINES.length]}`, '');
      t += len + rng.int(0, 3);
    }
    return textPayload(out.join('\n'), 'text/vtt', `${r.id}.vtt`);
  }

  messagingTranscript(engagementId: string): Payload | null {
    const sk = this.store.engagementById(engagementId);
    if (!sk || sk.channel !== 'messaging' || !this.messagingTranscriptReady(sk)) return null;
    const agent = this.store.catalog.agent(sk.agents[0] ?? 0).name;
    const consumer = this.store.catalog.consumer(sk.consumer).name;
    const rng = new Rng(hash32(this.seed, sk.day, sk.index, 4));
    const count = rng.int(3, 10);
    const step = Math.max(1, Math.floor(sk.talkDuration / count));
    const messages = Array.from({ length: count }, (_, i) => ({
      sender: i % 2 === 0 ? consumer : agent,
      time: formatInstant(sk.start + sk.flowDuration + sk.waitingDuration + i * step),
      text: LINES[(i + 1) % LINES.length] ?? '',
    }));
    return textPayload(JSON.stringify({ engagement_id: sk.id, messages }), 'application/json', `${sk.id}.json`);
  }

  voicemail(messageId: string): Payload | null {
    const vm = this.store.message(messageId);
    if (!vm || !this.voicemailReady(vm)) return null;
    return mediaPayload(this.seed, vm.id, vm.size, 'audio/mpeg', `${vm.id}.mp3`);
  }

  voicemailTranscript(messageId: string): Payload | null {
    const vm = this.store.message(messageId);
    if (!vm || !this.voicemailTranscriptReady(vm)) return null;
    const consumer = this.store.catalog.consumer(vm.consumer);
    const rng = new Rng(hash32(this.seed, hashString(vm.id), 5));
    const text = `Hi, this is ${consumer.name}. ${rng.pick(LINES)} Please call me back on ${consumer.number}. Thanks.\n`;
    return textPayload(text, 'text/plain', `${vm.id}.txt`);
  }

  /** The payload behind an artifact key (`recording/<id>`, `voicemail_transcript/<id>`, ...) as of now. */
  byKey(key: string): Payload | null {
    const [kind, id = ''] = key.split('/');
    switch (kind) {
      case 'recording': {
        const r = this.store.recording(id);
        return r ? this.recordingMedia(r.fileId) : null;
      }
      case 'recording_transcript': return this.recordingTranscript(id);
      case 'messaging_transcript': return this.messagingTranscript(id);
      case 'voicemail': return this.voicemail(id);
      case 'voicemail_transcript': return this.voicemailTranscript(id);
      default: return null;
    }
  }

  /** The payload a download URL path serves (`/v2/contact_center/...`), or null. */
  byPath(path: string): Payload | null {
    const m = /^\/v2\/contact_center\/(recording\/download|recording\/transcripts\/download|engagements\/transcripts\/download|inbox\/message\/download|inbox\/message\/transcripts\/download)\/([^/?]+)/.exec(path);
    if (!m) return null;
    let id = m[2] ?? '';
    try {
      id = decodeURIComponent(id);
    } catch {
      return null;
    }
    switch (m[1]) {
      case 'recording/download': return this.recordingMedia(id);
      case 'recording/transcripts/download': return this.recordingTranscript(id);
      case 'engagements/transcripts/download': return this.messagingTranscript(id);
      case 'inbox/message/download': return this.voicemail(id);
      default: return this.voicemailTranscript(id);
    }
  }
}

function vttTime(sec: number): string {
  const h = Math.floor(sec / 3600);
  const m = Math.floor((sec % 3600) / 60);
  const s = sec % 60;
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}.000`;
}
