// One etcd for the whole test run; tests that stop or freeze etcd start their own.

import { startEtcd } from "@migrator/etcd-store/testing"
import type { TestProject } from "vitest/node"

declare module "vitest" {
  export interface ProvidedContext {
    etcdEndpoint: string
  }
}

export default async function setup(project: TestProject) {
  const server = await startEtcd("shared")
  project.provide("etcdEndpoint", server.endpoint)
  return () => server.destroy()
}
