/**
 * JSON mode (PROTOCOL.md section 9.1): a stream created as `application/json` stores JSON values as messages.
 * A POST body that is an array is flattened one level (each element one message), any other value is one
 * message; an empty array is refused on POST and means "no initial messages" on PUT. Reads answer a JSON
 * array of the messages in range. Values are stored re-serialized (single-line, no insignificant spaces), so
 * a message's bytes, and so the stream's offsets, do not depend on how the writer formatted it.
 */

export class JsonBodyError extends Error {
  override readonly name = "JsonBodyError";
}

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
const encoder = new TextEncoder();

/** The messages of one JSON body, each as its serialized UTF-8 bytes. */
export function splitJsonMessages(body: Uint8Array, { allowEmpty }: { allowEmpty: boolean }): Uint8Array[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(body));
  } catch (cause) {
    throw new JsonBodyError("the body is not valid JSON", { cause });
  }
  const values = Array.isArray(parsed) ? parsed : [parsed];
  if (values.length === 0 && !allowEmpty) throw new JsonBodyError("an empty JSON array appends nothing");
  return values.map((value) => encoder.encode(JSON.stringify(value)));
}

/** A JSON array holding the given serialized messages, in order. */
export function joinJsonMessages(messages: readonly Uint8Array[]): Uint8Array {
  const total = messages.reduce((sum, message) => sum + message.byteLength, 0);
  const out = new Uint8Array(total + Math.max(messages.length - 1, 0) + 2);
  out[0] = 0x5b; // [
  let at = 1;
  messages.forEach((message, index) => {
    if (index > 0) out[at++] = 0x2c; // ,
    out.set(message, at);
    at += message.byteLength;
  });
  out[at] = 0x5d; // ]
  return out;
}
