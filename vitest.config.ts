import { defineConfig } from "vitest/config"

// One project per package; each package may add its own vitest.config.ts (e.g. etcd-store starts etcd).
export default defineConfig({
  test: {
    projects: ["packages/*"]
  }
})
