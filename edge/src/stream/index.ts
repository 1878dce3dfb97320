export { handleStreamRequest } from "./handler.ts";
export { StreamNotifier } from "./notifier.ts";
export { formatOffset, parseOffset } from "./offsets.ts";
export type { StreamRoomOptions } from "./room-options.ts";
export { StreamStore } from "./stream-store.ts";
