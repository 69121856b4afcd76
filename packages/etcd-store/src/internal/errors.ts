// Maps etcd3 / gRPC errors (no shared base class) to StoreError reasons.
import { StoreError } from "@migrator/core"
import * as Etcd from "etcd3"

const has = (e: unknown, text: string) => e instanceof Error && e.message.toLowerCase().includes(text)

export const toStoreError =
  (operation: string) =>
  (e: unknown): StoreError.StoreError => {
    const message = e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)
    if (has(e, "compacted")) {
      const m = /compact(?:ed)? revision[^0-9]*(\d+)/i.exec(message)
      return StoreError.make(
        operation,
        new StoreError.Compacted({ message, revision: 0, compactRevision: m === null ? 0 : Number(m[1]) })
      )
    }
    if (e instanceof Etcd.EtcdLeaseInvalidError || has(e, "requested lease not found")) {
      return StoreError.make(operation, new StoreError.LeaseExpired({ message, lease: "" }))
    }
    // bad credentials or missing permissions are not transient: a retry cannot help
    if (
      e instanceof Etcd.EtcdAuthenticationFailedError ||
      e instanceof Etcd.EtcdUserNotFoundError ||
      e instanceof Etcd.EtcdPermissionDeniedError ||
      e instanceof Etcd.GRPCUnauthenticatedError
    ) {
      return StoreError.invalid(operation, message)
    }
    if (has(e, "too many operations") || has(e, "request is too large") || has(e, "message larger than max")) {
      return StoreError.invalid(operation, message)
    }
    if (e instanceof Etcd.GRPCInvalidArgumentError || e instanceof Etcd.GRPCOutOfRangeError) {
      return StoreError.invalid(operation, message)
    }
    if (
      e instanceof Etcd.GRPCUnavailableError ||
      e instanceof Etcd.GRPCDeadlineExceededError ||
      e instanceof Etcd.GRPCCancelledError ||
      e instanceof Etcd.ClientClosedError ||
      e instanceof Etcd.EtcdWatchStreamEnded ||
      (e instanceof Error && Etcd.isRecoverableError(e)) ||
      has(e, "no connection") ||
      has(e, "econnrefused") ||
      has(e, "unavailable")
    ) {
      return StoreError.unavailable(operation, message)
    }
    if (e instanceof Etcd.EtcdPermissionDeniedError || e instanceof Etcd.GRPCUnauthenticatedError) {
      return StoreError.make(operation, new StoreError.InvalidRequest({ message }))
    }
    return StoreError.unknown(operation, message)
  }
