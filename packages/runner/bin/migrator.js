#!/usr/bin/env node
// Runs the bundle built by `scripts/bundle.mjs` (setup builds it) when it is newer than every
// source file of the workspace; otherwise the TypeScript sources directly, through tsx.
import { existsSync, readdirSync, statSync } from "node:fs"
import { fileURLToPath } from "node:url"

const bundle = new URL("../dist/migrator.mjs", import.meta.url)
const packages = fileURLToPath(new URL("../../", import.meta.url))

const newestSource = () => {
  let newest = 0
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`
      if (entry.isDirectory()) walk(path)
      else newest = Math.max(newest, statSync(path).mtimeMs)
    }
  }
  for (const name of readdirSync(packages)) {
    const src = `${packages}${name}/src`
    if (existsSync(src)) walk(src)
  }
  return newest
}

const bundled = existsSync(bundle) && statSync(bundle).mtimeMs > newestSource()
if (bundled) {
  await import(bundle.href)
} else {
  const { register } = await import("tsx/esm/api")
  register()
  await import("../src/bin.ts")
}
