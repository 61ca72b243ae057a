// Synthetic artifacts shaped like the ones src/zoom/mapping.ts builds (same fields, realistic sizes), for the ledger
// benchmark: a note, a disposition or a recording with its transcript, in the sandbox's proportions.
import { createHash } from 'node:crypto';

const KINDS = ['note', 'note', 'note', 'disposition', 'disposition', 'recording', 'recording_transcript', 'messaging_transcript', 'voicemail'];

const TAGS = new Map();
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** A 32-bit mix of (seed, n): ids look random (as Zoom's do), so keys land all over the ledger's indexes. */
function mix(seed, n) {
  let h = Math.imul(seed ^ n, 0x9e3779b1) ^ (n >>> 7);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A 22-character base64url id, stable for (tag, n) and distinct for distinct n. */
export function id(tag, n) {
  let seed = TAGS.get(tag);
  if (seed === undefined) TAGS.set(tag, (seed = createHash('sha1').update(tag).digest().readUInt32LE(0)));
  let text = '';
  for (let round = 0; text.length < 16; round++) {
    let h = mix(seed + round, n);
    for (let k = 0; k < 5; k++, h >>>= 6) text += ALPHABET[h & 63];
  }
  // The last six characters spell n itself, so two numbers never share an id.
  let rest = n;
  for (let k = 0; k < 6; k++, rest = Math.floor(rest / 64)) text += ALPHABET[rest % 64];
  return text.slice(0, 22);
}

function engagement(n) {
  return {
    engagementId: id('eng', n),
    startTime: new Date(Date.UTC(2026, 9, 1) + n * 900).toISOString(),
    endTime: new Date(Date.UTC(2026, 9, 1) + n * 900 + 420_000).toISOString(),
    direction: 'inbound',
    channel: 'voice',
    queueId: id('queue', n % 12),
    queueName: 'Support',
    agents: [{ userId: id('agent', n % 80), displayName: 'Sam Ortiz' }],
    consumers: [{ consumerId: id('consumer', n), displayName: 'Ada Park', number: '+15550100001' }],
  };
}

/** Artifact number `n`; `version` changes the content (an edited note) and so the fingerprint. */
export function artifact(n, version = 0) {
  const kind = KINDS[n % KINDS.length];
  const info = engagement(Math.floor(n / 3));
  const at = info.startTime;
  const base = { kind, engagementId: info.engagementId, listedAt: at, occurredAt: at, engagement: info };
  if (kind === 'note' || kind === 'disposition') {
    const text = `${JSON.stringify({ engagement_id: info.engagementId, [`${kind}_id`]: id(kind, n), note: `Customer asked about order ${n}; resolved (v${version}).` }, null, 2)}\n`;
    return {
      ...base,
      key: `${kind}/${info.engagementId}/${id(kind, n)}`,
      extension: 'json',
      contentType: 'application/json',
      state: 'ready',
      body: { type: 'inline', text },
      fingerprint: `sha256:${createHash('sha256').update(text).digest('hex')}`,
    };
  }
  const sourceId = id(kind, n);
  return {
    ...base,
    key: `${kind}/${sourceId}`,
    extension: kind === 'recording' ? 'mp3' : 'vtt',
    contentType: kind === 'recording' ? 'audio/mpeg' : 'text/vtt',
    state: 'ready',
    body: { type: 'download', url: `https://api.zoom.us/v2/contact_center/recording/download/${sourceId}?type=voice` },
    fingerprint: `zoom:${kind}:${sourceId}:${version}`,
  };
}

/** The delivery record of an artifact at a destination. */
export function delivery(destination, a, at) {
  return { destination, key: a.key, fingerprint: a.fingerprint, size: 1000 + (a.key.length * 7919) % 900_000, sha256: createHash('sha256').update(a.key).digest('hex'), location: `2026/10/01/${a.engagementId}/${a.key.replace(/\//g, '-')}`, deliveredAt: at };
}
