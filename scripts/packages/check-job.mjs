// Consumer test helper: reads `migrator job show --json` on stdin and checks that the job completed with
// every task succeeded; `--expect task.field=value` checks an output field. Exits 1 with the reason otherwise.
import { readFileSync } from "node:fs"

const job = JSON.parse(readFileSync(0, "utf8"))
const fail = (message) => {
  console.error(`check-job: ${message}\n${JSON.stringify(job, null, 2)}`)
  process.exit(1)
}
if (job.state !== "completed" || job.outcome !== "succeeded") fail(`job ${job.id} is ${job.state} (${job.outcome})`)
for (const task of job.tasks) if (task.result !== "success") fail(`task ${task.id} is ${task.result}`)
const args = process.argv.slice(2)
for (let i = 0; i < args.length; i += 2) {
  if (args[i] !== "--expect") fail(`unknown argument ${args[i]}`)
  const [, taskId, field, value] = /^([^.]+)\.([^=]+)=(.*)$/.exec(args[i + 1]) ?? fail(`bad --expect ${args[i + 1]}`)
  const output = job.tasks.find((t) => t.id === taskId)?.output ?? {}
  const actual = output[field]
  if (value === "*" ? typeof actual !== "string" || actual === "" : String(actual) !== value) {
    fail(`task ${taskId}: output ${field} is ${JSON.stringify(actual)}, expected ${value}`)
  }
}
console.log(`job ${job.id}: ${job.tasks.map((t) => `${t.id} ${JSON.stringify(t.output)}`).join("; ")}`)
