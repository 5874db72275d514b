// The state file: an append-only JSON-lines journal, replayed on start and compacted now and then.
// Each change is one write() of its own lines, so a request costs O(its records), and a SIGKILLed process
// loses nothing the kernel accepted; fsync happens on compaction and on close (power loss is not simulated).
import assert from 'node:assert/strict';
import {
  closeSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../common/log';
import { decodeRecord, encodeRecord, type JournalRecord } from './records';

export const journalReadChunkBytes = 1 << 20;
/** A line longer than this cannot have been written by us: the file is corrupt. */
export const journalLineBytesMax = 4 << 20;
/** Compaction runs when the journal has grown past this and past twice its size after the last compaction. */
export const journalCompactionBytesMin = 64 << 20;
const compactionBatchBytes = 1 << 20;

export class JournalCorruptError extends Error {
  override readonly name = 'JournalCorruptError';
}

export class Journal {
  private fd: number | null;
  private bytes: number;
  private bytesAfterCompaction: number;

  private constructor(
    readonly path: string,
    fd: number,
    bytes: number,
  ) {
    this.fd = fd;
    this.bytes = bytes;
    this.bytesAfterCompaction = bytes;
  }

  /** Opens (or creates) the journal and hands every record to `onRecord` in order. A torn last line is cut off. */
  static open(path: string, onRecord: (record: JournalRecord) => void, logger: Logger): Journal {
    mkdirSync(dirname(path), { recursive: true });
    const fd = openSync(path, 'a+');
    try {
      const goodBytes = replay(fd, path, onRecord, logger);
      return new Journal(path, fd, goodBytes);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  get sizeBytes(): number {
    return this.bytes;
  }

  /** Writes the records as one write, so that a killed process keeps all of them or (rarely) a torn tail. */
  append(records: readonly JournalRecord[]): void {
    assert(this.fd !== null, 'journal is closed');
    if (records.length === 0) return;
    const data = Buffer.from(records.map(encodeRecord).join(''), 'utf8');
    writeFully(this.fd, data);
    this.bytes += data.length;
  }

  shouldCompact(): boolean {
    return this.bytes > Math.max(journalCompactionBytesMin, 2 * this.bytesAfterCompaction);
  }

  /** Replaces the journal by `records` (the current state): written aside, fsynced, then renamed over. */
  compact(records: Iterable<JournalRecord>): void {
    assert(this.fd !== null, 'journal is closed');
    const temporaryPath = `${this.path}.compacting`;
    const temporaryFd = openSync(temporaryPath, 'w');
    let bytes = 0;
    try {
      let batch: string[] = [];
      let batchLength = 0;
      for (const record of records) {
        const line = encodeRecord(record);
        batch.push(line);
        batchLength += line.length;
        if (batchLength >= compactionBatchBytes) {
          bytes += writeFully(temporaryFd, Buffer.from(batch.join(''), 'utf8'));
          batch = [];
          batchLength = 0;
        }
      }
      bytes += writeFully(temporaryFd, Buffer.from(batch.join(''), 'utf8'));
      fsyncSync(temporaryFd);
    } finally {
      closeSync(temporaryFd);
    }
    renameSync(temporaryPath, this.path);
    fsyncDirectory(dirname(this.path));
    closeSync(this.fd);
    this.fd = openSync(this.path, 'a');
    this.bytes = bytes;
    this.bytesAfterCompaction = bytes;
  }

  close(): void {
    if (this.fd === null) return;
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = null;
  }
}

function writeFully(fd: number, data: Buffer): number {
  let written = 0;
  while (written < data.length) written += writeSync(fd, data, written, data.length - written);
  return written;
}

function fsyncDirectory(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Returns the length of the complete lines; truncates anything after them. */
function replay(fd: number, path: string, onRecord: (record: JournalRecord) => void, logger: Logger): number {
  let position = 0;
  let goodBytes = 0;
  let lineNumber = 0;
  let carry = Buffer.alloc(0);
  for (;;) {
    const chunk = Buffer.allocUnsafe(journalReadChunkBytes);
    const read = readSync(fd, chunk, 0, journalReadChunkBytes, position);
    if (read === 0) break;
    position += read;
    const data = carry.length === 0 ? chunk.subarray(0, read) : Buffer.concat([carry, chunk.subarray(0, read)]);
    let start = 0;
    for (let newline = data.indexOf(10, start); newline !== -1; newline = data.indexOf(10, start)) {
      lineNumber += 1;
      const line = data.toString('utf8', start, newline);
      if (line.trim() !== '') onRecord(decodeLine(line, path, lineNumber));
      goodBytes += newline + 1 - start;
      start = newline + 1;
    }
    carry = data.subarray(start);
    if (carry.length > journalLineBytesMax) {
      throw new JournalCorruptError(`journal ${path}: line ${lineNumber + 1} is longer than ${journalLineBytesMax} bytes`);
    }
  }
  if (carry.length > 0) {
    // Only the last line can be torn (a write cut short); everything before it was complete.
    logger.warn({ path, tornBytes: carry.length }, 'journal ends with a torn line; cutting it off');
    ftruncateSync(fd, goodBytes);
  }
  return goodBytes;
}

function decodeLine(line: string, path: string, lineNumber: number): JournalRecord {
  try {
    return decodeRecord(line);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new JournalCorruptError(`journal ${path}: line ${lineNumber} is not a valid record: ${reason}`);
  }
}
