/**
 * Where `generate` and `stream` put the text as blocks arrive: a file (`--out`), stdout, or nowhere (with
 * `--json` the text is in the final JSON line). Writes wait for the stream to drain, so a slow pipe holds
 * the reading back instead of buffering a whole document.
 */
import { type FileHandle, open } from "node:fs/promises";

export interface TextSink {
  write(text: string): Promise<void>;
  close(): Promise<void>;
}

function streamSink(stream: NodeJS.WritableStream): TextSink {
  return {
    write: (text) =>
      new Promise((resolve, reject) => {
        stream.write(text, (error) => (error ? reject(error) : resolve()));
      }),
    close: async () => {},
  };
}

function fileSink(file: FileHandle): TextSink {
  return {
    write: async (text) => {
      await file.write(text);
    },
    close: () => file.close(),
  };
}

export async function openTextSink(options: { out?: string; json?: boolean }): Promise<TextSink> {
  if (options.out !== undefined) return fileSink(await open(options.out, "w"));
  if (options.json) return { write: async () => {}, close: async () => {} };
  return streamSink(process.stdout);
}
