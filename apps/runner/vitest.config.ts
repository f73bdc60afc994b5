import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    name: "@vf/runner",
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 60_000,
  },
});
