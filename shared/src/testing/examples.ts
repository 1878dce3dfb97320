import type { JobView } from "../api/job.ts";

/** A valid job view for tests of the schemas that embed one. */
export const exampleJobView: JobView = {
  id: "gen_01HZX",
  object: "generation",
  status: "running",
  model: "kjv-bd3lm-b16",
  params: {
    max_tokens: 256,
    temperature: 1,
    top_p: 0.9,
    strategy: "first_hitting",
    confidence_threshold: 0.95,
    seed: 7,
    stop: [],
  },
  progress: { blocks: 2, tokens: 32, text_bytes: 12 },
  text: "And God said",
  finish_reason: null,
  usage: null,
  error: null,
  metadata: { order: "42" },
  is_stalled: false,
  retention_days: 30,
  created_at: "2026-11-28T10:00:00.000Z",
  started_at: "2026-11-28T10:00:01.000Z",
  finished_at: null,
  urls: {
    self: "/v1/generations/gen_01HZX",
    stream: "/v1/generations/gen_01HZX/stream",
    blocks: "/v1/generations/gen_01HZX/blocks",
    cancel: "/v1/generations/gen_01HZX/cancel",
    deliveries: "/v1/generations/gen_01HZX/deliveries",
    text: "/v1/generations/gen_01HZX/text",
  },
};
