// Turns the services' JSON log lines into short readable lines for a terminal.

const levelNames: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const quietKeys = new Set(['level', 'time', 'pid', 'hostname', 'service', 'msg']);

export function formatLogLine(name: string, line: string): string {
  const label = `[${name}]`.padEnd(11);
  if (!line.startsWith('{')) return `${label} ${line}`;
  try {
    const record = JSON.parse(line) as Record<string, unknown>;
    const level = levelNames[record.level as number] ?? String(record.level ?? '');
    const extras = Object.entries(record)
      .filter(([key]) => !quietKeys.has(key))
      .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
      .join(' ');
    return `${label} ${level.padEnd(5)} ${String(record.msg ?? '')}${extras ? `  ${extras}` : ''}`;
  } catch {
    return `${label} ${line}`;
  }
}
