import { describe, expect, it } from "vitest";
import { isBenchError } from "./errors.js";
import { resolveOptions } from "./options.js";
import type { BenchRequest } from "./schema.js";

const requests: BenchRequest[] = [
  { request_id: 0, prompt_token_ids: [1], num_prefill_tokens: 1, num_decode_tokens: 2, arrived_at: 0 },
];
const base = { model: "m", outDir: "/tmp/x" };

function errorOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (e) {
    if (isBenchError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error("expected a BenchError");
}

describe("resolveOptions", () => {
  it("applies defaults and joins a base path", () => {
    const o = resolveOptions({ ...base, baseUrl: "http://127.0.0.1:8000/proxy/" }, requests);
    expect(o.endpointUrl).toBe("http://127.0.0.1:8000/proxy/v1/completions");
    expect(o.completionsPath).toBe("/proxy/v1/completions");
    expect(o).toMatchObject({ promptMode: "token_ids", maxConcurrency: null, connections: 1, warmupRequests: 0 });
    expect(resolveOptions({ ...base, baseUrl: "http://h:1", maxConcurrency: 4 }, requests).connections).toBe(4);
    // Pre-opened connections: all of them up to 64 by default (the 17th in flight used to pay set-up), never more
    // than the connections.
    expect(resolveOptions({ ...base, baseUrl: "http://h:1", maxConcurrency: 40 }, requests).preconnect).toBe(40);
    expect(resolveOptions({ ...base, baseUrl: "http://h:1", maxConcurrency: 500 }, requests).preconnect).toBe(64);
    expect(resolveOptions({ ...base, baseUrl: "http://h:1", maxConcurrency: 500, preconnect: 600 }, requests).preconnect).toBe(500);
  });

  it("names the option and what was expected", () => {
    expect(errorOf(() => resolveOptions({ ...base, baseUrl: "nope" }, requests)).message).toContain(
      "option baseUrl: expected an absolute http(s) URL",
    );
    expect(errorOf(() => resolveOptions({ ...base, baseUrl: "http://u:secret@h:1" }, requests)).message).not.toContain(
      "secret",
    );
    expect(errorOf(() => resolveOptions({ ...base, baseUrl: "http://h:1", maxConcurrency: 0 }, requests))).toEqual({
      code: "BENCH_INVALID_OPTION",
      message: "option maxConcurrency: expected an integer >= 1, got 0",
    });
    expect(errorOf(() => resolveOptions({ ...base, baseUrl: "http://h:1", promptMode: "text" }, requests)).message).toBe(
      'option promptMode: "text" needs a text on every request, request 0 has none',
    );
    expect(errorOf(() => resolveOptions({ ...base, baseUrl: "http://h:1", requestTimeoutS: 0 }, requests)).message).toContain(
      "option requestTimeoutS",
    );
  });
});
