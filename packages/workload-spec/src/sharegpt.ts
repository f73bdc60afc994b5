/**
 * ShareGPT reader: a JSON array of `{id, conversations: [{from, value}, ...]}`. Each conversation's first `human`
 * turn is a prompt; the turn right after it, when it is a `gpt` turn, is its response (used by the
 * `from-response` decode policy). Every entry of the file is validated (coded errors naming the file and the array
 * index path, e.g. `[12].conversations[0].value`); then `offset`/`limit` select entries and conversations without
 * a non-empty first human turn are skipped and counted. Tokenizing and decode policies live in workload.ts.
 */
import { readFileSync } from "node:fs";
import { WorkloadSpecError } from "./errors.js";
import type { RowSelection } from "./inputs.js";

/** One ShareGPT conversation that yields a prompt. */
export interface ShareGptRow {
  /** 0-based index of the entry in the file's array. */
  index: number;
  promptId: string;
  text: string;
  /** Text of the `gpt` turn that directly follows the first human turn, when there is one and it is non-empty. */
  responseText: string | undefined;
}

/** The selected prompts and how many selected entries had no usable prompt. */
export interface ShareGptRead {
  rows: ShareGptRow[];
  /** Selected entries with no human turn, or whose first human turn is empty or whitespace-only. */
  skippedEmptyPrompts: number;
}

function fail(code: "WORKLOAD_INVALID_ROW" | "WORKLOAD_INVALID_VALUE" | "WORKLOAD_MISSING_FIELD", message: string, file: string, field: string): never {
  throw new WorkloadSpecError(code, message, { file, field });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Validate one entry (fields other than `id` and `conversations` are ignored: ShareGPT dumps vary). */
function checkEntry(entry: unknown, i: number, file: string): { id: string; turns: Array<{ from: string; value: string }> } {
  if (!isObject(entry)) fail("WORKLOAD_INVALID_ROW", "expected an object {id, conversations}", file, `[${i}]`);
  if (!("id" in entry)) fail("WORKLOAD_MISSING_FIELD", "required field is missing", file, `[${i}].id`);
  const id = entry.id;
  if (!(typeof id === "string" && id !== "") && !(typeof id === "number" && Number.isInteger(id))) {
    fail("WORKLOAD_INVALID_VALUE", `expected a non-empty string or an integer, got ${JSON.stringify(id)}`, file, `[${i}].id`);
  }
  if (!("conversations" in entry)) fail("WORKLOAD_MISSING_FIELD", "required field is missing", file, `[${i}].conversations`);
  const conversations = entry.conversations;
  if (!Array.isArray(conversations)) {
    fail("WORKLOAD_INVALID_VALUE", "expected an array of {from, value} turns", file, `[${i}].conversations`);
  }
  const turns = conversations.map((turn: unknown, j) => {
    const at = `[${i}].conversations[${j}]`;
    if (!isObject(turn)) fail("WORKLOAD_INVALID_ROW", "expected an object {from, value}", file, at);
    for (const key of ["from", "value"] as const) {
      if (!(key in turn)) fail("WORKLOAD_MISSING_FIELD", "required field is missing", file, `${at}.${key}`);
      if (typeof turn[key] !== "string") {
        fail("WORKLOAD_INVALID_VALUE", `expected a string, got ${JSON.stringify(turn[key])}`, file, `${at}.${key}`);
      }
    }
    return { from: turn.from as string, value: turn.value as string };
  });
  return { id: String(id), turns };
}

/**
 * Read a ShareGPT JSON file. All entries are validated; ids must be unique. `selection` picks entries
 * `[offset, offset + limit)` of the array before empty prompts are skipped.
 */
export function readShareGpt(file: string, selection: RowSelection = {}): ShareGptRead {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (cause) {
    throw new WorkloadSpecError("WORKLOAD_READ_FAILED", "cannot read the file", { file }, { cause });
  }
  let value: unknown;
  try {
    value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (cause) {
    throw new WorkloadSpecError("WORKLOAD_INVALID_JSON", "file is not valid JSON", { file }, { cause });
  }
  if (!Array.isArray(value)) {
    throw new WorkloadSpecError("WORKLOAD_INVALID_ROW", "expected a JSON array of {id, conversations} objects", { file });
  }
  const seen = new Map<string, number>();
  const entries = value.map((entry: unknown, i) => {
    const checked = checkEntry(entry, i, file);
    const first = seen.get(checked.id);
    if (first !== undefined) {
      throw new WorkloadSpecError("WORKLOAD_DUPLICATE_ID", `id "${checked.id}" already used by entry [${first}]`, {
        file,
        field: `[${i}].id`,
      });
    }
    seen.set(checked.id, i);
    return checked;
  });
  if (entries.length === 0) throw new WorkloadSpecError("WORKLOAD_EMPTY", "the array has no entries", { file });
  const start = selection.offset ?? 0;
  const end = selection.limit === undefined ? entries.length : start + selection.limit;
  if (start >= entries.length) {
    throw new WorkloadSpecError("WORKLOAD_EMPTY", `no entries selected (offset ${start}, file has ${entries.length})`, {
      file,
    });
  }
  const rows: ShareGptRow[] = [];
  let skippedEmptyPrompts = 0;
  const stop = Math.min(end, entries.length);
  for (let i = start; i < stop; i++) {
    const { id, turns } = entries[i]!;
    const h = turns.findIndex((t) => t.from === "human");
    const prompt = h === -1 ? undefined : turns[h]!.value;
    if (prompt === undefined || prompt.trim() === "") {
      skippedEmptyPrompts++;
      continue;
    }
    const next = turns[h + 1];
    const responseText = next !== undefined && next.from === "gpt" && next.value.trim() !== "" ? next.value : undefined;
    rows.push({ index: i, promptId: id, text: prompt, responseText });
  }
  if (rows.length === 0) {
    throw new WorkloadSpecError("WORKLOAD_EMPTY", `no non-empty human prompt in the ${stop - start} selected entries`, {
      file,
    });
  }
  return { rows, skippedEmptyPrompts };
}
