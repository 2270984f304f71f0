import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Some tests are long differential runs (decoder vs iced-x86, CLI vs objdump).
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
  },
});
