/**
 * Resolver benchmark: a reference chain through 1,000 task outputs, and one
 * input holding 10,000 references. `--json` prints the figures as JSON.
 */
import { Result } from "effect"
import { Reference, Resolver } from "../src/index.ts"

const time = (f: () => unknown, runs = 5) => {
  const samples: Array<number> = []
  for (let i = 0; i < runs; i++) {
    const start = performance.now()
    const r = f()
    samples.push(performance.now() - start)
    if (Result.isResult(r) && Result.isFailure(r)) throw new Error(String(r.failure))
  }
  samples.sort((a, b) => a - b)
  return samples[Math.floor(samples.length / 2)]!
}

const chain: Record<string, unknown> = { t0: { value: { id: "root", tags: ["a", "b"] } } }
for (let i = 1; i < 1000; i++) chain[`t${i}`] = { value: Reference.ref(`t${i - 1}`, "/value"), n: i }
const chainMs = time(() => Resolver.resolveResult(Reference.ref("t999", "/value"), chain, { maxDepth: 2000 }))

const outputs: Record<string, unknown> = {}
for (let t = 0; t < 100; t++)
  outputs[`dep${t}`] = { id: `id-${t}`, items: Array.from({ length: 100 }, (_, i) => ({ i })) }
const input = {
  refs: Array.from({ length: 10_000 }, (_, i) => Reference.ref(`dep${i % 100}`, ["items", String(i % 100), "i"]))
}
const refsMs = time(() => Resolver.resolveResult(input, outputs))

const figures = { chain1000Ms: Number(chainMs.toFixed(2)), refs10000Ms: Number(refsMs.toFixed(2)) }
const argv = (globalThis as unknown as { process: { argv: Array<string> } }).process.argv
if (argv.includes("--json")) console.log(JSON.stringify(figures))
else {
  console.log("resolver benchmark (median of 5)")
  console.log(`  chain of 1,000 task outputs    ${figures.chain1000Ms} ms`)
  console.log(`  input with 10,000 references   ${figures.refs10000Ms} ms`)
}
