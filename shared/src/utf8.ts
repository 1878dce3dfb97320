const encoder = new TextEncoder();

/** Size of a string in UTF-8 bytes; the unit every text limit in this project is expressed in. */
export function utf8ByteLength(text: string): number {
  return encoder.encode(text).byteLength;
}
