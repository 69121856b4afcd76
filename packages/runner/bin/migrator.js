#!/usr/bin/env node
// Runs the bundle built by `scripts/bundle.mjs` (dist/migrator.mjs: plain JavaScript, quick to start).
// In this repository (the sources are next to it) the bundle is used only while it is newer than
// every source file of the workspace; otherwise the TypeScript sources run directly, through tsx.
// An installed package has no sources and runs its bundle, or the compiled dist/bin.js without it.
import { existsSync, readdirSync, statSync } from "node:fs"
import { fileURLToPath } from "node:url"

const bundle = new URL("../dist/migrator.mjs", import.meta.url)
const sources = new URL("../src/bin.ts", import.meta.url)
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

if (!existsSync(sources)) {
  await import(existsSync(bundle) ? bundle.href : new URL("../dist/bin.js", import.meta.url).href)
} else if (existsSync(bundle) && statSync(bundle).mtimeMs > newestSource()) {
  await import(bundle.href)
} else {
  const { register } = await import("tsx/esm/api")
  register()
  await import(sources.href)
}
