/**
 * `fitDeliveryDelayS`: the delivery delay `runner calibrate` adds to simulated token times is the mean of the fit
 * loads' median first-token delivery delays, read from their comparison.json files; loads without the engine's
 * token times count for nothing, and none at all gives 0.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { fitDeliveryDelayS } from "../src/commands/calibrate.js";
import { makeTempDir } from "./helpers.js";

const tmp = makeTempDir("cal-delay");
afterAll(() => tmp.remove());

function comparison(name: string, engineClock: unknown): string {
  const dir = join(tmp.dir, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "comparison.json"), JSON.stringify({ metrics: {}, engineClock }));
  return dir;
}

describe("fitDeliveryDelayS", () => {
  it("averages the fit loads' P50 delivery delays and skips loads without the engine clock", async () => {
    const a = comparison("a", { deliveryFirstToken: { n: 10, p50: 0.002, p90: 0.004 } });
    const b = comparison("b", { deliveryFirstToken: { n: 10, p50: 0.004, p90: 0.009 } });
    const none = comparison("none", null);
    expect(await fitDeliveryDelayS([a])).toBeCloseTo(0.002, 12);
    expect(await fitDeliveryDelayS([a, b, none])).toBeCloseTo(0.003, 12);
    expect(await fitDeliveryDelayS([none])).toBe(0);
  });
});
