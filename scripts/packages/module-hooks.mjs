// Consumer test helper (module loader hooks): appends the URL of every ES module loaded to the file
// named by MIGRATOR_MODULE_LOG, so one-handler.mjs can report what a runner with one handler loads.
import { appendFileSync } from "node:fs"

const log = process.env.MIGRATOR_MODULE_LOG

export async function load(url, context, nextLoad) {
  const result = await nextLoad(url, context)
  if (log !== undefined && url.startsWith("file:")) appendFileSync(log, `${url}\n`)
  return result
}
