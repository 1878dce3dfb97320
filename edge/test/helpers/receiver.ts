import { inject } from "vitest";

/** Client of the real webhook receiver started by the global setup (test/node/webhook-receiver.ts). */
export interface PlannedResponse {
  status: number;
  headers?: Record<string, string>;
  delayMs?: number;
}

export interface ReceivedRequest {
  method: string;
  headers: Record<string, string>;
  body: string;
}

/** A fresh path on the receiver, answering `responses` in order and 200 afterwards. */
export async function receiverPath(responses: PlannedResponse[] = []): Promise<{ url: string; path: string }> {
  const path = `/hook/${crypto.randomUUID()}`;
  await fetch(`${inject("receiverUrl")}/_control/plan`, {
    method: "POST",
    body: JSON.stringify({ path, responses }),
  });
  return { url: `${inject("receiverUrl")}${path}`, path };
}

export async function receivedOn(path: string): Promise<ReceivedRequest[]> {
  const response = await fetch(`${inject("receiverUrl")}/_control/requests?path=${encodeURIComponent(path)}`);
  return (await response.json()) as ReceivedRequest[];
}
