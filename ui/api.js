// The API client: the token lives in sessionStorage and goes in the Authorization header
// of every data request, never in a URL or a cookie.

const KEY = 'alertgate.token';

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (t) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(status, code, message, errors) {
    super(message);
    this.status = status;
    this.code = code;
    this.errors = errors;
  }
}

/** Calls the API; resolves with the JSON body, rejects with an ApiError. */
export async function api(path, { method = 'GET', body } = {}) {
  const headers = { Authorization: `Bearer ${token.get() || ''}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, 'network', `cannot reach the gateway: ${e.message}`);
  }
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  if (!response.ok) {
    const err = (json && json.error) || {};
    throw new ApiError(response.status, err.code || 'http_error', err.message || text || response.statusText, err.errors);
  }
  return json;
}

/**
 * Reads /v1/events with fetch and a streamed body (EventSource cannot send a header),
 * resuming from the last `id:` seen. Calls onEvent(name, data) and onState(live).
 * Returns a stop function.
 */
export function streamEvents(onEvent, onState) {
  const controller = new AbortController();
  let lastId = null;
  let stopped = false;
  async function once() {
    const headers = { Authorization: `Bearer ${token.get() || ''}` };
    if (lastId) headers['Last-Event-ID'] = lastId;
    const response = await fetch('/v1/events', { headers, signal: controller.signal, cache: 'no-store' });
    if (!response.ok) throw new ApiError(response.status, 'stream', `event stream answered ${response.status}`);
    onState(true);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let name = 'message';
        let data = '';
        let id = null;
        for (const line of block.split('\n')) {
          if (line.startsWith('id: ')) id = line.slice(4);
          else if (line.startsWith('event: ')) name = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (id) lastId = id;
        if (data) {
          try { onEvent(name, JSON.parse(data)); } catch { /* a malformed frame is skipped */ }
        }
      }
    }
  }
  (async () => {
    while (!stopped) {
      try { await once(); } catch (e) { if (stopped) return; }
      onState(false);
      if (!stopped) await new Promise((r) => setTimeout(r, 2000));
    }
  })();
  return () => { stopped = true; controller.abort(); };
}
