// The web app's performance budget (a benchmark, not a timed test): the JavaScript the first screen loads
// (gzipped) must stay under 100 kB, and Lighthouse 12.2.3 with mobile emulation scores performance and
// accessibility on the first screen, served with the API's own headers (api/web.ts, CSP included).
// Run: npm run bench:web (from the repository's root). Lighthouse is fetched by npx on first use.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import express from 'express';
import { serveWebApp, webDistDirectory } from '../../api/web';

const root = path.resolve(__dirname, '..', '..');
const firstScreenJsGzipBytesMax = 100 * 1024;
const lighthouseVersion = '12.2.3';
const scoreMin = 90;

/** The entry script and every chunk it imports statically (what the first screen must load). */
function firstScreenScripts(): string[] {
  const html = readFileSync(path.join(webDistDirectory, 'index.html'), 'utf8');
  const entries = [...html.matchAll(/<script[^>]+src="([^"]+)"/g), ...html.matchAll(/<link[^>]+rel="modulepreload"[^>]+href="([^"]+)"/g)].map((match) => match[1]!);
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(path.join(webDistDirectory, file), 'utf8');
    // Static imports only (import … from "./x.js"); import("./x.js") is a later screen.
    for (const match of source.matchAll(/(?:^|[;\s}])import\s*(?:[\w{},*\s$]+from\s*)?["'](\.\/[^"']+\.js)["']/g)) visit(path.posix.join(path.posix.dirname(file), match[1]!));
  };
  for (const entry of entries) visit(entry.replace(/^\//, ''));
  return [...seen];
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'inherit', env });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited with ${code}`))));
  });
}

async function main(): Promise<void> {
  execFileSync('bash', [path.join(root, 'scripts', 'build-web.sh')], { stdio: 'inherit' });
  const scripts = firstScreenScripts();
  const sizes = scripts.map((file) => ({ file, bytes: readFileSync(path.join(webDistDirectory, file)).length, gzip: gzipSync(readFileSync(path.join(webDistDirectory, file)), { level: 9 }).length }));
  const gzipTotal = sizes.reduce((sum, item) => sum + item.gzip, 0);
  console.log('\nFirst screen JavaScript:');
  for (const item of sizes) console.log(`  ${item.file}  ${(item.bytes / 1024).toFixed(1)} kB, ${(item.gzip / 1024).toFixed(1)} kB gzipped`);
  console.log(`  total ${(gzipTotal / 1024).toFixed(1)} kB gzipped (budget ${firstScreenJsGzipBytesMax / 1024} kB)`);

  const app = express();
  serveWebApp(app);
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const chrome = execFileSync('bash', [path.join(root, 'scripts', 'ensure-chromium.sh')], { encoding: 'utf8' }).trim();
  const outputDir = path.join(root, 'web', '.lighthouse');
  mkdirSync(outputDir, { recursive: true });
  const report = path.join(outputDir, 'report.json');
  try {
    // Not execFileSync: this process serves the pages Lighthouse loads.
    await run('npx', ['--yes', `lighthouse@${lighthouseVersion}`, url, '--quiet', '--output=json', `--output-path=${report}`,
      '--only-categories=performance,accessibility,best-practices', '--form-factor=mobile', '--screenEmulation.mobile',
      `--chrome-flags=--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync --user-data-dir=${path.join(outputDir, 'profile')}`],
    { ...process.env, CHROME_PATH: chrome });
  } finally {
    server.close();
  }
  const result = JSON.parse(readFileSync(report, 'utf8')) as { categories: Record<string, { score: number }>; audits: Record<string, { displayValue?: string }> };
  const scores = Object.fromEntries(Object.entries(result.categories).map(([name, category]) => [name, Math.round(category.score * 100)]));
  const metrics = ['first-contentful-paint', 'largest-contentful-paint', 'total-blocking-time', 'cumulative-layout-shift', 'speed-index'].map((audit) => `${audit} ${result.audits[audit]?.displayValue ?? '?'}`);
  console.log(`\nLighthouse ${lighthouseVersion} (mobile emulation, ${url}): ${JSON.stringify(scores)}\n  ${metrics.join('\n  ')}`);
  writeFileSync(path.join(outputDir, 'summary.json'), JSON.stringify({ firstScreenJsGzipBytes: gzipTotal, scripts: sizes, lighthouse: scores, metrics }, null, 2));
  const failures = [
    ...(gzipTotal > firstScreenJsGzipBytesMax ? [`first-screen JS ${gzipTotal} B gzipped is over ${firstScreenJsGzipBytesMax} B`] : []),
    ...(['performance', 'accessibility'] as const).filter((name) => (scores[name] ?? 0) < scoreMin).map((name) => `Lighthouse ${name} ${scores[name]} < ${scoreMin}`),
  ];
  if (failures.length) {
    console.error(`\nOver budget:\n  ${failures.join('\n  ')}`);
    process.exit(1);
  }
  console.log('\nWithin budget.');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
