/**
 * One decoder per record class the engine stores, for the whole process: the view (every watch
 * event) and the one-off reads (`Jobs.read` and the pages) share it, built once. The classes have
 * no constructors of their own, so they are decoded through their fields (see
 * `Codec.DecodeOptions.plainClass`).
 */
import * as Codec from "../Codec.ts"
import { JobSpec, JobState } from "../Job.ts"
import { SharedRecord } from "../SharedResource.ts"
import { TaskResult, TaskSpec, TaskStatus } from "../Task.ts"

const plain = { plainClass: true } as const

export const jobSpec = Codec.decoder(JobSpec, plain)
export const jobState = Codec.decoder(JobState, plain)
export const taskSpec = Codec.decoder(TaskSpec, plain)
export const taskStatus = Codec.decoder(TaskStatus, plain)
export const taskResult = Codec.decoder(TaskResult, plain)
export const shared = Codec.decoder(SharedRecord, plain)
