/**
 * The progress display of `bd3 generate` on stderr: a cli-progress bar (blocks, tokens of max_tokens,
 * tokens/s, ETA) when stderr is a terminal that the text does not also scroll through; otherwise nothing
 * while it runs. It keeps the counts and the start time, for the rate and for the closing summary line.
 */
import cliProgress from "cli-progress";

export interface ProgressOptions {
  /** The job's max_tokens: the bar's total (a job that ends early just stops short). */
  totalTokens: number;
  /** Draw the bar (the caller decides: stderr is a TTY and stdout is not the same terminal). */
  showBar: boolean;
  stream?: NodeJS.WriteStream;
}

export class ProgressDisplay {
  readonly #bar: cliProgress.SingleBar | null;
  readonly #startedAt = Date.now();
  #blocks = 0;
  #tokens = 0;

  constructor(options: ProgressOptions) {
    this.#bar = options.showBar
      ? new cliProgress.SingleBar(
          {
            stream: options.stream ?? process.stderr,
            format:
              " {bar} {percentage}% | {blocks} blocks | {value}/{total} tokens | {rate} tok/s | ETA {eta_formatted} {note}",
            hideCursor: true,
            etaBuffer: 20,
            fps: 10,
            formatValue: (value, _options, type) => (type === "percentage" ? String(value).padStart(3) : String(value)),
          },
          cliProgress.Presets.shades_classic,
        )
      : null;
    this.#bar?.start(Math.max(1, options.totalTokens), 0, { blocks: 0, rate: "0.0", note: "" });
  }

  /** The counts so far (all blocks up to the latest one, also after a resume). */
  update(blocks: number, tokens: number): void {
    this.#blocks = blocks;
    this.#tokens = tokens;
    this.#bar?.update(tokens, { blocks, rate: this.rate().toFixed(1), note: "" });
  }

  /** A short note after the numbers (e.g. "reconnecting"), cleared by the next update. */
  note(text: string): void {
    this.#bar?.update(this.#tokens, { note: text });
  }

  /** Tokens per second since the command started. */
  rate(): number {
    const seconds = (Date.now() - this.#startedAt) / 1_000;
    return seconds > 0 ? this.#tokens / seconds : 0;
  }

  stop(): void {
    this.#bar?.stop();
  }

  summary(): string {
    const seconds = (Date.now() - this.#startedAt) / 1_000;
    return `${this.#blocks} blocks, ${this.#tokens} tokens in ${seconds.toFixed(1)} s (${this.rate().toFixed(1)} tokens/s)`;
  }
}
