// Opens a self-contained HTML report in headless Chromium and checks it as a
// reader would see it.
//
// Usage: node check-report.mjs REPORT.html EXPECT.json [SCREENSHOT.png]
//
// EXPECT.json is either a list of plots, or an object
//   { "plots": [PLOT, ...], "texts": ["closed loop", ...] }
// where a PLOT is
//   { "id": "success", "series": ["http on", ...], "points_per_series": 6,
//     "marker": "circle" }                       (marker: optional, a CSS selector)
// and means: exactly one `figure#<id>` exists and holds one <svg> (that renders
// larger than 0x0); each series label is the whole text of some <text> element
// in that svg (its legend); and the svg holds exactly
// series.length * points_per_series elements matching `marker` (default
// `circle`: the report draws each measured point, and nothing else, as a circle).
// Each of `texts` must appear in the page's text (rendered text, svg text too).
//
// The page must be self-contained: every request other than the report file
// itself (http, https, ws, file, ...; data: and blob: URLs are inline) is
// blocked and recorded, and any is a failure, even one that would have failed
// anyway. So are resource-loading attributes in the DOM that point outside the
// page (a lazy image or a preconnect link never makes a request), console
// messages of type error, and uncaught page errors.
//
// Prints a JSON summary to stdout; on any failure, also one line per failure on
// stderr and exits 1 (2 for a usage error or if the browser cannot be started).
//
// playwright-core is looked up in NODE_PATH, then in the repository's
// .tools/node_modules (scripts/install-test-tools installs it there); ES modules
// ignore NODE_PATH, so it is required by path. The browser is Debian's Chromium:
// $CHROMIUM, or /usr/bin/chromium (Playwright cannot download its own here).
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const say = (msg) => process.stderr.write(`check-report: ${msg}\n`);

function usage(msg) {
  say(msg);
  say("usage: node check-report.mjs REPORT.html EXPECT.json [SCREENSHOT.png]");
  process.exit(2);
}

const [reportArg, expectArg, shotArg] = process.argv.slice(2);
if (!reportArg || !expectArg || process.argv.length > 5) usage("wrong arguments");
if (!existsSync(reportArg)) usage(`no report at ${reportArg}`);
if (!existsSync(expectArg)) usage(`no expectations at ${expectArg}`);

let expect;
try {
  expect = JSON.parse(readFileSync(expectArg, "utf8"));
} catch (e) {
  usage(`${expectArg}: ${e.message}`);
}
const plots = Array.isArray(expect) ? expect : (expect.plots ?? []);
const texts = Array.isArray(expect) ? [] : (expect.texts ?? []);
for (const p of plots) {
  if (typeof p.id !== "string" || !Array.isArray(p.series) || !Number.isInteger(p.points_per_series)) {
    usage(`${expectArg}: a plot needs "id" (string), "series" (list) and "points_per_series" (integer): ${JSON.stringify(p)}`);
  }
}
if (!Array.isArray(texts) || texts.some((t) => typeof t !== "string")) {
  usage(`${expectArg}: "texts" must be a list of strings`);
}

function loadPlaywright() {
  const roots = [
    ...(process.env.NODE_PATH || "").split(":").filter(Boolean),
    resolve(here, "../../../.tools/node_modules"),
  ];
  const dir = roots.map((r) => join(r, "playwright-core")).find((d) => existsSync(join(d, "package.json")));
  if (!dir) {
    say(`playwright-core is not installed (looked in ${roots.join(", ")}): run scripts/install-test-tools`);
    process.exit(2);
  }
  const require = createRequire(import.meta.url);
  return { playwright: require(dir), version: require(join(dir, "package.json")).version };
}

const { playwright, version: playwrightVersion } = loadPlaywright();
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
if (!existsSync(executablePath)) {
  say(`no Chromium at ${executablePath}: run scripts/install-test-tools (it installs Debian's chromium)`);
  process.exit(2);
}

const reportPath = realpathSync(reportArg);
const reportUrl = pathToFileURL(reportPath).href;
const inline = (url) => /^(data|blob|about):/i.test(url);
const isReport = (url) => url.split("#")[0] === reportUrl;

const failures = [];
const requests = []; // every request other than the report, blocked
const consoleErrors = [];
const pageErrors = [];
const fail = (msg) => failures.push(msg);

// Nothing may hang a test run: the whole check has a deadline.
const deadline = setTimeout(() => {
  say("FAIL: gave up after 120 s");
  process.exit(1);
}, 120_000);
deadline.unref();

let browser;
try {
  browser = await playwright.chromium.launch({
    executablePath,
    headless: true,
    timeout: 60_000,
    // As root Chromium needs --no-sandbox. The rest keep it from reaching out
    // on its own (this machine's network is closed; refusals would be noise),
    // and the resolver rule is a last guard should a request slip past routing.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--host-resolver-rules=MAP * ~NOTFOUND",
    ],
  });
} catch (e) {
  say(`cannot start Chromium (${executablePath}) with playwright-core ${playwrightVersion}: ${e.message}`);
  process.exit(2);
}

const summary = {
  ok: false,
  report: reportPath,
  chromium: browser.version(),
  playwright: playwrightVersion,
  requests,
  console_errors: consoleErrors,
  page_errors: pageErrors,
  external_references: [],
  plots: [],
  texts: [],
  screenshot: null,
  failures,
};

try {
  const context = await browser.newContext({
    serviceWorkers: "block",
    viewport: { width: 1280, height: 900 },
  });
  const record = (kind, url) => {
    if (inline(url) || isReport(url)) return;
    if (!requests.some((r) => r.url === url && r.kind === kind)) requests.push({ kind, url });
  };
  // Routing sees http(s) (and, in this Chromium, file) requests before they go out.
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (isReport(url)) return route.continue();
    record(route.request().resourceType(), url);
    return route.abort("blockedbyclient");
  });
  if (typeof context.routeWebSocket === "function") {
    await context.routeWebSocket(/.*/, (ws) => {
      record("websocket", ws.url());
      ws.close();
    });
  }
  const page = await context.newPage();
  // Whatever routing might not see: every request the page makes is recorded.
  page.on("request", (req) => record(req.resourceType(), req.url()));
  page.on("websocket", (ws) => record("websocket", ws.url()));
  page.on("popup", (p) => record("popup", p.url()));
  page.on("console", (msg) => {
    if (msg.type() === "error") {
      const loc = msg.location();
      consoleErrors.push(loc?.url ? `${msg.text()} (${loc.url}:${loc.lineNumber})` : msg.text());
    }
  });
  page.on("pageerror", (err) => pageErrors.push(String(err?.stack || err)));

  await page.goto(reportUrl, { waitUntil: "load", timeout: 30_000 });
  // A moment for anything the page starts after load (timers, fetches).
  await page.waitForTimeout(300);

  const found = await page.evaluate(
    ({ plots, texts }) => {
      const norm = (s) => (s || "").replace(/\s+/g, " ").trim();
      // Attributes that make the browser load something.
      const refs = [];
      const attrs = ["src", "srcset", "poster", "data", "href", "xlink:href", "background", "action", "formaction"];
      for (const el of document.querySelectorAll("*")) {
        const tag = el.tagName.toLowerCase();
        for (const a of attrs) {
          const v = el.getAttribute(a);
          if (!v) continue;
          // A link for the reader to follow loads nothing by itself.
          if (a === "href" && (tag === "a" || tag === "area")) continue;
          if (a === "action" || a === "formaction") continue;
          for (const part of a === "srcset" ? v.split(",").map((s) => s.trim().split(/\s+/)[0]) : [v.trim()]) {
            if (!part || part.startsWith("#") || /^(data|blob|javascript|about):/i.test(part)) continue;
            refs.push(`<${tag} ${a}="${part}">`);
          }
        }
      }
      const css = [...document.querySelectorAll("style")].map((s) => s.textContent).join("\n") +
        [...document.querySelectorAll("[style]")].map((e) => e.getAttribute("style")).join("\n");
      for (const m of css.matchAll(/url\(\s*['"]?([^'")]+)['"]?\s*\)|@import\s+['"]([^'"]+)['"]/gi)) {
        const u = (m[1] || m[2]).trim();
        if (!u.startsWith("#") && !/^(data|blob):/i.test(u)) refs.push(`css ${u}`);
      }

      const svgText = [...document.querySelectorAll("svg text")].map((t) => t.textContent).join(" ");
      const pageText = norm(`${document.body?.innerText ?? ""} ${svgText}`);

      const plotResults = plots.map((p) => {
        const marker = p.marker || "circle";
        const r = { id: p.id, figure: false, svg: false, width: 0, height: 0, labels: [], missing_series: [], marker, markers: null, expected_markers: p.series.length * p.points_per_series, problems: [] };
        const figs = [...document.querySelectorAll("figure")].filter((f) => f.id === p.id);
        if (figs.length === 0) {
          const ids = [...document.querySelectorAll("figure")].map((f) => f.id || "(no id)");
          r.problems.push(`no figure#${p.id} (figures on the page: ${ids.join(", ") || "none"})`);
          return r;
        }
        r.figure = true;
        if (figs.length > 1) r.problems.push(`${figs.length} figures have id "${p.id}"`);
        const svgs = [...figs[0].querySelectorAll("svg")].filter((s) => !s.parentElement.closest("svg"));
        if (svgs.length === 0) {
          r.problems.push(`figure#${p.id} holds no <svg>`);
          return r;
        }
        if (svgs.length > 1) r.problems.push(`figure#${p.id} holds ${svgs.length} <svg> plots, expected one`);
        const svg = svgs[0];
        r.svg = true;
        const box = svg.getBoundingClientRect();
        r.width = Math.round(box.width);
        r.height = Math.round(box.height);
        if (!(box.width > 0 && box.height > 0)) r.problems.push(`figure#${p.id}: its svg renders at ${r.width}x${r.height}`);
        r.labels = [...new Set([...svg.querySelectorAll("text")].map((t) => norm(t.textContent)).filter(Boolean))];
        for (const s of p.series) {
          if (!r.labels.includes(norm(s))) {
            r.missing_series.push(s);
            r.problems.push(`figure#${p.id}: no series label "${s}" in its svg (its texts: ${r.labels.map((l) => JSON.stringify(l)).join(", ") || "none"})`);
          }
        }
        try {
          r.markers = svg.querySelectorAll(marker).length;
        } catch (e) {
          r.problems.push(`figure#${p.id}: bad marker selector "${marker}": ${e.message}`);
          return r;
        }
        if (r.markers !== r.expected_markers) {
          r.problems.push(`figure#${p.id}: ${r.markers} point markers (${marker}) in its svg, expected ${r.expected_markers} (${p.series.length} series x ${p.points_per_series} points)`);
        }
        return r;
      });
      const textResults = texts.map((t) => ({ text: t, found: pageText.includes(norm(t)) }));
      return { refs, plotResults, textResults, title: document.title };
    },
    { plots, texts },
  );

  summary.title = found.title;
  summary.external_references = found.refs;
  summary.plots = found.plotResults;
  summary.texts = found.textResults;

  if (shotArg) {
    await page.screenshot({ path: shotArg, fullPage: true });
    summary.screenshot = resolve(shotArg);
  }
  await context.close();
} catch (e) {
  fail(`browser: ${e.message}`);
} finally {
  await browser.close();
}

for (const r of requests) fail(`network request (blocked): ${r.kind} ${r.url}`);
for (const r of summary.external_references) fail(`external reference in the page: ${r}`);
for (const m of consoleErrors) fail(`console error: ${m}`);
for (const m of pageErrors) fail(`page error: ${m}`);
for (const p of summary.plots) for (const m of p.problems) fail(m);
for (const t of summary.texts) if (!t.found) fail(`text not in the page: "${t.text}"`);

summary.ok = failures.length === 0;
process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
if (!summary.ok) {
  for (const f of failures) say(`FAIL: ${f}`);
  process.exit(1);
}
say(`ok: ${plots.length} plots, ${texts.length} texts, no request, no console error (Chromium ${summary.chromium}, playwright-core ${playwrightVersion})`);
