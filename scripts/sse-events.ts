/** The SSE reader lives in shared/ (the edge reads its own job streams with it); Node-side tools import it here. */
export { type SseEvent, sseEvents } from "@bd3-serve/shared";
