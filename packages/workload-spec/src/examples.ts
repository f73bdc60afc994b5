/**
 * Paths of the files shipped with the package (the demo prompts). Resolved from this module's URL, so they work
 * from both src/ (tests) and dist/ (built).
 */
import { fileURLToPath } from "node:url";

/** Absolute path of the 48 example prompts (prompts JSONL written for this project). */
export function examplePromptsPath(): string {
  return fileURLToPath(new URL("../examples/prompts.jsonl", import.meta.url));
}
