/**
 * Server-sent events framing (WHATWG HTML "server-sent events"). A block's index is its event `id`, so a
 * reconnecting EventSource sends it back as `Last-Event-ID`; the final `done` event has no id, so it never
 * moves the resume point.
 */
export interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

export function formatSseEvent({ id, event, data }: SseEvent): string {
  let frame = "";
  if (id !== undefined) frame += `id: ${id}\n`;
  if (event !== undefined) frame += `event: ${event}\n`;
  for (const line of data.split(/\r\n|\r|\n/)) frame += `data: ${line}\n`;
  return `${frame}\n`;
}

export function formatSseComment(text: string): string {
  return `: ${text.replace(/[\r\n]+/g, " ")}\n\n`;
}

/** `retry:` tells EventSource how long to wait before reconnecting, in milliseconds. */
export function formatSseRetry(milliseconds: number): string {
  return `retry: ${Math.round(milliseconds)}\n\n`;
}
