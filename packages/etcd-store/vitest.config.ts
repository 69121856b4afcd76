import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "etcd-store",
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/utils/globalSetup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})
