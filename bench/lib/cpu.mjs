// CPU time of a process group, read from /proc on Linux and split by command name. For wrangler
// dev the commands are `node` (wrangler), `esbuild` (its file watcher and bundler) and `workerd`
// (the Workers with the local D1 and KV).

import { execFile } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { promisify } from "node:util";

let ticksPerSecond;

/** Returns the unit of utime and stime in /proc/<pid>/stat, in ticks per second (`getconf CLK_TCK`). */
async function clockTicks() {
  if (ticksPerSecond === undefined) {
    try {
      const { stdout } = await promisify(execFile)("getconf", ["CLK_TCK"]);
      ticksPerSecond = Number(stdout.trim()) || 100;
    } catch {
      ticksPerSecond = 100; // USER_HZ of common Linux builds.
    }
  }
  return ticksPerSecond;
}

/**
 * Returns the CPU milliseconds (user and system) that the live processes of process group `pgid`
 * have used, by command name, or `undefined` where /proc does not exist. A process that exits
 * between two readings drops out of the second, so compare readings of long-lived processes only.
 */
export async function groupCpu(pgid) {
  let entries;
  try {
    entries = await readdir("/proc");
  } catch {
    return undefined;
  }
  const ticks = await clockTicks();
  const byCommand = {};
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = await readFile(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // The process exited after the directory was listed.
    }
    // The command name is in parentheses and may contain spaces, so fields are counted after it:
    // state, ppid, pgrp, …, and utime and stime are the 12th and 13th (fields 14 and 15 of proc(5)).
    const close = stat.lastIndexOf(")");
    const command = stat.slice(stat.indexOf("(") + 1, close);
    const fields = stat.slice(close + 2).split(" ");
    if (Number(fields[2]) !== pgid) continue;
    const used = Number(fields[11]) + Number(fields[12]);
    byCommand[command] = (byCommand[command] ?? 0) + (used * 1000) / ticks;
  }
  return byCommand;
}

/** Subtracts reading `before` from reading `after`, by command name. */
export function cpuDelta(before, after) {
  if (!before || !after) return undefined;
  const delta = {};
  for (const [command, ms] of Object.entries(after)) delta[command] = ms - (before[command] ?? 0);
  return delta;
}

/** Adds `delta` into `total`, by command name, and returns `total`. */
export function addCpu(total, delta) {
  for (const [command, ms] of Object.entries(delta ?? {})) total[command] = (total[command] ?? 0) + ms;
  return total;
}
