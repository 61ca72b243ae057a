// The straightforward script a team writes from the Zoom docs: get a token, page through the three list endpoints
// one page at a time (the largest page size the docs allow, both bounds, as the docs say), then download every file
// one after the other. No ledger (every night starts from nothing), no pacing: on a 429 it sleeps a fixed second and
// tries again. Files go nowhere (the body is read and dropped), like the benchmark's null destination.
//
//   node bench/baseline/naive-poller.mjs '{"apiBaseUrl":…,"oauthTokenUrl":…,"accountId":…,"clientId":…,"clientSecret":…,"from":…,"to":…}'
// prints one JSON line: { wallMs, requests, throttled, downloads, bytes, notes, dispositions }.

const job = JSON.parse(process.argv[2] ?? '{}');
const FIXED_SLEEP_MS = 1000;
const stats = { requests: 0, throttled: 0, downloads: 0, bytes: 0, notes: 0, dispositions: 0 };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function getToken() {
  const basic = Buffer.from(`${job.clientId}:${job.clientSecret}`).toString('base64');
  const response = await fetch(job.oauthTokenUrl, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'account_credentials', account_id: job.accountId }),
  });
  if (!response.ok) throw new Error(`token: HTTP ${response.status}`);
  return (await response.json()).access_token;
}

/** GET with the token; on 429 sleep a fixed second and try again. */
async function get(url, token) {
  for (;;) {
    stats.requests++;
    const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    if (response.status === 429) {
      stats.throttled++;
      await response.arrayBuffer();
      await sleep(FIXED_SLEEP_MS);
      continue;
    }
    if (!response.ok) throw new Error(`${new URL(url).pathname}: HTTP ${response.status}`);
    return response;
  }
}

async function listAll(token, path, params, field) {
  const items = [];
  let next = '';
  do {
    const query = new URLSearchParams({ ...params, ...(next ? { next_page_token: next } : {}) });
    const page = await (await get(`${job.apiBaseUrl}${path}?${query}`, token)).json();
    items.push(...page[field]);
    next = page.next_page_token ?? '';
  } while (next);
  return items;
}

async function download(url, token) {
  if (!url) return;
  const response = await get(url, token);
  for await (const chunk of response.body) stats.bytes += chunk.length;
  stats.downloads++;
}

const started = performance.now();
const token = await getToken();
const from = job.from.replace(/\.\d{3}Z$/, 'Z');
const to = new Date(Date.parse(job.to) - 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
const engagements = await listAll(token, '/contact_center/engagements', { from, to, timezone: 'UTC', page_size: '100' }, 'engagements');
const recordings = await listAll(token, '/contact_center/recordings', { from, to, query_date_type: 'recording_end_time', page_size: '300' }, 'recordings');
const messages = await listAll(token, '/contact_center/inboxes/messages', { from, to, page_size: '300' }, 'messages');
for (const engagement of engagements) {
  stats.notes += engagement.notes?.length ?? 0;
  stats.dispositions += engagement.dispositions?.length ?? 0;
  await download(engagement.transcript_url, token);
}
for (const recording of recordings) {
  await download(recording.download_url, token);
  await download(recording.transcript_url, token);
}
for (const message of messages) {
  await download(message.download_url, token);
  await download(message.transcript_url, token);
}
console.log(JSON.stringify({ wallMs: performance.now() - started, ...stats }));
