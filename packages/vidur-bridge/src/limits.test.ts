import { describe, expect, it } from "vitest";
import { deriveGridLimits } from "./limits.js";
import type { TraceRow } from "./trace.js";

const row = (i: number, p: number, d: number): TraceRow => ({
  requestId: i,
  arrivedAtS: i,
  arrivedAtText: String(i),
  numPrefillTokens: p,
  numDecodeTokens: d,
});

describe("deriveGridLimits", () => {
  const rows = [row(0, 100, 20), row(1, 900, 100), row(2, 50, 5)];

  it("covers sarathi batches: chunk budget, longest request, batch cap", () => {
    const l = deriveGridLimits(rows, { kind: "sarathi", chunkSize: 512, batchSizeCap: 64 }, 64);
    expect(l.traceMaxTokens).toBe(1000);
    // max(1001, 512) -> next power of two 1024, a multiple of the granularity.
    expect(l.predictionMaxTokensPerRequest).toBe(1024);
    expect(l.predictionMaxPrefillChunkSize).toBe(512);
    expect(l.predictionMaxBatchSize).toBe(64);
    expect(l.needs).toEqual({ maxBatchTokens: 512, maxPrefillChunk: 512, maxRequestTokens: 1000, maxDecodeBatch: 3 });
  });

  it("covers whole-prompt schedulers with the largest requests batched together", () => {
    const orca = deriveGridLimits(rows, { kind: "orca", batchSizeCap: 2 }, 64);
    expect(orca.needs.maxBatchTokens).toBe(1000 + 120);
    expect(orca.predictionMaxTokensPerRequest).toBe(2048);
    expect(orca.predictionMaxPrefillChunkSize).toBe(1024);
    const vllm = deriveGridLimits(rows, { kind: "vllm", batchSizeCap: 8, maxTokensInBatch: 1024 }, 256);
    expect(vllm.needs.maxBatchTokens).toBe(1024);
    expect(vllm.predictionMaxTokensPerRequest % 256).toBe(0);
  });

  it("rounds the limits to the granularity when it exceeds the power of two", () => {
    const l = deriveGridLimits([row(0, 10, 10)], { kind: "sarathi", chunkSize: 16, batchSizeCap: 4 }, 96);
    expect(l.predictionMaxTokensPerRequest).toBe(96);
    expect(l.predictionMaxPrefillChunkSize).toBe(32);
  });
});
