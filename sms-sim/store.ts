// The messages each phone has received, bounded (messagesPerPhoneMax per phone, messagesMax in all, oldest
// dropped first), optionally kept in a JSON-lines state file: one append per message, compacted on start.
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { messagesMax, messagesPerPhoneMax } from './config';

export interface Message {
  id: string;
  to: string;
  body: string;
  reference: string | null;
  sentAt: string;
}

const storedMessageSchema = z.object({
  id: z.string().min(1).max(64),
  to: z.string().min(1).max(16),
  body: z.string().max(2_000),
  reference: z.string().max(255).nullable(),
  sentAt: z.string().min(1).max(40),
});

export class MessageStore {
  /** Oldest first, per phone. */
  private readonly byPhone = new Map<string, Message[]>();
  /** Every stored message, oldest first, to drop the oldest when full. */
  private readonly order: Message[] = [];
  private orderStart = 0;
  private appendedSinceCompaction = 0;

  constructor(private readonly stateFile: string | null) {
    if (stateFile && existsSync(stateFile)) {
      for (const line of readFileSync(stateFile, 'utf8').split('\n')) {
        if (!line.trim()) continue;
        // A torn last line (a crash mid-append) or a foreign one is skipped, never fatal.
        try {
          const parsed = storedMessageSchema.safeParse(JSON.parse(line));
          if (parsed.success) this.remember(parsed.data);
        } catch {
          continue;
        }
      }
      this.compact();
    }
  }

  get size(): number {
    return this.order.length - this.orderStart;
  }

  add(message: Message): void {
    this.remember(message);
    if (!this.stateFile) return;
    appendFileSync(this.stateFile, `${JSON.stringify(message)}\n`);
    // The file is rewritten once it holds twice what memory does: its size stays bounded too.
    if (++this.appendedSinceCompaction >= messagesMax) this.compact();
  }

  /** Newest first. */
  messagesTo(phone: string): Message[] {
    return [...(this.byPhone.get(phone) ?? [])].reverse();
  }

  clear(): void {
    this.byPhone.clear();
    this.order.length = 0;
    this.orderStart = 0;
    if (this.stateFile) this.compact();
  }

  private remember(message: Message): void {
    let messages = this.byPhone.get(message.to);
    if (!messages) this.byPhone.set(message.to, (messages = []));
    messages.push(message);
    if (messages.length > messagesPerPhoneMax) messages.shift();
    this.order.push(message);
    while (this.size > messagesMax) this.forgetOldest();
    // Drop the consumed head of the queue now and then instead of shifting a long array each time.
    if (this.orderStart > 1_000 && this.orderStart * 2 > this.order.length) {
      this.order.splice(0, this.orderStart);
      this.orderStart = 0;
    }
  }

  private forgetOldest(): void {
    const oldest = this.order[this.orderStart++]!;
    const messages = this.byPhone.get(oldest.to);
    if (!messages) return;
    const index = messages.indexOf(oldest);
    if (index >= 0) messages.splice(index, 1);
    if (messages.length === 0) this.byPhone.delete(oldest.to);
  }

  private compact(): void {
    if (!this.stateFile) return;
    const kept = new Set<Message>();
    for (const messages of this.byPhone.values()) for (const message of messages) kept.add(message);
    const lines = this.order.slice(this.orderStart).filter((message) => kept.has(message)).map((message) => JSON.stringify(message));
    const temporary = `${this.stateFile}.tmp`;
    writeFileSync(temporary, lines.length ? `${lines.join('\n')}\n` : '');
    renameSync(temporary, this.stateFile);
    this.appendedSinceCompaction = 0;
  }
}
