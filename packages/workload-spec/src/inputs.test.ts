import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isWorkloadSpecError, type WorkloadErrorCode } from "./errors.js";
import { readAzureTrace, readMooncakeTrace, readPromptsJsonl } from "./inputs.js";

const dir = mkdtempSync(join(tmpdir(), "inputs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function write(content: string, ext: string): string {
  const path = join(dir, `f${n++}.${ext}`);
  writeFileSync(path, content);
  return path;
}

/** Run `fn`, expect a WorkloadSpecError with this code, file, line and field (and the location in its message). */
function expectError(fn: () => unknown, code: WorkloadErrorCode, file: string, line?: number, field?: string): void {
  try {
    fn();
  } catch (e) {
    expect(isWorkloadSpecError(e)).toBe(true);
    if (!isWorkloadSpecError(e)) return;
    expect({ code: e.code, file: e.file, line: e.line, field: e.field }).toEqual({ code, file, line, field });
    expect(e.message).toContain(line === undefined ? file : `${file}:${line}`);
    if (field !== undefined) expect(e.message).toContain(field);
    return;
  }
  expect.unreachable(`expected ${code}`);
}

const HEADER = "TIMESTAMP,ContextTokens,GeneratedTokens\r\n";

describe("readAzureTrace", () => {
  it("parses CRLF rows with 7-digit fractions exactly, rounding half-up to the microsecond", () => {
    const file = write(
      `${HEADER}2023-11-16 23:59:59.9999990,10,2\r\n2023-11-17 00:00:00.0000004,5,1\r\n2023-11-17 00:00:00.0000015,7,3\r\n2023-11-17 00:00:01,8,4`,
      "csv",
    );
    const rows = readAzureTrace(file);
    expect(rows.map((r) => r.offsetUs)).toEqual([0, 1, 3, 1_000_001]);
    expect(rows.map((r) => [r.line, r.numPrefillTokens, r.numDecodeTokens])).toEqual([
      [2, 10, 2],
      [3, 5, 1],
      [4, 7, 3],
      [5, 8, 4],
    ]);
    // Offsets are re-based on the first selected row.
    expect(readAzureTrace(file, { offset: 1, limit: 2 }).map((r) => r.offsetUs)).toEqual([0, 1]);
  });

  it.each([
    ["missing column", "TIMESTAMP,ContextTokens\r\n", "WORKLOAD_MISSING_COLUMN", 1, "GeneratedTokens"],
    ["extra column", "TIMESTAMP,ContextTokens,GeneratedTokens,Foo\r\n", "WORKLOAD_EXTRA_COLUMN", 1, "Foo"],
    ["extra cell", `${HEADER}2023-11-16 18:15:46.6805900,374,44,9\r\n`, "WORKLOAD_EXTRA_COLUMN", 2, undefined],
    ["missing cell", `${HEADER}2023-11-16 18:15:46.6805900,374\r\n`, "WORKLOAD_MISSING_COLUMN", 2, undefined],
    ["non-numeric", `${HEADER}2023-11-16 18:15:46.6805900,abc,44\r\n`, "WORKLOAD_INVALID_VALUE", 2, "ContextTokens"],
    ["negative", `${HEADER}2023-11-16 18:15:46.6805900,374,-4\r\n`, "WORKLOAD_NEGATIVE_VALUE", 2, "GeneratedTokens"],
    ["zero", `${HEADER}2023-11-16 18:15:46.6805900,0,4\r\n`, "WORKLOAD_INVALID_VALUE", 2, "ContextTokens"],
    ["bad timestamp", `${HEADER}2023-11-16T18:15:46,3,4\r\n`, "WORKLOAD_INVALID_VALUE", 2, "TIMESTAMP"],
    ["impossible date", `${HEADER}2023-02-30 18:15:46.1,3,4\r\n`, "WORKLOAD_INVALID_VALUE", 2, "TIMESTAMP"],
    [
      "unsorted",
      `${HEADER}2023-11-16 18:15:46.6805900,3,4\r\n2023-11-16 18:15:46.6805899,3,4\r\n`,
      "WORKLOAD_UNSORTED",
      3,
      "TIMESTAMP",
    ],
  ] as const)("%s -> %s", (_name, content, code, line, field) => {
    const file = write(content, "csv");
    expectError(() => readAzureTrace(file), code, file, line, field);
  });

  it("empty trace and empty selection -> WORKLOAD_EMPTY; unreadable file -> WORKLOAD_READ_FAILED", () => {
    const file = write(HEADER, "csv");
    expectError(() => readAzureTrace(file), "WORKLOAD_EMPTY", file);
    const one = write(`${HEADER}2023-11-16 18:15:46.6805900,3,4`, "csv");
    expectError(() => readAzureTrace(one, { offset: 5 }), "WORKLOAD_EMPTY", one);
    const missing = join(dir, "nope.csv");
    expectError(() => readAzureTrace(missing), "WORKLOAD_READ_FAILED", missing);
  });
});

describe("readMooncakeTrace", () => {
  it("turns millisecond timestamps into microsecond offsets and accepts hash_ids", () => {
    const file = write(
      '{"timestamp": 1000, "input_length": 5, "output_length": 2, "hash_ids": [0]}\n{"timestamp": 1500, "input_length": 6, "output_length": 1}\n',
      "jsonl",
    );
    expect(readMooncakeTrace(file)).toEqual([
      { line: 1, offsetUs: 0, numPrefillTokens: 5, numDecodeTokens: 2 },
      { line: 2, offsetUs: 500_000, numPrefillTokens: 6, numDecodeTokens: 1 },
    ]);
  });

  const ok = '{"timestamp": 0, "input_length": 5, "output_length": 2}\n';
  it.each([
    ["invalid JSON", `${ok}{"timestamp": 1,\n`, "WORKLOAD_INVALID_JSON", 2, undefined],
    ["not an object", `${ok}[1,2]\n`, "WORKLOAD_INVALID_ROW", 2, undefined],
    ["missing field", `${ok}{"timestamp": 1, "input_length": 5}\n`, "WORKLOAD_MISSING_FIELD", 2, "output_length"],
    [
      "extra field",
      `${ok}{"timestamp": 1, "input_length": 5, "output_length": 2, "x": 1}\n`,
      "WORKLOAD_EXTRA_FIELD",
      2,
      "x",
    ],
    [
      "non-numeric length",
      `${ok}{"timestamp": 1, "input_length": "5", "output_length": 2}\n`,
      "WORKLOAD_INVALID_VALUE",
      2,
      "input_length",
    ],
    [
      "fractional length",
      `${ok}{"timestamp": 1, "input_length": 5.5, "output_length": 2}\n`,
      "WORKLOAD_INVALID_VALUE",
      2,
      "input_length",
    ],
    [
      "negative length",
      `${ok}{"timestamp": 1, "input_length": 5, "output_length": -2}\n`,
      "WORKLOAD_NEGATIVE_VALUE",
      2,
      "output_length",
    ],
    ["negative time", '{"timestamp": -1, "input_length": 5, "output_length": 2}\n', "WORKLOAD_NEGATIVE_VALUE", 1, "timestamp"],
    [
      "non-numeric time",
      '{"timestamp": "soon", "input_length": 5, "output_length": 2}\n',
      "WORKLOAD_INVALID_VALUE",
      1,
      "timestamp",
    ],
    [
      "unsorted",
      '{"timestamp": 10, "input_length": 5, "output_length": 2}\n{"timestamp": 9, "input_length": 5, "output_length": 2}\n',
      "WORKLOAD_UNSORTED",
      2,
      "timestamp",
    ],
  ] as const)("%s -> %s", (_name, content, code, line, field) => {
    const file = write(content, "jsonl");
    expectError(() => readMooncakeTrace(file), code, file, line, field);
  });
});

describe("readPromptsJsonl", () => {
  it("reads prompts, skips blank lines, keeps line numbers, accepts integer ids", () => {
    const file = write('{"prompt_id": "a", "text": "Hi"}\n\n{"prompt_id": 7, "text": "Yo", "num_decode_tokens": 3}\n', "jsonl");
    expect(readPromptsJsonl(file)).toEqual([
      { line: 1, promptId: "a", text: "Hi", numDecodeTokens: undefined },
      { line: 3, promptId: "7", text: "Yo", numDecodeTokens: 3 },
    ]);
  });

  const ok = '{"prompt_id": "a", "text": "Hello"}\n';
  it.each([
    ["empty prompt", `${ok}{"prompt_id": "b", "text": ""}\n`, "WORKLOAD_EMPTY_PROMPT", 2, "text"],
    ["blank prompt", `${ok}{"prompt_id": "b", "text": " \\n\\t "}\n`, "WORKLOAD_EMPTY_PROMPT", 2, "text"],
    ["missing text", `${ok}{"prompt_id": "b"}\n`, "WORKLOAD_MISSING_FIELD", 2, "text"],
    ["missing id", `${ok}{"text": "b"}\n`, "WORKLOAD_MISSING_FIELD", 2, "prompt_id"],
    ["extra field", `${ok}{"prompt_id": "b", "text": "x", "role": "user"}\n`, "WORKLOAD_EXTRA_FIELD", 2, "role"],
    ["duplicate id", `${ok}{"prompt_id": "a", "text": "x"}\n`, "WORKLOAD_DUPLICATE_ID", 2, "prompt_id"],
    ["bad id", `${ok}{"prompt_id": ["b"], "text": "x"}\n`, "WORKLOAD_INVALID_VALUE", 2, "prompt_id"],
    ["text not a string", `${ok}{"prompt_id": "b", "text": 5}\n`, "WORKLOAD_INVALID_VALUE", 2, "text"],
    [
      "negative decode",
      `${ok}{"prompt_id": "b", "text": "x", "num_decode_tokens": -5}\n`,
      "WORKLOAD_NEGATIVE_VALUE",
      2,
      "num_decode_tokens",
    ],
    [
      "non-numeric decode",
      `${ok}{"prompt_id": "b", "text": "x", "num_decode_tokens": "many"}\n`,
      "WORKLOAD_INVALID_VALUE",
      2,
      "num_decode_tokens",
    ],
    ["invalid JSON", `${ok}not json\n`, "WORKLOAD_INVALID_JSON", 2, undefined],
  ] as const)("%s -> %s", (_name, content, code, line, field) => {
    const file = write(content, "jsonl");
    expectError(() => readPromptsJsonl(file), code, file, line, field);
  });

  it("a file with no prompts -> WORKLOAD_EMPTY", () => {
    const file = write("\n\n", "jsonl");
    expectError(() => readPromptsJsonl(file), "WORKLOAD_EMPTY", file);
  });
});
