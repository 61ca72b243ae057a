// zcc-reconcile: flow event script for the Start widget of a Zoom Contact Center flow.
//
// Paste this into Flow → Start widget → Events → "Engagement Closed" (and again for "Disposition Saved"). It tells
// `zcc-reconcile listen` that an engagement has something to collect; the listener then fetches the engagement from
// the Zoom API (Get Engagement) and delivers its notes, dispositions and messaging transcript. Nothing else of the
// engagement leaves Zoom through this script: only its id and the name of the event.
//
// Set up two custom global variables in the flow (Data Masked, so they never show in logs):
//   global_custom.Custom.zccListenerUrl   e.g. https://zcc.example.com/flow/events   (listen.flowPath behind TLS)
//   global_custom.Custom.zccFlowSecret    the same value as ZCC_FLOW_SECRET on the listener
//
// The runtime (async main, var_get, req, log) is what Zoom's flow scripts provide; variable names for the engagement
// id differ between accounts and versions, so several are tried.

const EVENT_NAME = 'Engagement Closed'; // change to 'Disposition Saved' in the copy attached to that event

function firstValue(vars, names) {
  for (const name of names) {
    const value = vars[name];
    if (typeof value === 'string' && value.length > 0) return value;
  }
  return null;
}

function engagementIdFrom(vars) {
  const direct = firstValue(vars, [
    'global_system.Engagement.engagementId',
    'global_system.Engagement.EngagementID',
    'global_system.Engagement.id',
  ]);
  if (direct) return direct;
  // Some accounts expose the system variables as one JSON string instead.
  const system = vars['global_system'];
  if (typeof system === 'string') {
    try {
      const parsed = JSON.parse(system);
      const engagement = parsed && parsed.Engagement;
      return (engagement && (engagement.engagementId || engagement.EngagementID || engagement.id)) || null;
    } catch (error) {
      return null;
    }
  }
  return null;
}

async function main() {
  const vars = var_get();
  const url = firstValue(vars, ['global_custom.Custom.zccListenerUrl']);
  const secret = firstValue(vars, ['global_custom.Custom.zccFlowSecret']);
  const engagementId = engagementIdFrom(vars);
  if (!url || !secret) {
    log.error('zcc-reconcile: zccListenerUrl or zccFlowSecret is not set');
    return;
  }
  if (!engagementId) {
    log.error('zcc-reconcile: no engagement id in the flow variables');
    return;
  }
  const body = { engagement_id: engagementId, event: EVENT_NAME, sent_at: new Date().toISOString() };
  // Three tries: the listener answers 200 once the event is stored; a 401 means the secret differs from ZCC_FLOW_SECRET.
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      const response = await req.post(url, body, {
        headers: { Authorization: `Bearer ${secret}`, 'Content-Type': 'application/json' },
      });
      const status = response && (response.status || response.statusCode);
      if (!status || (status >= 200 && status < 300)) {
        log.info(`zcc-reconcile: ${EVENT_NAME} sent for ${engagementId}`);
        return;
      }
      if (status >= 400 && status < 500) {
        log.error(`zcc-reconcile: the listener refused the call (HTTP ${status})`);
        return;
      }
    } catch (error) {
      log.error(`zcc-reconcile: attempt ${attempt} failed: ${error && error.message ? error.message : error}`);
    }
  }
  log.error('zcc-reconcile: giving up; the nightly run will collect this engagement');
}
