import { describe, expect, it } from "vitest";
import { JsonBodyError, joinJsonMessages, splitJsonMessages } from "./json-messages.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const texts = (messages: Uint8Array[]) => messages.map((message) => new TextDecoder().decode(message));

describe("JSON mode messages", () => {
  it("flattens one level of an array and keeps any other value whole, re-serialized", () => {
    expect(texts(splitJsonMessages(bytes('[ {"a": 1}, [2, 3] ]'), { allowEmpty: false }))).toEqual([
      '{"a":1}',
      "[2,3]",
    ]);
    expect(texts(splitJsonMessages(bytes(' "x" '), { allowEmpty: false }))).toEqual(['"x"']);
    expect(texts(splitJsonMessages(bytes("[[[1]]]"), { allowEmpty: false }))).toEqual(["[[1]]"]);
  });

  it("refuses invalid JSON and, on append, an empty array", () => {
    expect(() => splitJsonMessages(bytes("{oops"), { allowEmpty: false })).toThrow(JsonBodyError);
    expect(() => splitJsonMessages(bytes("[]"), { allowEmpty: false })).toThrow(JsonBodyError);
    expect(splitJsonMessages(bytes("[]"), { allowEmpty: true })).toEqual([]);
  });

  it("joins messages back into one array", () => {
    const messages = splitJsonMessages(bytes('[1, {"b": "ü"}, null]'), { allowEmpty: false });
    expect(JSON.parse(new TextDecoder().decode(joinJsonMessages(messages)))).toEqual([1, { b: "ü" }, null]);
    expect(new TextDecoder().decode(joinJsonMessages([]))).toBe("[]");
  });
});
