/**
 * Every size and range limit that crosses a boundary, in one place. Each constant names its unit; the edge,
 * the worker and the schemas all read them from here so a limit is changed once.
 */

/** Largest prompt, in UTF-8 bytes (not characters: an emoji is 4 bytes). */
export const PROMPT_MAX_BYTES = 32_768;
/**
 * `max_tokens` range: a document may be far longer than the model's context (sliding KV window). 2^20 tokens
 * (~4 MiB of text for a BPE model, up to 64 MiB at the largest blocks) is what the edge's paged storage and
 * reads are built and tested for.
 */
export const MAX_TOKENS_MIN = 1;
export const MAX_TOKENS_MAX = 1_048_576;
export const MAX_TOKENS_DEFAULT = 1_024;
/** Temperature 0 means greedy; above 2 the nucleus is noise for every model we serve. */
export const TEMPERATURE_MIN = 0;
export const TEMPERATURE_MAX = 2;
export const TEMPERATURE_DEFAULT = 1;
/** Nucleus mass in (0, 1]; 0.9 is what the BD3-LM paper samples with. */
export const TOP_P_DEFAULT = 0.9;
/** Upper bound for `steps_per_block` before the model is known; the edge also checks it against the model's block size. */
export const BLOCK_SIZE_MAX = 1_024;
/** Seeds are unsigned 32-bit integers so every language can hold them exactly. */
export const SEED_MAX = 0xffff_ffff;
/** Confidence threshold for the `confidence` reveal strategy (SGLang's default is 0.95). */
export const CONFIDENCE_THRESHOLD_DEFAULT = 0.95;
/** Stop sequences: how many, and how long each may be in UTF-8 bytes. */
export const STOP_SEQUENCES_MAX_COUNT = 4;
export const STOP_SEQUENCE_MAX_BYTES = 64;
/** Webhook URL length in characters (browsers and proxies agree on ~2 KB). */
export const WEBHOOK_URL_MAX_LENGTH = 2_048;
/** Metadata: a flat string map, Stripe-sized. */
export const METADATA_MAX_KEYS = 16;
export const METADATA_KEY_MAX_LENGTH = 40;
export const METADATA_VALUE_MAX_LENGTH = 500;
export const METADATA_MAX_BYTES = 4_096;
/** Idempotency-Key header length in characters (Stripe's limit). */
export const IDEMPOTENCY_KEY_MAX_LENGTH = 255;
/** Model names are short slugs. */
export const MODEL_NAME_MAX_LENGTH = 64;
/** Job and tenant ids are opaque slugs of at most this many characters. */
export const ID_MAX_LENGTH = 128;
/** Block page size for catch-up reads. */
export const BLOCK_PAGE_LIMIT_MAX = 1_000;
export const BLOCK_PAGE_LIMIT_DEFAULT = 100;
/** Job list page size. */
export const JOB_LIST_LIMIT_MAX = 100;
export const JOB_LIST_LIMIT_DEFAULT = 20;
/** Tokens in one appended block: a block is at most BLOCK_SIZE_MAX tokens, a prompt-tail block included. */
export const BLOCK_TOKENS_MAX = BLOCK_SIZE_MAX;
/** Text of one appended block in UTF-8 bytes: a token decodes to at most a few bytes, BPE merges included. */
export const BLOCK_TEXT_MAX_BYTES = 64 * 1_024;
/**
 * A job view (`GET /v1/generations/:id`) and a terminal webhook carry the text inline up to this many UTF-8
 * bytes; a longer document is read from `urls.text` (paged, resumable), so no answer holds a whole long
 * document and no webhook row comes near the 2 MB row cap of Durable Object storage.
 */
export const INLINE_TEXT_MAX_BYTES = 1024 * 1024;
/** `retention_days`: how long the text of a finished job is kept before reads answer 410. */
export const RETENTION_DAYS_MIN = 1;
export const RETENTION_DAYS_MAX = 90;
/**
 * Blocks in one append of the worker's block stream: every block that piled up while earlier appends were in
 * flight (the worker's producer also caps a batch at 1 MiB, below the edge's body limit).
 */
export const BLOCK_STREAM_BATCH_MAX_BLOCKS = 1_024;
/** Error messages the worker reports are truncated to this many characters. */
export const ERROR_MESSAGE_MAX_LENGTH = 2_000;
/** Worker ids (host/pod names) in characters. */
export const WORKER_ID_MAX_LENGTH = 200;
/**
 * The lease term, in seconds: a lease lives this long after the last call its holder made (lease, append,
 * heartbeat), and a lease of a job whose lease is live is refused with `lease_held`. The one rule behind
 * both exclusive ownership and fast crash recovery: a worker heartbeats every ~2.5 s, so a live holder
 * renews its lease about four times a term; a crashed one's lease lapses within one term, about when SQS
 * shows its message again (the worker's default visibility timeout equals the term).
 */
export const LEASE_TERM_SECONDS = 10;
/**
 * Receives of a job message before SQS moves it to the dead-letter queue (the queues' RedrivePolicy): each
 * receive is one worker attempt. Production's value (the CDK stack) and the local queue set-ups' (`npm start`,
 * `npm run dev:sqs`), so a job crashes its way to the DLQ locally exactly as it would deployed.
 */
export const JOB_MAX_RECEIVE_COUNT = 5;
/**
 * The most prompt tokens the edge accepts in a worker's usage per UTF-8 byte of the prompt, plus special
 * tokens: every tokenizer we serve (bytes, GPT-2 byte-level BPE) yields at most one token per byte, so a
 * larger count is a worker's error and is clamped (the edge has no tokenizer to count them itself).
 */
export const PROMPT_SPECIAL_TOKENS_MAX = 2;

/** `ttl_seconds`: the latest a job may start, from its creation (the edge's queue deadline still caps it). */
export const TTL_SECONDS_MAX = 30 * 86_400;
/** `timeout_seconds` (and `Cancel-After`): the longest a job may run once started. */
export const TIMEOUT_SECONDS_MAX = 30 * 86_400;
/** `x-request-id` / `request_id`: a caller's own id is kept when it is this short and plain. */
export const REQUEST_ID_MAX_LENGTH = 128;

/**
 * `priority` of a create: 0 low, 1 normal (the default), 2 high. Each (model, priority) has its own SQS queue;
 * workers take a higher priority first and give the lowest a bounded share (gpu-worker/src/runtime/README.md).
 * An API key may carry a lower ceiling (`priority_max`).
 */
export const PRIORITY_MIN = 0;
export const PRIORITY_MAX = 2;
export const PRIORITY_DEFAULT = 1;
/** The priorities as the keys of a queue map (`SQS_QUEUES`), lowest first. */
export const PRIORITIES = [0, 1, 2] as const;
