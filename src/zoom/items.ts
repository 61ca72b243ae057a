// Typed parsing of the list endpoints' items at the edge: a missing or malformed field is an error here, for that
// item only, not a crash three modules later.
import { z } from 'zod';

const text = z.string().max(100_000);
const optionalText = z.string().max(10_000).optional().nullable();
const isoTime = z.string().max(64).refine((value) => !Number.isNaN(Date.parse(value)), 'an ISO-8601 date-time');
const url = z.string().max(4096).refine((value) => /^https?:\/\//.test(value), 'an http(s) URL');

export const engagementItem = z.object({
  engagement_id: z.string(),
  start_time: isoTime,
  end_time: isoTime.optional().nullable(),
  direction: optionalText,
  channels: z.array(z.object({ channel: optionalText, channel_source: optionalText })).optional().nullable(),
  consumers: z
    .array(z.object({ consumer_id: optionalText, consumer_display_name: optionalText, consumer_number: optionalText }))
    .optional()
    .nullable(),
  queues: z.array(z.object({ cc_queue_id: optionalText, queue_name: optionalText })).optional().nullable(),
  agents: z.array(z.object({ user_id: z.string(), display_name: optionalText })).optional().nullable(),
  dispositions: z.array(z.object({ disposition_id: z.string(), disposition_name: text })).optional().nullable(),
  notes: z
    .array(z.object({ note_id: z.string(), note: text, user_id: optionalText, last_modified_time: isoTime.optional().nullable() }))
    .optional()
    .nullable(),
  transcript_url: url.optional().nullable(),
});
export type EngagementItem = z.infer<typeof engagementItem>;

export const recordingItem = z.object({
  recording_id: z.string(),
  engagement_id: z.string(),
  recording_start_time: isoTime,
  recording_end_time: isoTime,
  recording_duration: z.number().optional().nullable(),
  download_url: url.optional().nullable(),
  transcript_url: url.optional().nullable(),
  channel: optionalText,
  direction: optionalText,
  cc_queue_id: optionalText,
  queue_name: optionalText,
  user_id: optionalText,
  display_name: optionalText,
  consumers: z.array(z.object({ consumer_name: optionalText, consumer_number: optionalText })).optional().nullable(),
});
export type RecordingItem = z.infer<typeof recordingItem>;

export const messageItem = z.object({
  message_id: z.string(),
  engagement_id: z.string(),
  created_at: isoTime,
  message_type: optionalText,
  download_url: url.optional().nullable(),
  transcript_url: url.optional().nullable(),
  inbox_id: optionalText,
  cci_queue_id: optionalText,
  cc_queue_id: optionalText,
  queue_id: optionalText,
  queue_name: optionalText,
  consumer_id: optionalText,
  consumer_number: optionalText,
  consumer_display_name: optionalText,
  status: optionalText,
});
export type MessageItem = z.infer<typeof messageItem>;

export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0]!;
  return `${issue.path.join('.') || '(item)'}: ${issue.message}`;
}
