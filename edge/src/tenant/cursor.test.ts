import { describe, expect, it } from "vitest";
import { ApiError } from "../errors/api-error.ts";
import { decodeCursor, encodeCursor } from "./cursor.ts";

describe("list cursor", () => {
  it("round-trips and is opaque", () => {
    const cursor = encodeCursor(42);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor)).toBe(42);
    expect(decodeCursor(undefined)).toBeNull();
  });

  it.each(["x", "djE6", "djI6MTA", "!!!", "a".repeat(100)])("refuses %s with a 400 naming cursor", (cursor) => {
    try {
      decodeCursor(cursor);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ApiError);
      expect((error as ApiError).param).toBe("cursor");
    }
  });
});
