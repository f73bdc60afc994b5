import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    name: "@vf/workload-spec",
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 60_000,
  },
});
