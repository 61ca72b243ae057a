// The phone call activity that stands for one engagement: its columns, written in the one upsert that creates it.
import type { EngagementInfo } from '../../artifacts.js';
import { markerOf } from '../crm/adapter.js';

/** `phonecall.description` MaxLength. */
const DESCRIPTION_LIMIT = 2_000;
/** `phonecall.subject` (activity) MaxLength. */
const SUBJECT_LIMIT = 200;

/** The phone call's columns from the engagement (everything written in the one upsert; the call stays open). */
export function phoneCallFields(engagement: EngagementInfo): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    subject: `Zoom ${engagement.channel ?? 'call'} ${engagement.engagementId}`.slice(0, SUBJECT_LIMIT),
    description: describeEngagement(engagement),
  };
  const number = engagement.consumers[0]?.number;
  if (number) fields.phonenumber = number.slice(0, 200);
  if (engagement.direction === 'inbound' || engagement.direction === 'outbound') fields.directioncode = engagement.direction === 'outbound';
  if (engagement.startTime) fields.actualstart = engagement.startTime;
  if (engagement.endTime) fields.actualend = engagement.endTime;
  const minutes = durationMinutes(engagement);
  if (minutes !== null) fields.actualdurationminutes = minutes;
  return fields;
}

function describeEngagement(engagement: EngagementInfo): string {
  const agents = engagement.agents.map((agent) => agent.displayName ?? agent.userId).join(', ');
  const consumer = engagement.consumers[0];
  const lines = [
    `Zoom Contact Center engagement ${engagement.engagementId}`,
    engagement.queueName ? `Queue: ${engagement.queueName}` : null,
    agents ? `Agents: ${agents}` : null,
    consumer ? `Customer: ${[consumer.displayName, consumer.number].filter(Boolean).join(' ')}` : null,
    engagement.channel ? `Channel: ${engagement.channel}` : null,
  ].filter((line): line is string => line !== null);
  const marker = markerOf(`engagement/${engagement.engagementId}`);
  return `${lines.join('\n').slice(0, DESCRIPTION_LIMIT - marker.length - 1)}\n${marker}`;
}

function durationMinutes(engagement: EngagementInfo): number | null {
  if (!engagement.startTime || !engagement.endTime) return null;
  const ms = Date.parse(engagement.endTime) - Date.parse(engagement.startTime);
  return Number.isFinite(ms) && ms >= 0 ? Math.round(ms / 60_000) : null;
}
