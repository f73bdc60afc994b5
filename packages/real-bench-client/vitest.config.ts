import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    name: "@vf/real-bench-client",
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 60_000,
    tags: [
      {
        name: "integration",
        description: "starts the gpu-harness reference server (Python, CPU, tiny config)",
        timeout: 240_000,
      },
    ],
  },
});
