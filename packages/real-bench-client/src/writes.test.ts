import { describe, expect, it } from "vitest";
import { requestIdOf } from "./writes.js";

describe("requestIdOf", () => {
  it("reads the integer x-request-id from undici's flat header list, whatever its case", () => {
    expect(requestIdOf(["content-type", "application/json", "X-Request-Id", "17"])).toBe(17);
    expect(requestIdOf(["x-request-id", "0"])).toBe(0);
  });
  it("is null for warm-up ids, a missing header or a header list it does not know", () => {
    expect(requestIdOf(["x-request-id", "warmup-3"])).toBeNull();
    expect(requestIdOf(["accept", "text/event-stream"])).toBeNull();
    expect(requestIdOf("x-request-id: 3\r\n")).toBeNull();
  });
});
