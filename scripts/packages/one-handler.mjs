// Consumer test helper: the modules a runner with one OpenStack handler loads. Builds the handler
// registry of @migrator/core with @migrator/etcd-store and the handler `openstack/network.create`
// alone, then lists the files loaded (ES modules through module-hooks.mjs, CommonJS ones from the
// require cache) by package, with their size. Fails when the simulator, the plan builder or another
// handler is among them.
import { readFileSync, statSync } from "node:fs"
import { createRequire, register } from "node:module"
import { fileURLToPath, pathToFileURL } from "node:url"

register(pathToFileURL(fileURLToPath(new URL("./module-hooks.mjs", import.meta.url))))

const { Engine, TaskRegistry } = await import("@migrator/core")
const { EtcdStore } = await import("@migrator/etcd-store")
const { Clouds } = await import("@migrator/tasks-openstack")
const NetworkCreate = await import("@migrator/tasks-openstack/handlers/NetworkCreate")
const { Context, Effect, Layer } = await import("effect")

const registry = NetworkCreate.layer.pipe(Layer.provide(Clouds.layer({})), Layer.provideMerge(TaskRegistry.layer))
const types = await Effect.runPromise(
  Effect.scoped(Effect.map(Layer.build(registry), (c) => Context.get(c, TaskRegistry.TaskRegistry).types()))
)
if (typeof Engine.run !== "function" || typeof EtcdStore.layer !== "function") throw new Error("missing exports")

const files = new Set(
  readFileSync(process.env.MIGRATOR_MODULE_LOG, "utf8")
    .split("\n")
    .filter((u) => u !== "")
    .map((u) => fileURLToPath(u))
)
for (const path of Object.keys(createRequire(import.meta.url).cache)) files.add(path)
files.delete(fileURLToPath(import.meta.url))

const byPackage = new Map()
for (const path of files) {
  const at = path.lastIndexOf("/node_modules/")
  const rest = at < 0 ? "(project)" : path.slice(at + "/node_modules/".length)
  const name = rest.startsWith("@") ? rest.split("/").slice(0, 2).join("/") : rest.split("/")[0]
  const entry = byPackage.get(name) ?? { modules: 0, bytes: 0 }
  entry.modules += 1
  entry.bytes += statSync(path).size
  byPackage.set(name, entry)
}
const total = [...byPackage.values()].reduce((a, e) => ({ modules: a.modules + e.modules, bytes: a.bytes + e.bytes }), {
  modules: 0,
  bytes: 0
})
const kb = (n) => `${(n / 1024).toFixed(0)} KB`
console.log(`a runner with one handler (${types.join(", ")}): ${total.modules} modules, ${kb(total.bytes)}`)
for (const [name, e] of [...byPackage].sort((a, b) => b[1].bytes - a[1].bytes)) {
  console.log(`  ${name.padEnd(32)} ${String(e.modules).padStart(5)} modules ${kb(e.bytes).padStart(9)}`)
}

const openstack = [...files].filter((f) => f.includes("/@migrator/tasks-openstack/"))
const unwanted = [...files].filter(
  (f) =>
    f.includes("/@migrator/openstack-simulator/") ||
    f.includes("/@migrator/tasks-openstack/dist/plan/") ||
    (f.includes("/@migrator/tasks-openstack/dist/handlers/") && !f.endsWith("/NetworkCreate.js"))
)
console.log(`  of @migrator/tasks-openstack: ${openstack.map((f) => f.replace(/.*\/dist\//, "")).join(", ")}`)
if (unwanted.length > 0) {
  console.error(`one-handler: loaded what a runner with one handler should not:\n  ${unwanted.join("\n  ")}`)
  process.exit(1)
}
