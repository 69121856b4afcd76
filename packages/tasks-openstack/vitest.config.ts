import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "tasks-openstack",
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000
  }
})
