// Reading the server's live feed (Server-Sent Events) with fetch: each `tx` event's data, in order,
// reconnecting after a dropped stream from the last t received (Last-Event-ID).
import { FactlogError } from '../../query-lang/errors.js';

const RETRY_MS = 500;

export async function* readFeed(url: string, fromT: number, token: string | undefined, signal: AbortSignal): AsyncGenerator<unknown> {
  let lastId: number | null = null;
  while (!signal.aborted) {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (token) headers.authorization = `Bearer ${token}`;
    if (lastId !== null) headers['last-event-id'] = String(lastId);
    let response: Response;
    try {
      response = await fetch(`${url}/api/feed?from=${fromT}`, { headers, signal });
    } catch (err) {
      if (signal.aborted) return;
      await pause(RETRY_MS, signal);
      continue;
    }
    if (!response.ok) {
      const body = (await response.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
      // a refusal (no token, too many streams) is final; the caller hears of it
      throw new FactlogError(body.error?.code ?? 'client/feed-refused', body.error?.message ?? `the feed answered HTTP ${response.status}`);
    }
    try {
      for await (const event of events(response.body!)) {
        if (event.id !== undefined) lastId = Number(event.id);
        if (event.event === 'tx') yield JSON.parse(event.data);
        else if (event.event === 'error') break; // cut off (a slow reader): reconnect from lastId
      }
    } catch (err) {
      if (signal.aborted) return;
    }
    if (!signal.aborted) await pause(RETRY_MS, signal);
  }
}

interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

/** SSE events from a byte stream: fields up to a blank line; comment lines (`:`) skipped. */
async function* events(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  let current: SseEvent = { event: 'message', data: '' };
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).replace(/\r$/, '');
      buffer = buffer.slice(nl + 1);
      if (line === '') {
        if (current.data !== '' || current.id !== undefined) yield current;
        current = { event: 'message', data: '' };
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'data') current.data += (current.data ? '\n' : '') + value;
      else if (field === 'event') current.event = value;
      else if (field === 'id') current.id = value;
    }
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
