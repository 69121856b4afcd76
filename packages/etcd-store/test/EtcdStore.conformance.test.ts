import { storeConformance } from "@migrator/core/conformance"
import { EtcdStore } from "@migrator/etcd-store"
import { inject } from "vitest"

const endpoint = inject("etcdEndpoint")
const run = `run-${process.pid}-${Date.now()}/`

storeConformance("etcd", () => EtcdStore.layer({ endpoints: [endpoint], namespace: run }), { clock: "live" })
