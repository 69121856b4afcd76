#!/usr/bin/env node
// Runs the TypeScript sources directly (source-first workspace): tsx on Node.
import { register } from "tsx/esm/api"

register()
await import("../src/bin.ts")
