// End-to-end driver of the portal: headless Chromium (the Debian package) through
// playwright-core. Run by tests/e2e/test_portal.py:
//   node driver.mjs <config.json>
// The config names the stack's base URL, the output folder for screenshots, and per
// scenario what to look for (found by the Python test from the demo data through the
// API). The last line printed is `RESULT <json>`: {scenario: {ok, checks, error}}.

import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const require = createRequire(join(config.nodeModules, "noop.js"));
const { chromium } = require("playwright-core");

const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const TIMEOUT = config.timeoutMs || 20000;
// axe-core (npm) ships its browser bundle; evaluated through the DevTools protocol, so
// the portal's Content Security Policy stays as strict as in production.
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const axeReport = [];

/** Serious and critical axe-core violations of the page as it is now. */
async function axeCheck(page, label) {
  const already = await page.evaluate("typeof window.axe === 'object'");
  if (!already) await page.evaluate(AXE);
  const result = await page.evaluate(
    "axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => "
    + "({ id: v.id, impact: v.impact, nodes: v.nodes.length, "
    + "where: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) })))");
  const bad = result.filter((v) => v.impact === "serious" || v.impact === "critical");
  axeReport.push({ page: label, violations: result });
  return bad;
}
mkdirSync(config.outDir, { recursive: true });

class Check extends Error {}
function expect(condition, message) {
  if (!condition) throw new Check(message);
}

async function withPage(name, fn) {
  const profile = mkdtempSync(join(tmpdir(), `portal-e2e-${name}-`));
  const checks = [];
  const problems = [];
  let shot = 0;
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: config.chromium || "/usr/bin/chromium",
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 900 },
    acceptDownloads: true,
    timeout: 60000,
  });
  const base = new URL(config.baseUrl);
  try {
    const page = context.pages()[0] || (await context.newPage());
    page.setDefaultTimeout(TIMEOUT);
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() === "error" && /Content Security Policy|Refused to/i.test(m.text())) {
        problems.push(`CSP: ${m.text()}`);
      }
    });
    // The portal talks to our API (and Entra in Azure mode) only.
    page.on("request", (r) => {
      const u = new URL(r.url());
      if (!["data:", "blob:"].includes(u.protocol) && u.host !== base.host) {
        problems.push(`request to another host: ${r.url()}`);
      }
    });
    if (config.tokens) {
      // The host has no /dev/token yet: answer it with tokens minted by the test.
      await page.route("**/dev/token", async (route) => {
        const body = JSON.parse(route.request().postData() || "{}");
        const token = config.tokens[`${body.level}:${body.user}`] || config.tokens[body.level];
        await route.fulfill({ status: token ? 200 : 400, contentType: "application/json",
          body: JSON.stringify(token ? { token } : { detail: "no token minted for this level" }) });
      });
    }
    const helpers = {
      page,
      check(message) {
        checks.push(message);
      },
      async shot(label) {
        shot += 1;
        const file = join(config.outDir, `${name}-${String(shot).padStart(2, "0")}-${label}.png`);
        await page.screenshot({ path: file, fullPage: true });
        for (const v of await axeCheck(page, `${name}-${label}`)) {
          problems.push(`axe ${v.impact} ${v.id} on ${label} (${v.nodes}): ${v.where.join(", ")}`);
        }
      },
    };
    await fn(helpers);
    expect(problems.length === 0, problems.join("; "));
    return { ok: true, checks };
  } catch (e) {
    try {
      const page = context.pages()[0];
      if (page) {
        await page.screenshot({ path: join(config.outDir, `${name}-failure.png`), fullPage: true });
      }
    } catch { /* best effort */ }
    return { ok: false, checks, error: e instanceof Check ? e.message : String(e.stack || e),
      problems };
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

async function signIn({ page, shot, check }, level, user, takeShot = false) {
  await page.goto(new URL(config.portalPath || "/portal/", config.baseUrl).href);
  await page.locator("#dev-signin").waitFor();
  expect(await page.locator("#dev-banner").isVisible(), "the development banner is not shown");
  await page.locator(`input[name="level"][value="${level}"]`).check();
  await page.locator("#dev-user").fill(user);
  if (config.tenantId) await page.locator("#dev-tenant").fill(config.tenantId);
  if (takeShot) await shot("signin");
  await page.getByRole("button", { name: "Sign in (development)" }).click();
  await page.locator(`body[data-level="${level}"]`).waitFor();
  check(`signed in as ${level} (${user}) through the development sign-in`);
}

async function openCall(h, { searchText, user, callId, from, to }) {
  const { page, shot, check } = h;
  await page.getByRole("link", { name: "Call Analytics", exact: true }).click();
  await page.locator("#user-search").fill(searchText);
  await page.locator("#user-search").press("Enter");
  await page.locator("#user-results").waitFor();
  await shot("user-search");
  await page.locator("#user-results tbody tr", { hasText: user }).locator("a.user-link").first()
    .click();
  await page.locator("#call-history").waitFor();
  if (from || to) {
    if (from) await page.locator("#calls-from").fill(from);
    if (to) await page.locator("#calls-to").fill(to);
    await page.getByRole("button", { name: "Show" }).click();
  }
  const row = callId
    ? page.locator(`#call-history tr[data-call-id="${callId}"]`)
    : page.locator('#call-history tr[data-rating="poor"]').first();
  await row.waitFor();
  const rating = await row.locator(".rating").first();
  const ratingText = (await rating.innerText()).trim();
  expect(ratingText.length > 0 && (await rating.locator("svg.icon").count()) === 1,
    "the call's rating is not shown by icon and text");
  check(`history lists the call with its rating as icon + text (“${ratingText}”)`);
  await shot("call-history");
  const id = await row.getAttribute("data-call-id");
  await row.locator("a.call-link").click();
  await page.getByRole("heading", { name: "Call detail" }).waitFor();
  await page.locator("article.session").first().waitFor();
  return id;
}

const scenarios = {
  async engineer(h) {
    const s = config.engineer;
    const { page, shot, check } = h;
    await signIn(h, "engineer", s.signInAs, true);
    const id = await openCall(h, s);
    check(`opened call ${id}`);
    expect((await page.locator("[data-rating='poor']").count()) > 0, "no poor rating on the call page");
    await shot("call-overview");
    const advanced = page.getByRole("tab", { name: "Advanced" });
    await advanced.click();
    const red = page.locator("#panel-advanced td.flag-red").first();
    await red.waitFor();
    const metric = await red.locator("xpath=..").getAttribute("data-metric");
    await red.focus();
    const tooltip = red.locator("[role=tooltip]");
    await tooltip.waitFor({ state: "visible" });
    const tip = await tooltip.innerText();
    expect(/Red when/.test(tip), `the red metric's tooltip has no threshold: ${tip}`);
    check(`Advanced tab: ${metric} is red, tooltip “${tip}”`);
    await shot("call-advanced-red-metric");
    // Keyboard: the tablist moves with the arrow keys.
    await advanced.focus();
    await page.keyboard.press("ArrowRight");
    expect(await page.getByRole("tab", { name: "Debug" }).getAttribute("aria-selected") === "true",
      "ArrowRight did not move to the Debug tab");
    check("tabs are keyboard navigable (ArrowRight -> Debug)");
    await shot("call-debug");
  },

  async specialist(h) {
    const s = config.specialist;
    const { page, shot, check } = h;
    await signIn(h, "specialist", s.signInAs);
    const id = await openCall(h, s);
    check(`opened call ${id}`);
    expect((await page.getByRole("tab").count()) === 0, "a specialist gets tabs");
    expect((await page.getByText("Advanced", { exact: true }).count()) === 0,
      "a specialist sees an Advanced tab");
    expect((await page.getByText("Debug", { exact: true }).count()) === 0,
      "a specialist sees Debug details");
    expect((await page.locator("td.metric").count()) === 0, "a specialist sees metrics");
    check("no Advanced tab, no Debug details, no metrics");
    const text = await page.locator("main").innerText();
    for (const hidden of s.hiddenNames || []) {
      expect(!text.toLowerCase().includes(hidden.toLowerCase()),
        `a specialist sees another participant: ${hidden}`);
    }
    expect(/Internal User|External User/.test(text), "other participants are not anonymised");
    check(`no other participant's name (${(s.hiddenNames || []).join(", ")}); shown as Internal/External User`);
    await shot("call-detail");
  },

  async admin(h) {
    const s = config.admin;
    const { page, shot, check } = h;
    await signIn(h, "admin", s.signInAs);
    const dashboard = async () => {
      await page.getByRole("link", { name: "Quality dashboard", exact: true }).click();
      if (s.from) {
        await page.locator("#q-from").fill(s.from);
        if (s.to) await page.locator("#q-to").fill(s.to);
        await page.getByRole("button", { name: "Apply" }).click();
      }
      await page.locator("#building-table").waitFor();
      await page.locator("#by-day svg.chart, #by-day .empty").first().waitFor();
      return page.locator("#building-table tbody tr[data-key]").evaluateAll(
        (rows) => rows.map((r) => r.dataset.key || "(no building)"));
    };
    const before = await dashboard();
    expect(await page.locator("#missing-subnets-table").count() === 1, "no missing-subnets list");
    check(`dashboard before upload: buildings [${before.join(", ")}]; chart and missing subnets shown`);
    await shot("quality-dashboard-before");

    const download = page.waitForEvent("download");
    await page.locator("#by-building button.csv").click();
    const file = await download;
    const csv = readFileSync(await file.path(), "utf8");
    expect(csv.trim().length > 0, "the CSV download is empty");
    check(`CSV download ${file.suggestedFilename()} (${csv.trim().split("\n").length} lines)`);

    await page.getByRole("link", { name: "Buildings", exact: true }).click();
    await page.locator("#building-upload").waitFor();
    await page.locator("#building-file").setInputFiles(s.badFile);
    await page.getByRole("button", { name: "Upload" }).click();
    await page.locator("#upload-errors").waitFor();
    const errors = await page.locator("#upload-errors tbody th").allInnerTexts();
    expect(errors.length > 0 && errors.every((e) => /row \d+/.test(e)),
      `validation errors do not name rows: ${errors.join(" | ")}`);
    check(`bad file rejected, errors by row: ${errors.join(" | ")}`);
    await shot("buildings-validation-errors");

    await page.locator("#building-file").setInputFiles(s.goodFile);
    await page.getByRole("button", { name: "Upload" }).click();
    await page.locator("#upload-result .success").waitFor();
    await page.locator("#buildings-summary").waitFor();
    check(`good file accepted: ${(await page.locator("#upload-result").innerText()).trim()}`);
    await shot("buildings-uploaded");

    const after = await dashboard();
    for (const b of s.expectBuildings) {
      expect(after.includes(b), `building ${b} not on the dashboard after upload: [${after}]`);
    }
    expect(JSON.stringify(after) !== JSON.stringify(before), "the dashboard did not regroup");
    check(`dashboard regrouped: [${after.join(", ")}]`);
    await shot("quality-dashboard-after");

    const drill = page.locator("#building-table tbody tr", { hasText: s.expectBuildings[0] })
      .locator("a.drill");
    await drill.click();
    await page.locator("#subnet-table").waitFor();
    const subnets = await page.locator("#subnet-table tbody tr[data-key]").count();
    check(`drill-down to ${subnets} subnet(s) of ${s.expectBuildings[0]}`);
    await shot("quality-subnets");
    if (subnets) {
      await page.locator("#subnet-table tbody a.drill").first().click();
      await page.locator("#poor-users").waitFor();
      check(`affected users: ${await page.locator("#poor-users tbody tr").count()} row(s)`);
      await shot("quality-affected-users");
    }
  },

  async adminOps(h) {
    const { page, shot, check } = h;
    await signIn(h, "admin", config.admin.signInAs);
    await page.getByRole("link", { name: "Settings", exact: true }).click();
    await page.locator("#settings-form").waitFor();
    await shot("settings");
    const calls = page.locator("#set-retention-callsDays");
    await calls.fill("99");
    await page.getByRole("button", { name: "Save settings" }).click();
    await page.locator("#set-retention-callsDays[aria-invalid=true]").waitFor();
    const message = await page.locator("#set-retention-callsDays-error").innerText();
    expect(/between 1 and 30/.test(message), `no field message for retention: ${message}`);
    expect(await page.evaluate(() => document.activeElement.id) === "set-retention-callsDays",
      "focus did not move to the refused field");
    check(`settings: 99 call days refused next to the field (“${message}”), focus on it`);
    await shot("settings-invalid");
    await calls.fill("30");
    await page.getByRole("button", { name: "Save settings" }).click();
    await page.locator("#settings-result .success").waitFor();
    check(`settings saved: ${(await page.locator("#settings-result").innerText()).trim()}`);
    await shot("settings-saved");

    await page.getByRole("link", { name: "Quarantine", exact: true }).click();
    await page.locator("#quarantine-result p").first().waitFor();
    const rows = await page.locator("#quarantine-table tbody tr").count();
    if (rows) {
      await page.locator("#quarantine-table button.view").first().click();
      await page.locator("#quarantine-detail pre.record").waitFor();
    }
    check(`quarantine page lists ${rows} record(s)${rows ? ", the first one opened" : ""}`);
    await shot("quarantine");

    await page.getByRole("link", { name: "Purge a user", exact: true }).click();
    await page.locator("#purge-form").waitFor();
    const who = config.adminOps.purgeUser;
    await page.locator("#purge-user").fill(who);
    await page.keyboard.press("Enter");
    const yes = page.locator("#purge-yes");
    await yes.waitFor();
    expect((await page.locator("#purge-confirm").innerText()).includes(who),
      "the confirmation does not name the user");
    expect(await page.evaluate(() => document.activeElement.id) === "purge-yes",
      "the confirmation button does not take the focus");
    check(`purge asks first, naming ${who}; the confirm button has the focus`);
    await shot("purge-confirm");
    await page.keyboard.press("Tab");
    await page.keyboard.press("Enter"); // Cancel, by keyboard
    expect(await yes.count() === 0, "Cancel did not close the confirmation");
    await page.getByRole("button", { name: "Purge…" }).click();
    await page.locator("#purge-yes").click();
    await page.locator("#purge-result .success").waitFor();
    const done = await page.locator("#purge-result").innerText();
    expect(!done.includes(who), "the purge result repeats the user's address");
    check(`purge done: ${done.trim().replace(/\s+/g, " ")}`);
    await shot("purge-done");
  },

  async engineerLimits(h) {
    const { page, check, shot } = h;
    await signIn(h, "engineer", config.engineer.signInAs);
    for (const name of ["Settings", "Purge a user", "Buildings", "Quarantine"]) {
      expect(await page.getByRole("link", { name, exact: true }).count() === 0,
        `an engineer is offered ${name}`);
    }
    await page.evaluate(() => { location.hash = "#/admin/purge"; });
    await page.getByRole("heading", { name: "Not available" }).waitFor();
    check("an engineer sees no admin pages in the menu, and #/admin/purge says Not available");
    await shot("engineer-no-admin");
  },
};

const results = {};
const browserCheck = config.scenarios || Object.keys(scenarios);
for (const name of browserCheck) {
  results[name] = await withPage(name, scenarios[name]);
  process.stderr.write(`${name}: ${results[name].ok ? "ok" : `FAILED ${results[name].error}`}\n`);
}
writeFileSync(join(config.outDir, "results.json"), JSON.stringify(results, null, 2));
writeFileSync(join(config.outDir, "axe.json"), JSON.stringify(axeReport, null, 2));
console.log(`RESULT ${JSON.stringify(results)}`);
