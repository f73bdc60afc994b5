import { describe, expect, it } from "vitest";
import { parseCompletionChunk } from "./parse.js";
import { CompletionChunkSchema } from "./schema.js";

describe("parseCompletionChunk", () => {
  it("accepts vLLM/SGLang chunk shapes and rejects malformed payloads", () => {
    const ok = parseCompletionChunk('{"choices":[{"index":0,"text":"a","token_ids":[5,6],"finish_reason":null}]}');
    expect(ok.ok && ok.chunk.choices?.[0]?.token_ids).toEqual([5, 6]);
    const usage = parseCompletionChunk('{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":9,"total_tokens":12}}');
    expect(usage.ok && usage.chunk.usage?.completion_tokens).toBe(9);
    const bad = parseCompletionChunk('{"choices":[{"text":5}]}');
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.reason).toContain("choices.0.text");
    expect(parseCompletionChunk("nope").ok).toBe(false);
    // The hand-written fast check agrees with the zod schema on edge cases.
    for (const payload of [
      "{}",
      "[]",
      '{"choices":null}',
      '{"choices":[{"text":null,"token_ids":null,"finish_reason":null}],"usage":null}',
      '{"choices":[{"token_ids":[1.5]}]}',
      '{"choices":[{"index":"0"}]}',
      '{"usage":{"completion_tokens":"3"}}',
      '{"choices":[{"finish_reason":7}]}',
      '{"error":{"message":"x"}}',
    ]) {
      const fast = parseCompletionChunk(payload).ok;
      expect(fast, payload).toBe(CompletionChunkSchema.safeParse(JSON.parse(payload)).success);
    }
  });
});
