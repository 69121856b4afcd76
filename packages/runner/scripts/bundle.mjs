// Bundles the runner and the workspace packages it uses into dist/migrator.mjs:
// one file of plain JavaScript, so `migrator` starts without compiling
// TypeScript at run time (less memory, faster start). Third-party packages that
// read files next to their own code (etcd3's protobuf definitions) stay external.
// `bin/migrator.js` uses the bundle only while it is newer than every source file.
import { build } from "esbuild"

await build({
  entryPoints: [new URL("../src/bin.ts", import.meta.url).pathname],
  outfile: new URL("../dist/migrator.mjs", import.meta.url).pathname,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  // effect stays shared with plugin modules loaded at run time (one runtime, one set of services)
  external: ["etcd3", "playwright-core", "tsx", "tsx/*"],
  // CommonJS dependencies inside an ES module bundle still call require
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);"
  },
  // a map beside the bundle (no reference in it, no cost at run time) lets `pnpm bench --cpu-prof`
  // name the source of each profiled function
  sourcemap: "external",
  logLevel: "warning"
})
