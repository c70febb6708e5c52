// `GET /playground`: one self-contained page (inline CSS and script, nothing fetched but this
// server's own /openapi.json and prediction endpoints) to try the model in a browser.
import { randomBytes } from 'node:crypto';
import type { Hono } from 'hono';
import { PLAYGROUND_SCRIPT } from './script.js';

const STYLE = `
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #5d6670; --line: #d6dae0; --bg: #ffffff; --panel: #f6f7f9; --accent: #2456d6; --bad: #c62828; --good: #1e7d3a; }
@media (prefers-color-scheme: dark) { :root { --fg: #e7e9ec; --muted: #9aa3ad; --line: #39404a; --bg: #16191d; --panel: #1e2227; --accent: #7fa2ff; --bad: #ff7b72; --good: #56d364; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: baseline; gap: 12px; padding: 14px 24px; border-bottom: 1px solid var(--line); }
header h1 { margin: 0; font-size: 18px; }
header .sub { color: var(--muted); font-size: 13px; }
header a { color: var(--accent); font-size: 13px; margin-left: auto; }
main { display: grid; grid-template-columns: minmax(300px, 1fr) minmax(320px, 1.2fr); gap: 24px; padding: 20px 24px; max-width: 1400px; }
@media (max-width: 820px) { main { grid-template-columns: 1fr; } }
h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); margin: 0 0 10px; }
.field { margin-bottom: 14px; }
.field label { display: flex; gap: 8px; align-items: baseline; margin-bottom: 4px; }
.field .name { font-weight: 600; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 14px; }
.field .required, .field .hint { font-size: 12px; color: var(--muted); }
.field .required { color: var(--accent); }
.field .description { font-size: 13px; color: var(--muted); margin-top: 3px; }
.field input[type=text], .field input[type=number], .field input[type=password], .field input[type=url], .field select, .field textarea { width: 100%; font: inherit; padding: 6px 8px; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); color: var(--fg); }
.field textarea { resize: vertical; }
.field textarea.json { font-family: ui-monospace, monospace; font-size: 13px; }
.field input[type=checkbox] { width: 18px; height: 18px; }
.field .file { display: flex; flex-direction: column; gap: 6px; }
.field.invalid input, .field.invalid textarea, .field.invalid select { border-color: var(--bad); }
.field-error { color: var(--bad); font-size: 13px; margin-top: 3px; }
.field-error:empty { display: none; }
.buttons { display: flex; gap: 10px; margin-top: 6px; }
button { font: inherit; font-weight: 600; padding: 8px 18px; border-radius: 6px; border: 1px solid var(--accent); cursor: pointer; }
button#run { background: var(--accent); color: #fff; }
button#cancel { background: transparent; color: var(--accent); }
button:disabled { opacity: .45; cursor: default; }
#form-error, #error { color: var(--bad); white-space: pre-wrap; }
.status { display: inline-block; font-size: 12px; font-weight: 600; padding: 2px 8px; border-radius: 10px; background: var(--panel); border: 1px solid var(--line); }
.status.succeeded { color: var(--good); border-color: var(--good); }
.status.failed, .status.invalid { color: var(--bad); border-color: var(--bad); }
.status.processing, .status.starting { color: var(--accent); border-color: var(--accent); }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px; margin-bottom: 16px; min-height: 48px; overflow: auto; }
#output pre { margin: 0; white-space: pre-wrap; word-break: break-word; }
#output pre.json { font-size: 13px; }
#output .media { max-width: 100%; border-radius: 4px; display: block; }
#output .entry { margin-bottom: 12px; }
#output .key { font-family: ui-monospace, monospace; font-size: 13px; color: var(--muted); margin-bottom: 4px; }
#output ol.items { margin: 0; padding-left: 22px; }
#output ol.items > li { margin: 6px 0; }
#output a.download { color: var(--accent); }
#logs { font: 12px/1.4 ui-monospace, monospace; white-space: pre-wrap; max-height: 240px; margin: 0 0 16px; }
#metrics { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; font-size: 13px; }
#metrics dt { color: var(--muted); font-family: ui-monospace, monospace; }
#metrics dd { margin: 0; }
`;

function page(nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cog-node playground</title>
<link rel="icon" href="data:,">
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<header><h1>cog-node playground</h1><span class="sub">a <span id="kind">prediction</span> on this server</span><a href="openapi.json">openapi.json</a></header>
<main>
  <section>
    <h2>Input</h2>
    <form id="form" novalidate>
      <div id="fields"></div>
      <div id="form-error" role="alert"></div>
      <div class="buttons"><button id="run" type="submit" disabled>Run</button><button id="cancel" type="button" disabled>Cancel</button></div>
    </form>
  </section>
  <section>
    <h2>Output <span id="status" class="status">idle</span></h2>
    <div id="output" class="panel" aria-live="polite"></div>
    <div id="error" class="panel" role="alert" hidden></div>
    <h2>Logs</h2>
    <pre id="logs" class="panel"></pre>
    <h2>Metrics</h2>
    <dl id="metrics" class="panel"></dl>
  </section>
</main>
<script nonce="${nonce}">${PLAYGROUND_SCRIPT}</script>
</body>
</html>
`;
}

/** Registers `GET /playground` on a Cog app (`COG_NODE_PLAYGROUND=0` leaves it out: see `cogRoutes`). */
export function registerPlayground(app: Hono): void {
  app.get('/playground', (c) => {
    const nonce = randomBytes(16).toString('base64');
    // The page may talk to this server only; output media may come from an upload host.
    c.header(
      'Content-Security-Policy',
      `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src * data: blob:; media-src * data: blob:; form-action 'none'; base-uri 'none'; frame-ancestors 'none'`,
    );
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Cache-Control', 'no-store');
    return c.html(page(nonce));
  });
}
