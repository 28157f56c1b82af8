// chromium_visit: one page load with real headless Chromium (Debian's /usr/bin/chromium), driven
// by playwright-core from the harness build dir (setup.sh --chromium). Prints one JSON line like
// client.py: did the page render (the Bokeh Div's text appears), did a websocket open, which
// requests completed or failed, the session id from the page's token.
//   node chromium_visit.mjs URL [--visit N] [--timeout MS] [--hold MS] [--profile DIR]
//        [--text TEXT]
// --profile reuses a Chromium profile (warm cache); by default every visit gets a fresh one.
import { createRequire } from "node:module";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const buildDir =
  process.env.OW_HARNESS_BUILD ||
  join(process.env.OW_BUILD_DIR || resolve(here, "../../build"), "harness");
const require = createRequire(join(buildDir, "node", "package.json"));

function parseArgs(argv) {
  const o = { timeout: 15000, hold: 1000, text: "Testing...", visit: null, profile: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--visit") o.visit = Number(argv[++i]);
    else if (a === "--timeout") o.timeout = Number(argv[++i]);
    else if (a === "--hold") o.hold = Number(argv[++i]);
    else if (a === "--profile") o.profile = argv[++i];
    else if (a === "--text") o.text = argv[++i];
    else o.url = a;
  }
  if (!o.url) {
    console.error("usage: chromium_visit.mjs URL [--visit N] [--timeout MS] [--hold MS]");
    process.exit(2);
  }
  if (o.visit === null) {
    const m = /[?&]visit=(\d+)/.exec(o.url);
    o.visit = m ? Number(m[1]) : null;
  }
  return o;
}

function sessionIdFromHtml(html) {
  const m = /"token":"([A-Za-z0-9_\-.]+)"/.exec(html || "");
  if (!m) return null;
  const part = m[1].split(".")[0];
  try {
    return JSON.parse(Buffer.from(part, "base64url").toString("utf8")).session_id || null;
  } catch {
    return null;
  }
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  let chromium;
  try {
    ({ chromium } = require("playwright-core"));
  } catch (e) {
    console.error(`playwright-core not found under ${buildDir}/node (run setup.sh --chromium)`);
    process.exit(77);
  }
  const profile = o.profile || mkdtempSync(join(tmpdir(), "ow-chromium-"));
  const rec = {
    visit: o.visit, url: o.url, client: null, client_port: null, client_kind: "chromium",
    cache: o.profile ? "warm" : "cold", started_at: Date.now() / 1000, session_id: null,
    rendered: false, websocket_opened: false, what: null, requests: [], failed_requests: [],
    completed_responses: [], websockets: 0, ws_frames_received: 0, console_errors: [],
    error: null,
  };
  let ctx;
  try {
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    const page = ctx.pages()[0] || (await ctx.newPage());
    page.on("request", (r) => rec.requests.push(r.url()));
    page.on("requestfailed", (r) =>
      rec.failed_requests.push([r.url(), r.failure() ? r.failure().errorText : ""]));
    page.on("requestfinished", (r) => rec.completed_responses.push(r.url().split("?")[0].split("/").pop()));
    page.on("console", (m) => { if (m.type() === "error") rec.console_errors.push(m.text()); });
    page.on("websocket", (ws) => {
      rec.websockets++;
      rec.websocket_opened = true;
      ws.on("framereceived", () => rec.ws_frames_received++);
    });
    page.on("response", async (resp) => {
      if (resp.request().resourceType() === "document") {
        try { rec.session_id = sessionIdFromHtml(await resp.text()); } catch { /* cut short */ }
      }
    });
    await page.goto(o.url, { waitUntil: "commit", timeout: o.timeout });
    try {
      await page.getByText(o.text).first().waitFor({ timeout: o.timeout });
      rec.rendered = true;
      rec.title = await page.title();
    } catch (e) {
      rec.error = String(e.message || e).split("\n")[0];
    }
    if (o.hold > 0) await page.waitForTimeout(o.hold);
  } catch (e) {
    rec.error = String(e.message || e).split("\n")[0];
  } finally {
    if (ctx) await ctx.close().catch(() => {});
    if (!o.profile) rmSync(profile, { recursive: true, force: true });
  }
  rec.what = rec.rendered ? "rendered" : rec.websocket_opened ? "not_rendered" : "no_websocket";
  rec.ended_at = Date.now() / 1000;
  process.stdout.write(JSON.stringify(rec) + "\n");
}

main();
