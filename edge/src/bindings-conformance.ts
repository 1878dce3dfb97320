import type { DevStreamsObject } from "./dev/dev-streams-object.ts";
import type { DevStreamsRpc } from "./dev/dev-streams-rpc.ts";
import type { Env } from "./env.ts";
import type { JobObject } from "./job/job-object.ts";
import type { JobObjectRpc } from "./job/job-rpc.ts";
import type { KeyDirectory } from "./keys/key-directory.ts";
import type { KeyDirectoryRpc } from "./keys/key-directory-rpc.ts";
import type { QueueLedger } from "./queue/queue-ledger.ts";
import type { QueueLedgerRpc } from "./queue/queue-ledger-rpc.ts";
import type { TenantIndex } from "./tenant/tenant-index.ts";
import type { TenantIndexRpc } from "./tenant/tenant-index-rpc.ts";

/**
 * Types only, imported by no source file: env.ts types each Durable Object namespace by an RPC interface
 * (a leaf) instead of the class, and this file is where the two meet, so an interface cannot drift from its
 * class. `tsc -b` fails here when a class stops being assignable to its interface (a method renamed,
 * removed, or with other argument or answer shapes).
 */
type Implements<Class extends Interface, Interface> = [Class, Interface];

export type BindingsConformance = [
  Implements<JobObject, JobObjectRpc>,
  Implements<TenantIndex, TenantIndexRpc>,
  Implements<KeyDirectory, KeyDirectoryRpc>,
  Implements<QueueLedger, QueueLedgerRpc>,
  Implements<DevStreamsObject, DevStreamsRpc>,
];

/**
 * A namespace whose stubs are typed by the class (first, so `get` resolves to its stub) and by the interface,
 * so it still fits where Env's namespace is expected: DurableObjectNamespace<T> is invariant in T, so the
 * class-typed namespace alone would not.
 */
type ClassBound<Class extends Rpc.DurableObjectBranded, Namespace> = DurableObjectNamespace<Class> & Namespace;

/**
 * The bindings typed by the classes themselves, for code that reaches inside an instance: the edge tests
 * (test/env.d.ts), whose `runInDurableObject` callbacks read `instance.core` and the like, and which hand
 * the same `env` to the edge's own functions (which take Env).
 */
export interface ClassBoundEnv extends Env {
  JOBS: ClassBound<JobObject, Env["JOBS"]>;
  TENANTS: ClassBound<TenantIndex, Env["TENANTS"]>;
  KEYS: ClassBound<KeyDirectory, Env["KEYS"]>;
  QUEUE_LEDGER: ClassBound<QueueLedger, Env["QUEUE_LEDGER"]>;
  DEV_STREAMS?: ClassBound<DevStreamsObject, NonNullable<Env["DEV_STREAMS"]>>;
}
