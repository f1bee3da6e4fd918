/**
 * Lower the calling thread's CPU priority (Linux nice, per thread). The server's worker threads do
 * throughput work (provider stream parsing, WAL checkpoints); the main thread answers the API and
 * the WebSockets, whose latency is what users feel. On a machine with few cores a busy worker at
 * the same priority makes the main thread wait for a core (event-loop lag of tens of ms); at nice
 * 10 the scheduler gives the main thread the core whenever it is ready to run.
 *
 * Best effort: where there is no /proc/thread-self (not Linux) or the call is refused, nothing changes.
 *
 * @example lowerThreadPriority(10); // first thing in a worker thread
 */
import { readlinkSync } from "node:fs";
import { setPriority } from "node:os";

export function lowerThreadPriority(nice: number): boolean {
  try {
    // "/proc/thread-self" -> "<pid>/task/<tid>": setpriority(2) takes a thread id on Linux.
    const tid = Number(readlinkSync("/proc/thread-self").split("/").pop());
    if (!Number.isInteger(tid) || tid <= 0) return false;
    setPriority(tid, nice);
    return true;
  } catch {
    return false;
  }
}
