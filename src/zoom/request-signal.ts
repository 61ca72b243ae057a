// A signal for one request, aborted with a long-lived one (the run's, the listener's). got leaves its abort listener on
// the signal it is given until the request is destroyed, which a request that succeeds never is: on the long-lived
// signal they would pile up, one per request of the night (and Node warns past its limit). This one goes with its
// request; `release` unlinks it.
export function requestSignal(parent: AbortSignal | undefined): { signal: AbortSignal | undefined; release: () => void } {
  if (!parent) return { signal: undefined, release: () => undefined };
  const controller = new AbortController();
  if (parent.aborted) controller.abort(parent.reason);
  const abort = () => controller.abort(parent.reason);
  parent.addEventListener('abort', abort, { once: true });
  return { signal: controller.signal, release: () => parent.removeEventListener('abort', abort) };
}
