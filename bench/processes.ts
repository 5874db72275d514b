// CPU time and memory of the system's processes, read from Linux's /proc while a benchmark runs, and
// the ways to find those processes: by the port they listen on, by name, or (PostgreSQL) from a backend.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { Queryable } from '../db/pool';

export interface ProcessGroup {
  /** e.g. api, worker, temporal, postgres. */
  name: string;
  rootPid: number;
  /** Count the processes it started too (PostgreSQL's backends). */
  withDescendants: boolean;
}

export interface ProcessSample {
  /** Milliseconds since the sampler started. */
  atMs: number;
  cpuSeconds: number;
  rssBytes: number;
  pssBytes: number;
  processes: number;
}

export interface ProcessMetrics {
  name: string;
  rootPid: number;
  /** CPU time (user + system) used during the measurement, by the process and its descendants. */
  cpuSeconds: number;
  /** cpuSeconds per second of measurement: 1.0 is one core busy all the time. */
  cpuCores: number;
  /** Highest sum of resident set sizes; counts memory shared between processes once per process. */
  peakRssBytes: number;
  /** Highest sum of proportional set sizes: shared memory split among its sharers (right for PostgreSQL). */
  peakPssBytes: number;
  processesMax: number;
  samples: ProcessSample[];
}

const sampleIntervalMs = 1_000;
/** A soak of the longest duration sampled every second stays well under this. */
const samplesMax = 100_000;

function getconf(name: string, fallback: number): number {
  try {
    return Number(execFileSync('getconf', [name], { encoding: 'utf8' }).trim()) || fallback;
  } catch {
    return fallback;
  }
}

const clockTicksPerSecond = getconf('CLK_TCK', 100);
const pageBytes = getconf('PAGESIZE', 4096);

interface StatLine {
  pid: number;
  parentPid: number;
  /** utime + stime + cutime + cstime: its own time and that of its children it has waited for. */
  cpuTicks: number;
  rssPages: number;
}

function readStat(pid: number): StatLine | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may contain spaces and parentheses: split after its last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state) of proc(5).
  const field = (number: number) => Number(fields[number - 3]);
  return { pid, parentPid: field(4), cpuTicks: field(14) + field(15) + field(16) + field(17), rssPages: field(24) };
}

function readPssBytes(pid: number): number {
  try {
    const match = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function allPids(): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number);
}

function childrenByParent(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const pid of allPids()) {
    const stat = readStat(pid);
    if (!stat) continue;
    const siblings = children.get(stat.parentPid) ?? [];
    siblings.push(pid);
    children.set(stat.parentPid, siblings);
  }
  return children;
}

function descendantsOf(rootPid: number, children: Map<number, number[]>): number[] {
  const found: number[] = [];
  const pending = [...(children.get(rootPid) ?? [])];
  while (pending.length > 0) {
    const pid = pending.pop()!;
    found.push(pid);
    pending.push(...(children.get(pid) ?? []));
  }
  return found;
}

function sampleGroup(group: ProcessGroup, children: Map<number, number[]> | null, atMs: number): ProcessSample | null {
  const root = readStat(group.rootPid);
  if (!root) return null;
  const pids = [group.rootPid, ...(group.withDescendants && children ? descendantsOf(group.rootPid, children) : [])];
  let cpuTicks = 0;
  let rssPages = 0;
  let pssBytes = 0;
  let processes = 0;
  for (const pid of pids) {
    const stat = pid === group.rootPid ? root : readStat(pid);
    if (!stat) continue;
    cpuTicks += stat.cpuTicks;
    rssPages += stat.rssPages;
    pssBytes += readPssBytes(pid);
    processes++;
  }
  return { atMs, cpuSeconds: cpuTicks / clockTicksPerSecond, rssBytes: rssPages * pageBytes, pssBytes, processes };
}

/** CPU time the whole machine spent busy (all cores, everything but idle and I/O wait), in seconds. */
function machineBusySeconds(): number {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already inside user).
    const [user, nice, system, , , irq, softirq, steal] = fields;
    return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / clockTicksPerSecond;
  } catch {
    return Number.NaN;
  }
}

/** Samples the groups every second from start() to stop(); stop() gives each group's figures. */
export class ProcessSampler {
  private readonly samples = new Map<string, ProcessSample[]>();
  private timer: NodeJS.Timeout | null = null;
  private startedAtMs = 0;
  private machineStartSeconds = 0;
  /** After stop(): cores the machine was busy on average, and how many of them went to processes not measured. */
  machine = { busyCores: Number.NaN, otherCores: Number.NaN };

  constructor(private readonly groups: readonly ProcessGroup[]) {}

  start(): void {
    this.startedAtMs = performance.now();
    this.machineStartSeconds = machineBusySeconds();
    for (const group of this.groups) this.samples.set(group.name, []);
    this.sample();
    this.timer = setInterval(() => this.sample(), sampleIntervalMs);
  }

  private sample(): void {
    const atMs = performance.now() - this.startedAtMs;
    const children = this.groups.some((group) => group.withDescendants) ? childrenByParent() : null;
    for (const group of this.groups) {
      const samples = this.samples.get(group.name)!;
      const sample = sampleGroup(group, children, atMs);
      if (sample && samples.length < samplesMax) samples.push(sample);
    }
  }

  stop(): ProcessMetrics[] {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.sample();
    const elapsedSeconds = (performance.now() - this.startedAtMs) / 1000;
    const metrics = this.groups.flatMap((group) => {
      const samples = this.samples.get(group.name)!;
      if (samples.length === 0) return [];
      const cpuSeconds = samples.at(-1)!.cpuSeconds - samples[0]!.cpuSeconds;
      return [
        {
          name: group.name,
          rootPid: group.rootPid,
          cpuSeconds,
          cpuCores: elapsedSeconds > 0 ? cpuSeconds / elapsedSeconds : 0,
          peakRssBytes: Math.max(...samples.map((sample) => sample.rssBytes)),
          peakPssBytes: Math.max(...samples.map((sample) => sample.pssBytes)),
          processesMax: Math.max(...samples.map((sample) => sample.processes)),
          samples,
        },
      ];
    });
    const busyCores = (machineBusySeconds() - this.machineStartSeconds) / elapsedSeconds;
    const measuredCores = metrics.reduce((sum, group) => sum + group.cpuCores, 0);
    this.machine = { busyCores, otherCores: Math.max(0, busyCores - measuredCores) };
    return metrics;
  }
}

/** The PostgreSQL server process (postmaster) behind a connection: the parent of its backend. */
export async function postgresServerPid(db: Queryable): Promise<number | null> {
  const { rows } = await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const backend = rows[0] ? readStat(rows[0].pid) : null;
  // A server on another machine, or in a container, has pids that mean nothing here.
  if (!backend || processName(backend.parentPid) !== 'postgres') return null;
  return backend.parentPid;
}

function processName(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return null;
  }
}

function listeningSocketInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const localPort = fields[1] ? parseInt(fields[1].split(':')[1] ?? '', 16) : NaN;
      // State 0A is LISTEN.
      if (localPort === port && fields[3] === '0A' && fields[9]) inodes.add(fields[9]);
    }
  }
  return inodes;
}

/** The process listening on a TCP port of this machine, or null. */
export function pidListeningOn(port: number): number | null {
  const inodes = listeningSocketInodes(port);
  if (inodes.size === 0) return null;
  for (const pid of allPids()) {
    let descriptors: string[];
    try {
      descriptors = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const descriptor of descriptors) {
      try {
        const target = readlinkSync(`/proc/${pid}/fd/${descriptor}`);
        const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
        if (inode && inodes.has(inode)) return pid;
      } catch {
        // The descriptor closed while we looked.
      }
    }
  }
  return null;
}

/** Processes whose command line contains every one of the fragments (e.g. a worker's entry point). */
export function pidsByCommandLine(fragments: readonly string[]): number[] {
  return allPids().filter((pid) => {
    if (pid === process.pid) return false;
    try {
      const commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return fragments.every((fragment) => commandLine.some((argument) => argument.includes(fragment)));
    } catch {
      return false;
    }
  });
}

/** One environment variable of another process (readable by its owner or root), or null. */
export function environmentOf(pid: number, name: string): string | null {
  try {
    const entry = readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .find((line) => line.startsWith(`${name}=`));
    return entry === undefined ? null : entry.slice(name.length + 1);
  } catch {
    return null;
  }
}
