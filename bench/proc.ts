import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** Readers of Linux /proc: peak memory of a process and CPU time of process trees and the machine. */

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** A field of /proc/<pid>/status in kB (VmHWM is the peak resident set size), undefined once gone. */
export function statusKb(pid: number, field: 'VmHWM' | 'VmRSS'): number | undefined {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

export function executable(pid: number): string {
  return readlinkSync(`/proc/${pid}/exe`);
}

interface Stat {
  ppid: number;
  /** CPU seconds of the process and of its children that have exited. */
  cpu: number;
}

function readStat(pid: number): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields are counted after its last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0); // utime stime cutime cstime
    return { ppid: Number(fields[1]), cpu: ticks / CLOCK_TICKS };
  } catch {
    return undefined; // exited meanwhile
  }
}

/** CPU seconds used so far by each root's process tree (postgres backends, esbuild helpers, …). */
export function treeCpuSeconds(roots: number[]): number[] {
  const stats = new Map<number, Stat>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat) stats.set(Number(name), stat);
  }
  const children = new Map<number, number[]>();
  for (const [pid, { ppid }] of stats) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  const sum = (pid: number): number => (stats.get(pid)?.cpu ?? 0) + (children.get(pid) ?? []).reduce((s, c) => s + sum(c), 0);
  return roots.map(sum);
}

/** Busy CPU seconds of the whole machine, all cores (everything but idle and iowait). */
export function machineBusySeconds(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = fields;
  return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS;
}

/** CPU seconds the hypervisor gave to others while this machine's processes were ready to run (steal). */
export function stealSeconds(): number {
  return Number(readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/)[8]) / CLOCK_TICKS;
}

export function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

/** The direct child of `parent` whose executable is `exe`, e.g. the postmaster among a stack's children. */
export function childByExecutable(parent: number, exe: RegExp): number | undefined {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    try {
      if (readStat(pid)?.ppid === parent && exe.test(executable(pid))) return pid;
    } catch {
      // exited, or not ours to inspect
    }
  }
  return undefined;
}
