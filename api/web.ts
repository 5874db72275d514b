// Serves the web app (web/dist, built by scripts/build-web.sh) at / on the API's own origin, with a strict
// Content-Security-Policy: scripts, styles and connections only from this origin, no inline code.
// The app is a client of the public GraphQL API like any other; this module only hands out its files.
import express from 'express';
import { existsSync } from 'node:fs';
import path from 'node:path';

export const webDistDirectory = path.resolve(__dirname, '..', 'web', 'dist');

/**
 * No inline script or style, no eval, no plugins, no framing; GraphQL over HTTP and WebSocket to this
 * origin only ('self' covers ws: and wss: of the same host in CSP Level 3); images from this origin and
 * data: URIs (the icons); forms post nowhere but here.
 */
export const contentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "worker-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

const securityHeaders: Record<string, string> = {
  'content-security-policy': contentSecurityPolicy,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
  'x-frame-options': 'DENY',
};

/** Paths that belong to the API, never to the app's client-side routes. */
const apiPaths = /^\/(graphql|webhooks|healthz)(\/|$)/;

/** A browser's WebSocket from a page this API served itself: Origin names the host the request went to. */
export function isSameOrigin(origin: string | undefined, host: string | undefined): boolean {
  if (!origin || !host) return false;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

export function serveWebApp(app: express.Express, directory = webDistDirectory): void {
  const indexFile = path.join(directory, 'index.html');
  const setHeaders = (response: express.Response) => {
    for (const [name, value] of Object.entries(securityHeaders)) response.setHeader(name, value);
  };
  app.use(
    express.static(directory, {
      index: false,
      redirect: false,
      setHeaders(response, file) {
        setHeaders(response);
        // Hashed bundles never change; the shell, manifest and service worker are checked every time.
        const hashed = file.startsWith(path.join(directory, 'assets') + path.sep);
        response.setHeader('cache-control', hashed ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    }),
  );
  // Client-side routes (/, /send, /add-money/return, …) get the app's shell.
  app.get(/.*/, (request, response, next) => {
    if (apiPaths.test(request.path) || !request.accepts('html')) return next();
    setHeaders(response);
    response.setHeader('cache-control', 'no-cache');
    if (!existsSync(indexFile)) {
      response.status(503).type('text/plain').send('The web app is not built: run `bash scripts/build-web.sh` (npm start builds it).\n');
      return;
    }
    response.sendFile(indexFile);
  });
}
