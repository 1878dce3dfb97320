import { describe, expect, it } from "vitest";
import { preferWaitSeconds } from "./prefer-wait.ts";

describe("Prefer: wait", () => {
  it.each([
    [undefined, 0],
    ["wait=5", 5],
    ["respond-async, wait=10", 10],
    ['wait="7"', 7],
    ["WAIT = 3", 3],
    ["wait=600", 60],
    ["wait=-1", 0],
    ["wait=abc", 0],
    ["return=minimal", 0],
  ])("reads %s as %i seconds", (header, seconds) => {
    expect(preferWaitSeconds(header, 60)).toBe(seconds);
  });
});
