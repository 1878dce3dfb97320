/**
 * Resident memory of the workerd processes this process started (Miniflare's runtime), read from /proc: the
 * number the stream bench reports, since a Durable Object's 128 MB limit on Cloudflare is about the isolate's
 * memory and workerd's RSS is the closest thing measurable here. Linux only.
 */
import { readdirSync, readFileSync } from "node:fs";

function parentOf(pid: number): number | null {
  try {
    // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[1]);
  } catch {
    return null;
  }
}

function isDescendantOf(pid: number, ancestor: number): boolean {
  for (let current: number | null = pid; current !== null && current > 1; current = parentOf(current)) {
    if (current === ancestor) return true;
  }
  return false;
}

/** The pids of workerd processes below this one. */
export function workerdPids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/comm`, "utf8").trim() !== "workerd") continue;
    } catch {
      continue;
    }
    if (isDescendantOf(pid, process.pid)) pids.push(pid);
  }
  return pids;
}

/** Summed VmRSS of `pids` in MiB (a process that went away counts 0). */
export function rssMiB(pids: readonly number[]): number {
  let kib = 0;
  for (const pid of pids) {
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      kib += Number(match?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return kib / 1024;
}

/** Samples RSS every `intervalMs` until stopped; `stop()` returns the peak seen. */
export function sampleRss(pids: readonly number[], intervalMs = 200) {
  let peakMiB = rssMiB(pids);
  const timer = setInterval(() => {
    peakMiB = Math.max(peakMiB, rssMiB(pids));
  }, intervalMs);
  return {
    stop(): number {
      clearInterval(timer);
      return Math.max(peakMiB, rssMiB(pids));
    },
  };
}
