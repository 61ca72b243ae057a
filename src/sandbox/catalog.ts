// The account's fixed configuration (queues, agents, flows, inboxes, dispositions, customers), derived from the seed.
import { IdCodec, Kind } from './ids.js';
import { Rng, hash32 } from './random.js';

export interface Queue { id: string; name: string; weight: number; transcription: boolean }
export interface Agent { id: string; name: string; email: string }
export interface Flow { id: string; name: string; version: string; number: string }
export interface Inbox { id: string; name: string }
export interface DispositionType { id: string; name: string }
export interface Consumer { id: string; name: string; number: string }

const FIRST = ['Ada', 'Sam', 'Lee', 'Kim', 'Ravi', 'Noor', 'Jonas', 'Mia', 'Omar', 'Lena', 'Tariq', 'Eva', 'Hugo', 'Ines', 'Kofi', 'Yuki', 'Priya', 'Diego', 'Zoe', 'Mateo'];
const LAST = ['Park', 'Ortiz', 'Chen', 'Diaz', 'Shah', 'Okafor', 'Berg', 'Rossi', 'Haddad', 'Novak', 'Silva', 'Tanaka', 'Moreau', 'Kowalski', 'Nguyen', 'Adeyemi'];
const QUEUES: [string, number, boolean][] = [
  ['Support', 32, true],
  ['Billing', 24, true],
  ['Sales', 20, true],
  ['Technical', 14, true],
  // A queue with transcription switched off: its recordings never get a transcript_url.
  ['Retention', 10, false],
];
const FLOWS: [string, string][] = [['Main IVR', '7'], ['Web chat', '3'], ['Video kiosk', '2'], ['Email intake', '5']];
const INBOXES = ['After hours', 'Support voicemail', 'Billing voicemail'];
const DISPOSITIONS = ['Resolved', 'Follow-up required', 'Escalated', 'Callback scheduled', 'Wrong number', 'Sale closed'];
export const NOTE_TEXTS = [
  'Customer asked for a refund; approved under policy 4.2.',
  'Reset password and confirmed login works.',
  'Escalated to tier 2, ticket opened.',
  'Caller wants a callback tomorrow morning.',
  'Explained the new billing cycle; customer satisfied.',
  'Shipping address updated — "Straße 5, München".',
  'Transferred after verifying identity.',
  'Customer reported intermittent audio; advised a headset.',
];
const CONSUMER_POOL = 2000;

export class Catalog {
  readonly queues: Queue[];
  readonly agents: Agent[];
  readonly flows: Flow[];
  readonly inboxes: Inbox[];
  readonly dispositions: DispositionType[];
  private readonly consumers = new Map<number, Consumer>();

  constructor(private readonly seed: number, private readonly ids: IdCodec) {
    const rng = new Rng(hash32(seed, 0xca7a));
    this.queues = QUEUES.map(([name, weight, transcription], i) => ({ id: ids.id(Kind.Queue, 0, i), name, weight, transcription }));
    this.agents = Array.from({ length: 12 }, (_, i) => {
      const name = `${FIRST[(i * 7 + rng.int(0, 3)) % FIRST.length]} ${LAST[(i * 5 + rng.int(0, 3)) % LAST.length]}`;
      return { id: ids.id(Kind.User, 0, i), name, email: `${name.toLowerCase().replace(' ', '.')}${i}@example.com` };
    });
    this.flows = FLOWS.map(([name, version], i) => ({ id: ids.id(Kind.Flow, 0, i), name, version, number: `+1555020${String(1000 + i)}` }));
    this.inboxes = INBOXES.slice(0, 2 + (seed % 2)).map((name, i) => ({ id: ids.id(Kind.Inbox, 0, i), name }));
    this.dispositions = DISPOSITIONS.map((name, i) => ({ id: ids.id(Kind.Disposition, 0, i), name }));
  }

  queue(i: number): Queue { return at(this.queues, i); }
  agent(i: number): Agent { return at(this.agents, i); }
  flow(i: number): Flow { return at(this.flows, i); }
  inbox(i: number): Inbox { return at(this.inboxes, i); }
  disposition(i: number): DispositionType { return at(this.dispositions, i); }
  get consumerPool(): number { return CONSUMER_POOL; }

  consumer(i: number): Consumer {
    let c = this.consumers.get(i);
    if (!c) {
      const rng = new Rng(hash32(this.seed, 0xc0, i));
      c = {
        id: this.ids.id(Kind.Consumer, 0, i),
        name: `${rng.pick(FIRST)} ${rng.pick(LAST)}`,
        number: `+1555${String(1_000_000 + i * 37).slice(-7)}`,
      };
      this.consumers.set(i, c);
    }
    return c;
  }

  /** A disposition type by name, added to the catalog when new (mutations may name one). */
  dispositionNamed(name: string): DispositionType {
    const found = this.dispositions.find((d) => d.name === name);
    if (found) return found;
    const created = { id: this.ids.id(Kind.Disposition, 0, this.dispositions.length), name };
    this.dispositions.push(created);
    return created;
  }
}

function at<T>(items: readonly T[], i: number): T {
  const item = items[i];
  if (item === undefined) throw new Error(`catalog index ${i} out of range`);
  return item;
}
