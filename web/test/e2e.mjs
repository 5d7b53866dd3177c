// The playground's end-to-end test: serves web/dist, drives headless
// Chromium (playwright-core, the system's chromium), types formulas, steps
// the backward pass and compares the gradients the page shows with the
// native build's (web/dist/native/pg_cli: the same C, compiled by the host
// compiler).  Writes screenshots; exits non-zero on the first failure.
//
//   node e2e.mjs [--shots DIR]      (scripts/browser_test.sh builds first)
import { chromium } from "playwright-core";
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.resolve(here, "../dist");
const cli = path.join(dist, "native/pg_cli");
const shotsArg = process.argv.indexOf("--shots");
const shots = shotsArg > 0 ? path.resolve(process.argv[shotsArg + 1]) : path.join(dist, "shots");
mkdirSync(shots, { recursive: true });

let failures = 0;
function check(ok, what) {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures++;
}

// The two builds run the same C, but the wasm build's libm is musl's and
// the native one glibc's: exp and log may differ in the last bit, so the
// gradients agree to rounding, not bit for bit.
const REL = 1e-12;
function close(a, b) {
  return Math.abs(a - b) <= REL * Math.max(Math.abs(a), Math.abs(b), 1e-300);
}

// pg_cli's gradients: {name: [values]}.
function nativeGrads(formula, vars) {
  let out;
  try {
    out = execFileSync(cli, [formula, vars], { encoding: "utf8" });
  } catch (e) {
    throw new Error(`pg_cli failed on ${formula}: ${e.stdout || e.message}`);
  }
  const backward = JSON.parse(out.split("\n")[1]);
  const grads = {};
  for (const v of backward.vars) grads[v.name] = v.grad ? v.grad.values : null;
  return grads;
}

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

async function startServer() {
  const port = await freePort();
  const server = spawn("python3", ["-m", "http.server", String(port), "--bind", "127.0.0.1",
    "--directory", dist], { stdio: "ignore" });
  const url = `http://127.0.0.1:${port}/index.html`;
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(url)).ok) return { server, url };
    } catch (e) { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  server.kill();
  throw new Error("the http server did not start");
}

async function pageGrads(page) {
  return page.$$eval("#grads tbody tr", (rows) => Object.fromEntries(rows.map((r) =>
    [r.dataset.var, JSON.parse(r.querySelector("td.grad").dataset.values)])));
}

function compareGrads(shown, expected, what) {
  for (const [name, want] of Object.entries(expected)) {
    const got = shown[name];
    const ok = Array.isArray(got) && Array.isArray(want) && got.length === want.length &&
      got.every((g, i) => close(g, want[i]));
    check(ok, `${what}: d/d${name} shown ${JSON.stringify(got)} = native ${JSON.stringify(want)}`);
  }
}

async function typeFormula(page, formula, vars) {
  await page.fill("#formula", formula);
  await page.fill("#vars", vars);
  await page.click("#evaluate");
}

async function run() {
  const { server, url } = await startServer();
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--headless", "--disable-dev-shm-usage"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(url);
    await page.waitForSelector("body[data-ready='1']", { timeout: 20000 });
    check(true, "the page loaded tapegrad.wasm");

    // 1. The teacher's first formula, stepped one node at a time.
    const f1 = "sigmoid(w*x + b)", v1 = "w = 0.5; x = 2; b = -1";
    await typeFormula(page, f1, v1);
    check(!(await page.isVisible("#error")), `${f1} evaluates`);
    let rules = 0, total = 0;
    for (let i = 0; i < 50; i++) {
      await page.click("#step");
      const progress = await page.textContent("#progress");
      const m = progress.match(/step (\d+) of (\d+)/);
      if (!m) break;
      if ((await page.textContent("#explain")).includes("rule:")) rules++;
      if (i === 1) await page.screenshot({ path: path.join(shots, "playground-step.png") });
      total = Number(m[2]);
      if (m[1] === m[2]) break;
    }
    check(rules === 3, `Step walked the 3 nodes of ${f1}, each with its rule (saw ${rules})`);
    check(total === 5, `begin + 3 nodes + end = 5 steps (saw ${total})`);
    compareGrads(await pageGrads(page), nativeGrads(f1, v1), f1);
    const agree = await page.$$eval("#grads tbody tr.agrees", (r) => r.length);
    check(agree === 3, "the stepped gradients equal tg_backward's .grad (3 rows marked)");

    // 2. Vectors and matrices, run to the end; the gradient check.
    const f2 = "z = W @ x + b\nsum(tanh(z))", v2 = "W = [[0.1, -0.2], [0.3, 0.4]]; x = [1, 2]; b = [0.1, -0.2]";
    await typeFormula(page, f2, v2);
    await page.click("#run");
    compareGrads(await pageGrads(page), nativeGrads(f2, v2), "sum(tanh(W @ x + b))");
    await page.click("#gradcheck");
    const verdict = await page.textContent("#verdict");
    check(verdict.includes("every element agrees"), `gradient check: ${verdict.trim()}`);
    await page.screenshot({ path: path.join(shots, "playground-gradcheck.png") });

    // 3. A bad formula: its position and reason, and the page still works.
    await typeFormula(page, "sigmoid(w*x +", v1);
    const err = (await page.textContent("#error")) || "";
    check(await page.isVisible("#error") && err.includes("column 14") && err.includes("value"),
      `a bad formula is reported: ${JSON.stringify(err.split("\n")[0])}`);
    await page.screenshot({ path: path.join(shots, "playground-error.png") });
    await typeFormula(page, f1, v1);
    check(!(await page.isVisible("#error")), "the page recovers after the error");

    // 4. Seed 003's worked example: the 0.131 erratum and its correction.
    await page.selectOption("#examples", "seed003");
    await page.click("#run");
    const erratum = (await page.textContent("#erratum")) || "";
    check(erratum.includes("0.131") && erratum.includes("0.13319"),
      `seed 003: ${JSON.stringify(erratum.trim())}`);
    await page.screenshot({ path: path.join(shots, "playground-seed003.png") });
    // The same erratum in the seed table (derivations' rows, computed in the page).
    const row = page.locator("#seedtable tr.erratum", { hasText: "= 0.131" }).first();
    const rowText = (await row.count()) ? await row.textContent() : "";
    check(rowText.includes("0.131") && rowText.includes("0.13319"),
      `seed 003's table marks the 0.131 row as an erratum with its correction: ${JSON.stringify(rowText.slice(0, 160))}`);
    if (rowText) {
      await row.scrollIntoViewIfNeeded();
      await page.screenshot({ path: path.join(shots, "playground-seed-table.png") });
    }

    check(errors.length === 0, `no JavaScript errors ${errors.join("; ")}`);
    for (const f of ["playground-step.png", "playground-seed003.png", "playground-seed-table.png"]) {
      const p = path.join(shots, f);
      check(existsSync(p) && statSync(p).size > 5000, `screenshot ${p}`);
    }
  } finally {
    await browser.close();
    server.kill();
  }
}

run().then(() => {
  console.log(failures ? `${failures} check(s) failed` : "browser test passed");
  process.exit(failures ? 1 : 0);
}, (e) => {
  console.error("browser test failed:", e.message);
  process.exit(1);
});
