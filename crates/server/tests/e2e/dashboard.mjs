// The dashboard's acceptance scenario in a real browser: Debian's chromium driven by
// playwright-core (never a downloaded browser). Run by crates/cli/tests/dashboard_e2e.rs against
// a real `portcullis serve` it seeded with a Log4Shell denial; reads:
//   PORTCULLIS_URL        the server (http://127.0.0.1:PORT)
//   PORTCULLIS_TOKEN      an approver's API token
//   PORTCULLIS_DECISION   the id of the denied decision
//   PORTCULLIS_DIFF_DECISION  a decision compared with a running build, with a recorded canary
//   E2E_CANARY_PAGE       the page `portcullis verify canary --format html` wrote
//   E2E_SCREENSHOTS       where to keep the screenshots
//   CHROMIUM              the browser (default /usr/bin/chromium)
import { chromium } from "playwright-core";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const need = (name) => {
  const v = process.env[name];
  if (!v) {
    console.error(`e2e: ${name} is not set`);
    process.exit(2);
  }
  return v;
};
const base = need("PORTCULLIS_URL");
const token = need("PORTCULLIS_TOKEN");
const denied = need("PORTCULLIS_DECISION");
const shots = need("E2E_SCREENSHOTS");
const compared = need("PORTCULLIS_DIFF_DECISION");
const canaryPage = need("E2E_CANARY_PAGE");
mkdirSync(shots, { recursive: true });

const fail = (msg) => {
  throw new Error(msg);
};
let n = 0;
const shot = async (page, name) => {
  n += 1;
  const path = join(shots, `${String(n).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  console.log(`e2e: screenshot ${path}`);
};

const args = [];
if (typeof process.getuid === "function" && process.getuid() === 0) args.push("--no-sandbox");
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args,
});
try {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(20000);

  // Log in: the overview sends us to the login form first.
  await page.goto(`${base}/ui`);
  if (!page.url().includes("/ui/login")) fail(`expected the login form, got ${page.url()}`);
  await page.fill("#token", "pcl_wrong");
  await page.click("button[type=submit]");
  if ((await page.textContent("#error")) === null) fail("a wrong token shows no error");
  await page.fill("#token", token);
  await page.click("button[type=submit]");
  await page.waitForURL(`${base}/ui`);
  const role = await page.textContent("#role");
  if (role !== "approver") fail(`logged in with role ${role}, expected approver`);

  // The overview shows the denied Log4Shell decision.
  const link = page.locator(`a[href="/ui/decisions/${denied}"]`).first();
  await link.waitFor();
  const row = page.locator("tr", { has: link }).first();
  const badge = (await row.locator(".badge").first().textContent()).trim();
  if (badge !== "deny") fail(`the overview shows ${denied} as ${badge}, not deny`);
  const overview = await page.textContent("main");
  if (!overview.includes("GHSA-jfh8-c2jp-5v3q")) fail("the overview does not list the Log4Shell advisory");
  await shot(page, "overview-denied");

  // Its detail: the violations, with evidence and remediation.
  await link.click();
  await page.waitForURL(`${base}/ui/decisions/${denied}`);
  if ((await page.textContent("#verdict")).trim() !== "deny") fail("the detail does not say deny");
  const detail = await page.textContent("main");
  for (const want of ["PCL-VULN-001", "GHSA-jfh8-c2jp-5v3q", "Remediation", "sha256:"]) {
    if (!detail.includes(want)) fail(`the decision detail lacks ${want}`);
  }
  // Nothing ran before it: said once, in words, with no raw key paths.
  const noBaseline = (await page.textContent("#diff")).replace(/\s+/g, " ").trim();
  const sentence = "No baseline: nothing of registry.example.com/shop/checkout-api ran in staging before this decision, so there is nothing to compare.";
  if (noBaseline !== sentence) fail(`the diff of a first decision reads ${JSON.stringify(noBaseline)}`);
  for (const raw of ["baseline.artifact", "changes: null", ": null"]) {
    if (detail.includes(raw)) fail(`the decision page shows ${raw}`);
  }
  await shot(page, "decision-denied");

  // Grant an exception for each violation, as the approver; each grant re-gates.
  let rounds = 0;
  while ((await page.textContent("#verdict")).trim() === "deny") {
    rounds += 1;
    if (rounds > 10) fail("still denied after 10 exceptions");
    const before = (await page.textContent("#decision-id")).trim();
    const first = page.locator(".violation details").first();
    await first.locator("summary").click();
    await first.locator("textarea[name=reason]").fill(`e2e: accepted risk, round ${rounds}`);
    await Promise.all([
      page.waitForURL(/regated_from=/),
      first.locator("button[type=submit]").click(),
    ]);
    if (!(await page.textContent("#regated")).includes(before)) fail(`the re-gated decision does not name ${before}, the one it re-gated`);
    if ((await page.textContent("#decision-id")).trim() === before) fail("re-gating made no new decision");
    await shot(page, `regated-${rounds}`);
  }
  if ((await page.textContent("#verdict")).trim() !== "allow") fail("the re-gated decision is not allowed");
  const excepted = await page.locator("#excepted .exception-id").allTextContents();
  if (excepted.length < rounds) fail(`expected ${rounds} exceptions listed, saw ${excepted.length}`);
  console.log(`e2e: allowed after ${rounds} exception(s): ${excepted.join(", ")}`);
  await shot(page, "decision-allowed");

  // The exceptions page lists them.
  await page.goto(`${base}/ui/exceptions`);
  for (const id of excepted) {
    if (!(await page.textContent("#exceptions")).includes(id)) fail(`exception ${id} is not listed`);
  }
  await shot(page, "exceptions");

  // Export the report as PDF.
  await page.goto(`${base}/ui`);
  const pdfLink = page.locator("a#export-pdf");
  const [download] = await Promise.all([page.waitForEvent("download"), pdfLink.click()]);
  const path = join(shots, "report.pdf");
  await download.saveAs(path);
  const pdf = readFileSync(path);
  const head = pdf.subarray(0, 5).toString("latin1");
  if (head !== "%PDF-") fail(`the exported report is not a PDF (starts with ${JSON.stringify(head)})`);
  if (pdf.length < 1000) fail(`the exported PDF is only ${pdf.length} bytes`);
  console.log(`e2e: report exported as PDF (${pdf.length} bytes): ${path}`);
  // A build compared with the one running: the diff in words, and the recorded canary drawn.
  await page.goto(`${base}/ui/decisions/${compared}`);
  const diffText = (await page.textContent("#diff")).replace(/\s+/g, " ");
  for (const want of [
    "Compared with defectdojo/defectdojo-django@sha256:53302007b6bc",
    "2 downgraded",
    "Components downgraded (2)",
    "curl 7.64.0-4+deb10u2 → 7.64.0-4+deb10u1",
    "New findings (7)",
    "Fixed findings (5)",
    "Pillow 8.1.2 → 8.2.0",
    "PyNaCl 1.4.0 (Apache License 2.0)",
  ]) {
    if (!diffText.includes(want)) fail(`the diff lacks ${JSON.stringify(want)}: ${diffText}`);
  }
  if (diffText.includes("null")) fail(`the diff shows null: ${diffText}`);
  const diffShot = join(shots, "decision-diff.png");
  await page.locator("#diff").screenshot({ path: diffShot });
  console.log(`e2e: screenshot ${diffShot}`);
  const charts = page.locator("#canary figure.pcv-metric");
  const metrics = await charts.evaluateAll((figs) => figs.map((f) => f.dataset.metric));
  if (metrics.join(",") !== "error_rate,latency_p99,throughput") fail(`canary charts of ${metrics}`);
  for (const m of metrics) {
    const fig = page.locator(`#canary figure[data-metric="${m}"]`);
    for (const side of ["baseline", "canary"]) {
      const line = fig.locator(`polyline.pcv-${side}`);
      if ((await line.count()) !== 1) fail(`the ${m} chart has no ${side} line`);
      const box = await line.boundingBox();
      if (!box || box.width < 200) fail(`the ${m} ${side} line is not drawn across the chart (${JSON.stringify(box)})`);
    }
  }
  if ((await page.locator("#canary [data-verdict=fail]").count()) !== 1) fail("the canary verdict is not shown as fail");
  if ((await page.locator("#canary .pcv-clusters .pcv-sample").count()) < 1) fail("the log clusters show no sample");
  const canaryShot = join(shots, "decision-canary.png");
  await page.locator("#canary").screenshot({ path: canaryShot });
  console.log(`e2e: screenshot ${canaryShot}`);
  await shot(page, "decision-compared");

  // The same analysis as the standalone page `verify canary --format html` wrote.
  await page.goto(`file://${canaryPage}`);
  if ((await page.locator("figure.pcv-metric svg polyline").count()) !== 6) fail("the standalone canary page lacks its charts");
  await shot(page, "verify-canary-html");

  console.log("e2e: PASSED");
} finally {
  await browser.close();
}
