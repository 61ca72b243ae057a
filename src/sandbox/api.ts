// The six JSON operations: validate, resolve the window and page token, filter, page, render. List faults
// (repeated token, shifted page, moved item, duplicates) are applied here because they need the page.
import type { EngagementSkeleton, RecordingSkeleton, VoicemailSkeleton } from './generate.js';
import type { ListQuery } from './lists.js';
import type { Lister } from './lists.js';
import { PageTokens } from './paging.js';
import type { OperationId, Params, ZoomErrorBody } from './params.js';
import { DEFAULT_PAGE_SIZE, isErrorBody, parseParams, resolveWindow } from './params.js';
import { channelTypes } from './render.js';
import type { Renderer } from './render.js';
import type { Entry, SourceName, Store } from './store.js';
import type { Content } from './content.js';

export type ListFault = { type: 'repeatPageToken' } | { type: 'cyclePageToken' } | { type: 'shiftPage'; by: number } | { type: 'moveItem' } | { type: 'duplicateItems' };
export interface ApiResult { status: number; body: unknown }

const STALE: ZoomErrorBody = { code: 300, message: 'The next page token is invalid or expired.' };

export class Api {
  /** The page token each query (by its hash) was last asked with, for cyclePageToken. */
  private readonly lastSent = new Map<string, string>();

  constructor(
    private readonly store: Store,
    private readonly lister: Lister,
    private readonly content: Content,
    private readonly render: Renderer,
    private readonly tokens: PageTokens,
  ) {}

  handle(op: OperationId, path: string, pathId: string | null, query: URLSearchParams, fault: ListFault | null): ApiResult {
    const params = parseParams(op, query);
    if (isErrorBody(params)) return { status: 400, body: params };
    if (op === 'getEngagement') return this.getEngagement(pathId ?? '');
    const now = this.store.nowSec();
    const sent = typeof params['next_page_token'] === 'string' && params['next_page_token'] !== '' ? params['next_page_token'] : null;
    const queryHash = PageTokens.queryHash(path, params);
    const sentBefore = sent ? this.lastSent.get(queryHash.toString('hex')) : undefined;
    if (sent) this.lastSent.set(queryHash.toString('hex'), sent);
    const cursor = sent ? this.tokens.open(sent, queryHash, now) : null;
    if (sent && !cursor) return { status: 400, body: STALE };
    const anchor = cursor?.anchor ?? now;
    const window = resolveWindow(op, params, anchor);
    if (isErrorBody(window)) return { status: 400, body: window };
    const size = typeof params['page_size'] === 'number' ? params['page_size'] : DEFAULT_PAGE_SIZE[op];
    let offset = cursor?.offset ?? 0;
    if (fault?.type === 'shiftPage') offset = Math.max(0, offset - fault.by);

    let entries: Entry[];
    let total: number;
    if (op === 'listEngagementRecordings') {
      const sk = this.store.engagementById(pathId ?? '');
      if (!sk || !this.content.engagementListed(sk)) {
        return { status: 404, body: { code: 2805, message: `Engagement recordings does not exist or you do not have the corresponding operation authority: ${pathId}.` } };
      }
      const channel = str(params, 'channel') ?? str(params, 'channel_type');
      const all = this.store.recordingsOf(sk)
        .filter((r) => r.start >= window.from && r.start <= window.to && this.content.recordingReady(r) && (!channel || r.channel === channel))
        .sort((a, b) => a.start - b.start || (a.id < b.id ? -1 : 1))
        .map((r): Entry => ({ id: r.id, t: r.start, avail: 0, day: 0, index: 0, sub: 0, late: r }));
      entries = all.slice(offset, offset + size);
      total = all.length;
    } else {
      const missing = this.missingReference(op, params, pathId);
      if (missing) return { status: 404, body: missing };
      const q = this.query(op, params, window.from, window.to, pathId);
      if (fault?.type === 'moveItem') {
        const later = this.lister.page(q, offset + size, 1).entries[0];
        if (later) this.lister.pin(q.source, later);
      }
      ({ entries, total } = this.lister.page(q, offset, size));
    }

    let next = offset + size < total ? this.tokens.issue(queryHash, { offset: offset + size, issued: now, anchor }) : '';
    if (fault?.type === 'repeatPageToken' && sent) next = sent;
    if (fault?.type === 'cyclePageToken' && sentBefore !== undefined && sentBefore !== sent) next = sentBefore;
    const first = entries[0];
    if (fault?.type === 'duplicateItems' && first) entries = [first, ...entries];

    if (op === 'listEngagements') {
      const engagements = entries.map((e) => this.render.engagementListItem(this.store.skeleton(e.day, e.index), window.timezone));
      return { status: 200, body: { next_page_token: next, page_size: size, total_records: total, timezone: window.timezone, from: window.fromText, to: window.toText, engagements } };
    }
    if (op === 'listRecordings' || op === 'listEngagementRecordings') {
      const recordings = entries.map((e) => this.render.recordingItem(this.recordingOf(e)));
      return { status: 200, body: { next_page_token: next, page_size: size, from: window.fromText, to: window.toText, recordings } };
    }
    const messages = entries.map((e) => this.render.messageItem(this.voicemailOf(e), op === 'listInboxMessages'));
    return { status: 200, body: { next_page_token: next, page_size: size, total_records: total, messages } };
  }

  /** Zoom answers 404 for an inbox, queue or user filter that names nothing. */
  private missingReference(op: OperationId, params: Params, pathId: string | null): ZoomErrorBody | null {
    const c = this.store.catalog;
    if (op === 'listInboxMessages' && !c.inboxes.some((i) => i.id === pathId)) return { code: 3001, message: `Inbox does not exist: ${pathId}.` };
    if (op !== 'listEngagements') return null;
    const queue = str(params, 'queue_id');
    if (queue && !c.queues.some((q) => q.id === queue)) return { code: 1201, message: `Queue does not exist: ${queue}.` };
    const user = str(params, 'user_id');
    if (user && !c.agents.some((a) => a.id === user)) return { code: 1001, message: `User does not exist: ${user}.` };
    return null;
  }

  private getEngagement(id: string): ApiResult {
    const sk = this.store.engagementById(id);
    if (!sk || !this.content.engagementListed(sk)) return { status: 404, body: { code: 2901, message: `Engagement does not exist: ${id}.` } };
    return { status: 200, body: this.render.engagementDetail(sk) };
  }

  private engagementOf(e: Entry): EngagementSkeleton { return this.store.skeleton(e.day, e.index); }
  private recordingOf(e: Entry): RecordingSkeleton {
    const r = e.late ?? this.engagementOf(e).recordings[e.sub];
    if (!r) throw new Error(`no recording behind ${e.id}`);
    return r;
  }
  private voicemailOf(e: Entry): VoicemailSkeleton {
    const vm = this.engagementOf(e).voicemail;
    if (!vm) throw new Error(`no voicemail behind ${e.id}`);
    return vm;
  }

  /** The list query (source, window, filters) for an operation's parameters. */
  query(op: OperationId, params: Params, from: number, to: number, inboxId: string | null): ListQuery {
    const c = this.store.catalog;
    const tests: ((e: Entry) => boolean)[] = [];
    const filterKey: Record<string, unknown> = {};
    const add = (key: string, value: unknown, test: (e: Entry) => boolean): void => {
      filterKey[key] = value;
      tests.push(test);
    };
    let source: SourceName;
    if (op === 'listEngagements') {
      source = 'engagements';
      const eng = (e: Entry): EngagementSkeleton => this.engagementOf(e);
      const queue = str(params, 'queue_id');
      if (queue) add('queue', queue, (e) => eng(e).queues.some((q) => c.queue(q).id === queue));
      const user = str(params, 'user_id');
      if (user) add('user', user, (e) => eng(e).agents.some((a) => c.agent(a).id === user));
      const number = str(params, 'consumer_number');
      if (number) add('number', number, (e) => eng(e).channel !== 'email' && c.consumer(eng(e).consumer).number === number);
      const channel = str(params, 'channel');
      const types = list(params, 'channel_types');
      if (channel) add('channel', channel, (e) => eng(e).channel === channel);
      else if (types) add('types', types, (e) => channelTypes(eng(e)).some((t) => types.includes(t)));
      const sources = list(params, 'channel_sources');
      if (sources) add('sources', sources, (e) => sources.includes(eng(e).source ?? ''));
      const direction = str(params, 'direction');
      if (direction) add('direction', direction, (e) => eng(e).direction === direction);
    } else if (op === 'listRecordings') {
      source = str(params, 'query_date_type') === 'recording_end_time' ? 'recordings:end' : 'recordings:start';
      const channel = str(params, 'channel') ?? str(params, 'channel_type');
      if (channel) add('channel', channel, (e) => this.recordingOf(e).channel === channel);
      const type = str(params, 'recording_type');
      if (type) add('type', type, (e) => this.recordingOf(e).recordingType === type);
      const owner = str(params, 'owner_type');
      if (owner) add('owner', owner, (e) => this.recordingOf(e).ownerType === owner);
    } else {
      source = 'messages';
      const vm = (e: Entry): VoicemailSkeleton => this.voicemailOf(e);
      const inbox = inboxId ?? str(params, 'inbox_id');
      if (inbox) add('inbox', inbox, (e) => c.inbox(vm(e).inbox).id === inbox);
      const queues = list(params, 'cc_queue_ids') ?? list(params, 'queue_ids');
      if (queues) add('queues', queues, (e) => queues.includes(c.queue(vm(e).queue).id));
      const flow = str(params, 'flow_id');
      if (flow) add('flow', flow, (e) => c.flow(vm(e).flow).id === flow);
      const min = params['minimum_duration'];
      if (typeof min === 'number') add('min', min, (e) => vm(e).duration >= min);
      const max = params['maximum_duration'];
      if (typeof max === 'number') add('max', max, (e) => vm(e).duration <= max);
      const engagement = str(params, 'engagement_id');
      if (engagement) add('engagement', engagement, (e) => vm(e).engagementId === engagement);
      const number = str(params, 'consumer_number');
      if (number) add('number', number, (e) => c.consumer(vm(e).consumer).number === number);
      // Every generated voicemail is "normal"; none is soft-deleted.
      if (str(params, 'status') === 'deleted') add('status', 'deleted', () => false);
    }
    const filter = tests.length === 0 ? null : (e: Entry): boolean => tests.every((t) => t(e));
    return { source, from, to, filter, filterKey: JSON.stringify(filterKey) };
  }
}

function str(params: Params, name: string): string | undefined {
  const v = params[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function list(params: Params, name: string): string[] | undefined {
  const v = params[name];
  return Array.isArray(v) && v.length > 0 ? v : undefined;
}
