/**
 * The playground: creates a generation through the public API and renders its blocks as the worker commits
 * them. No framework, no build step, no inline script (the page's CSP allows only same-origin scripts).
 *
 * - The API key lives in this tab's sessionStorage and only ever leaves in an `Authorization` header; the SSE
 *   stream is read with `fetch` + a stream reader, not EventSource (which can send neither).
 * - The job id lives in the URL hash (`#job=<id>`), so a reload resumes the same job: the committed blocks
 *   are read in pages from `/blocks`, then the stream continues with `Last-Event-ID` = the last block
 *   rendered. A block index at or below the last one rendered is never drawn twice.
 */

const KEY_STORAGE = "bd3.playground.apiKey";
const FORM_STORAGE = "bd3.playground.form";
const BLOCK_PAGE_LIMIT = 1000;
const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 10_000;
const TERMINAL = new Set(["succeeded", "failed", "canceled", "expired"]);

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

const els = {
  form: /** @type {HTMLFormElement} */ ($("generate-form")),
  apiKey: /** @type {HTMLInputElement} */ ($("api-key")),
  prompt: /** @type {HTMLTextAreaElement} */ ($("prompt")),
  maxTokens: /** @type {HTMLInputElement} */ ($("max-tokens")),
  strategy: /** @type {HTMLSelectElement} */ ($("strategy")),
  seed: /** @type {HTMLInputElement} */ ($("seed")),
  model: /** @type {HTMLInputElement} */ ($("model")),
  generate: /** @type {HTMLButtonElement} */ ($("generate")),
  cancel: /** @type {HTMLButtonElement} */ ($("cancel")),
  error: $("error"),
  jobId: $("job-id"),
  status: $("status"),
  blocks: $("blocks"),
  tokens: $("tokens"),
  rate: $("rate"),
  hovered: $("hovered"),
  output: $("output"),
};

/** Words for the API's error types (`{ error: { type, code, message, param } }`). */
const ERROR_TITLES = {
  invalid_request_error: "Invalid request",
  authentication_error: "Authentication failed",
  permission_error: "Not allowed",
  not_found_error: "Not found",
  gone_error: "Gone",
  conflict_error: "Conflict",
  idempotency_error: "Idempotency conflict",
  rate_limit_error: "Rate limited",
  payload_too_large_error: "Request too large",
  unsupported_media_type_error: "Unsupported media type",
  method_not_allowed_error: "Method not allowed",
  api_error: "Server error",
};

class ApiError extends Error {
  /**
   * @param {number} status
   * @param {{ type?: string, code?: string, message?: string, param?: string }} body
   * @param {string | null} [requestId]
   */
  constructor(status, body, requestId = null) {
    super(body.message ?? `HTTP ${status}`);
    this.status = status;
    this.requestId = requestId;
    this.type = body.type ?? (status >= 500 ? "api_error" : "invalid_request_error");
    this.code = body.code;
    this.param = body.param;
  }

  /** Worth another try with the same request: overload, rate limit, or a server-side failure. */
  get isRetryable() {
    return this.status === 429 || this.status >= 500;
  }
}

// --- the run being shown -----------------------------------------------------------------------------------

/**
 * @typedef {{ index: number, text: string, token_count: number }} Block
 * @typedef {{ id: string, status: string, finish_reason: string | null, error: { code: string, message: string } | null,
 *   progress: { blocks: number, tokens: number }, started_at: string | null, finished_at: string | null }} JobSummary
 */

const run = {
  /** @type {string | null} */
  jobId: null,
  lastIndex: -1,
  blockCount: 0,
  tokenCount: 0,
  /** Tokens and the time of the first block received live (not from the catch-up pages), for tokens/s. */
  liveTokens: 0,
  /** @type {number | null} */
  liveSince: null,
  /** The job's status as last known here ("canceling" once a cancel was accepted). */
  jobStatus: "idle",
  /** @type {AbortController | null} */
  abort: null,
};

function resetRun() {
  run.abort?.abort();
  run.jobId = null;
  run.lastIndex = -1;
  run.blockCount = 0;
  run.tokenCount = 0;
  run.liveTokens = 0;
  run.liveSince = null;
  run.jobStatus = "idle";
  run.abort = null;
  els.output.replaceChildren();
  els.hovered.textContent = "–";
  renderProgress();
}

// --- API ---------------------------------------------------------------------------------------------------

function apiKey() {
  return els.apiKey.value.trim();
}

/** @param {Record<string, string>} [extra] */
function authHeaders(extra = {}) {
  return { Authorization: `Bearer ${apiKey()}`, ...extra };
}

/** @param {Response} response */
async function errorOf(response) {
  let body = {};
  try {
    const parsed = await response.json();
    if (parsed && typeof parsed.error === "object" && parsed.error !== null) body = parsed.error;
  } catch {
    body = { message: `HTTP ${response.status} ${response.statusText}`.trim() };
  }
  return new ApiError(response.status, body, response.headers.get("x-request-id"));
}

/**
 * @param {string} path
 * @param {RequestInit} [init]
 */
async function api(path, init = {}) {
  const response = await fetch(path, {
    cache: "no-store",
    ...init,
    headers: authHeaders(/** @type {Record<string, string>} */ (init.headers ?? {})),
  });
  if (!response.ok) throw await errorOf(response);
  return response.json();
}

// --- rendering ---------------------------------------------------------------------------------------------

/** @param {unknown} error */
function showError(error) {
  if (error instanceof DOMException && error.name === "AbortError") return;
  let text;
  if (error instanceof ApiError) {
    const title = ERROR_TITLES[error.type] ?? error.type;
    const details = [];
    if (error.param !== undefined) details.push(`field: ${error.param}`);
    if (error.code !== undefined) details.push(`code: ${error.code}`);
    details.push(`HTTP ${error.status}`);
    if (error.requestId !== null) details.push(`request ${error.requestId}`);
    text = `${title}: ${error.message} (${details.join(", ")})`;
  } else if (error instanceof TypeError) {
    text = `Network error: ${error.message}. Is the edge running?`;
  } else {
    text = error instanceof Error ? error.message : String(error);
  }
  els.error.textContent = text;
  els.error.hidden = false;
}

function clearError() {
  els.error.hidden = true;
  els.error.textContent = "";
}

/** @param {string} status */
function renderStatus(status, detail = "") {
  els.status.dataset.status = status;
  els.status.textContent = detail === "" ? status : `${status} (${detail})`;
  const isActive = run.jobId !== null && !TERMINAL.has(status) && !["idle", "canceling", "error"].includes(status);
  els.cancel.disabled = !isActive;
}

/** @param {string} status */
function setJobStatus(status) {
  run.jobStatus = status;
  renderStatus(status);
}

function renderProgress() {
  els.jobId.textContent = run.jobId ?? "–";
  els.blocks.textContent = String(run.blockCount);
  els.tokens.textContent = String(run.tokenCount);
  if (run.liveSince !== null) {
    const seconds = (performance.now() - run.liveSince) / 1000;
    if (seconds > 0.2) els.rate.textContent = (run.liveTokens / seconds).toFixed(1);
  }
}

/**
 * Draws one block unless it is already on the page (an index at or below the last one drawn).
 * @param {Block} block
 * @param {boolean} isLive
 */
function appendBlock(block, isLive) {
  if (block.index <= run.lastIndex) return;
  const span = document.createElement("span");
  span.className = block.index % 2 === 1 ? "block odd" : "block";
  span.dataset.index = String(block.index);
  span.dataset.tokens = String(block.token_count);
  span.title = `block ${block.index} · ${block.token_count} tokens`;
  span.textContent = block.text;
  els.output.append(span);
  run.lastIndex = block.index;
  run.blockCount += 1;
  run.tokenCount += block.token_count;
  if (isLive) {
    if (run.liveSince === null) run.liveSince = performance.now();
    else run.liveTokens += block.token_count;
  }
  renderProgress();
}

/** @param {JobSummary} job */
function renderFinished(job) {
  run.jobStatus = job.status;
  renderStatus(job.status, job.finish_reason !== null && job.finish_reason !== job.status ? job.finish_reason : "");
  if (job.started_at !== null && job.finished_at !== null) {
    const seconds = (Date.parse(job.finished_at) - Date.parse(job.started_at)) / 1000;
    if (seconds > 0) els.rate.textContent = (job.progress.tokens / seconds).toFixed(1);
  }
  if (job.error !== null) showError(new Error(`The job failed: ${job.error.message} (code: ${job.error.code})`));
}

els.output.addEventListener("mouseover", (event) => {
  const target = /** @type {HTMLElement} */ (event.target);
  const block = target.closest(".block");
  if (block instanceof HTMLElement)
    els.hovered.textContent = `#${block.dataset.index} · ${block.dataset.tokens} tokens`;
});

// --- the stream --------------------------------------------------------------------------------------------

/**
 * Yields each server-sent event of a body (comments skipped; `retry:` reported through `onRetry`).
 * @param {ReadableStream<Uint8Array>} body
 * @param {(ms: number) => void} onRetry
 * @returns {AsyncGenerator<{ id?: string, event: string, data: string }>}
 */
async function* sseEvents(body, onRetry) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      const frames = buffer.split(/\r\n\r\n|\n\n|\r\r/);
      buffer = frames.pop() ?? "";
      for (const frame of frames) {
        /** @type {{ id?: string, event: string, data: string }} */
        const event = { event: "message", data: "" };
        const data = [];
        for (const line of frame.split(/\r\n|\n|\r/)) {
          if (line === "" || line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const field = colon === -1 ? line : line.slice(0, colon);
          const fieldValue = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "id") event.id = fieldValue;
          else if (field === "event") event.event = fieldValue;
          else if (field === "data") data.push(fieldValue);
          else if (field === "retry" && /^\d+$/.test(fieldValue)) onRetry(Number(fieldValue));
        }
        if (data.length === 0) continue;
        event.data = data.join("\n");
        yield event;
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/** @param {number} ms @param {AbortSignal} signal */
function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

/**
 * Draws the committed blocks after `run.lastIndex`, a page at a time.
 * @param {string} jobId
 * @param {AbortSignal} signal
 */
async function catchUp(jobId, signal) {
  let after = run.lastIndex;
  for (;;) {
    const page = await api(
      `/v1/generations/${encodeURIComponent(jobId)}/blocks?after=${after}&limit=${BLOCK_PAGE_LIMIT}`,
      { signal },
    );
    for (const block of page.data) appendBlock(block, false);
    if (!page.has_more || page.next_after === null || page.next_after <= after) return;
    after = page.next_after;
  }
}

/**
 * Follows the job's SSE stream from `run.lastIndex` until its `done` event, reconnecting with `Last-Event-ID`
 * when the stream closes early (the edge ends a tail connection after about a minute) or the network drops.
 * @param {string} jobId
 * @param {AbortSignal} signal
 */
async function follow(jobId, signal) {
  let retryMs = 2000;
  let failures = 0;
  for (;;) {
    try {
      /** @type {Record<string, string>} */
      const headers = { Accept: "text/event-stream" };
      if (run.lastIndex >= 0) headers["Last-Event-ID"] = String(run.lastIndex);
      const response = await fetch(`/v1/generations/${encodeURIComponent(jobId)}/stream`, {
        headers: authHeaders(headers),
        cache: "no-store",
        signal,
      });
      if (!response.ok) throw await errorOf(response);
      if (response.body === null) throw new Error("the stream answered without a body");
      failures = 0;
      if (els.status.dataset.status === "reconnecting") renderStatus(run.jobStatus);
      for await (const event of sseEvents(response.body, (ms) => {
        retryMs = ms;
      })) {
        if (event.event === "block") {
          appendBlock(JSON.parse(event.data), true);
          if (run.jobStatus === "queued") setJobStatus("running");
        } else if (event.event === "done") {
          const job = /** @type {JobSummary} */ (JSON.parse(event.data));
          renderFinished(job);
          return job;
        }
      }
      // Closed without `done`: reconnect at once from the last block drawn.
      await sleep(RECONNECT_MIN_MS, signal);
    } catch (error) {
      if (signal.aborted) throw error;
      if (error instanceof ApiError && !error.isRetryable) throw error;
      failures += 1;
      showError(error);
      renderStatus("reconnecting");
      await sleep(Math.min(RECONNECT_MAX_MS, Math.max(RECONNECT_MIN_MS, retryMs) * failures), signal);
      clearError();
    }
  }
}

/**
 * Shows a job from its first block: the committed ones from `/blocks`, then the live stream.
 * @param {string} jobId
 */
async function show(jobId) {
  resetRun();
  clearError();
  const abort = new AbortController();
  run.abort = abort;
  run.jobId = jobId;
  renderProgress();
  renderStatus("loading");
  try {
    const view = await api(`/v1/generations/${encodeURIComponent(jobId)}`, { signal: abort.signal });
    setJobStatus(view.status);
    await catchUp(jobId, abort.signal);
    await follow(jobId, abort.signal);
  } catch (error) {
    if (abort.signal.aborted) return;
    showError(error);
    if (error instanceof ApiError && (error.status === 404 || error.status === 410)) forgetJob();
    renderStatus("error");
  }
}

// --- the job id in the URL hash ----------------------------------------------------------------------------

function jobIdFromHash() {
  const id = new URLSearchParams(location.hash.slice(1)).get("job");
  return id !== null && /^[A-Za-z0-9_-]{1,128}$/.test(id) ? id : null;
}

/** @param {string} id */
function rememberJob(id) {
  history.replaceState(null, "", `${location.pathname}${location.search}#job=${encodeURIComponent(id)}`);
}

function forgetJob() {
  history.replaceState(null, "", `${location.pathname}${location.search}`);
}

// --- the form ----------------------------------------------------------------------------------------------

function readForm() {
  /** @type {Record<string, unknown>} */
  const body = { prompt: els.prompt.value, strategy: els.strategy.value };
  const maxTokens = els.maxTokens.value.trim();
  if (maxTokens !== "") body.max_tokens = Number(maxTokens);
  const seed = els.seed.value.trim();
  if (seed !== "") body.seed = Number(seed);
  const model = els.model.value.trim();
  if (model !== "") body.model = model;
  return body;
}

function saveForm() {
  const values = {
    prompt: els.prompt.value,
    maxTokens: els.maxTokens.value,
    strategy: els.strategy.value,
    seed: els.seed.value,
    model: els.model.value,
  };
  sessionStorage.setItem(FORM_STORAGE, JSON.stringify(values));
}

function restoreForm() {
  els.apiKey.value = sessionStorage.getItem(KEY_STORAGE) ?? "";
  try {
    const values = JSON.parse(sessionStorage.getItem(FORM_STORAGE) ?? "null");
    if (values === null || typeof values !== "object") return;
    if (typeof values.prompt === "string") els.prompt.value = values.prompt;
    if (typeof values.maxTokens === "string") els.maxTokens.value = values.maxTokens;
    if (typeof values.strategy === "string") els.strategy.value = values.strategy;
    if (typeof values.seed === "string") els.seed.value = values.seed;
    if (typeof values.model === "string") els.model.value = values.model;
  } catch {
    sessionStorage.removeItem(FORM_STORAGE);
  }
}

async function generate() {
  clearError();
  if (apiKey() === "") {
    showError(new Error("Enter an API key first."));
    els.apiKey.focus();
    return;
  }
  saveForm();
  els.generate.disabled = true;
  try {
    const job = await api("/v1/generations", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Idempotency-Key": crypto.randomUUID() },
      body: JSON.stringify(readForm()),
    });
    rememberJob(job.id);
    void show(job.id);
  } catch (error) {
    showError(error);
  } finally {
    els.generate.disabled = false;
  }
}

async function cancel() {
  const jobId = run.jobId;
  if (jobId === null) return;
  els.cancel.disabled = true;
  try {
    await api(`/v1/generations/${encodeURIComponent(jobId)}/cancel`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "{}",
    });
    // The stream ends with `done` once the worker stops at its next block; until then the job is canceling.
    if (!TERMINAL.has(run.jobStatus)) setJobStatus("canceling");
  } catch (error) {
    showError(error);
    els.cancel.disabled = false;
  }
}

els.form.addEventListener("submit", (event) => {
  event.preventDefault();
  void generate();
});
els.cancel.addEventListener("click", () => void cancel());
els.apiKey.addEventListener("input", () => {
  const key = apiKey();
  if (key === "") sessionStorage.removeItem(KEY_STORAGE);
  else sessionStorage.setItem(KEY_STORAGE, key);
});
window.addEventListener("hashchange", () => {
  const id = jobIdFromHash();
  if (id !== null && id !== run.jobId) void show(id);
});

restoreForm();
const resumeId = jobIdFromHash();
if (resumeId !== null) {
  if (apiKey() === "") showError(new Error(`Enter the API key to resume job ${resumeId}, then reload.`));
  else void show(resumeId);
}
