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
const keyboardReport = [];

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

const walked = new Set(); // control sets Tab has reached whole already

/** Keyboard alone: from the top of the page, Tab reaches every visible control of the
 * page (links, buttons, inputs, selects, focusable regions), in some order. Returns the
 * controls Tab never reached (a description of each). A set of controls walked whole on
 * an earlier screenshot (the same page after a save) is not walked again. */
async function keyboardCheck(page) {
  const wantedAndSignature = await page.evaluate(() => {
    const sel = "a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]),"
      + " textarea:not([disabled]), [tabindex='0']";
    const all = [...document.querySelectorAll(sel)].filter((el) => {
      const box = el.getBoundingClientRect();
      const style = getComputedStyle(el);
      const closed = el.closest("details:not([open])");
      return box.width > 0 && box.height > 0 && style.visibility !== "hidden"
        && !el.closest("[hidden], [inert]") && (!closed || el.closest("summary"));
    });
    // One Tab stop per radio group and per tablist (arrow keys move within them, the
    // ARIA pattern): the group is the control Tab must reach.
    const groupOf = (el) => (el.type === "radio" ? `radio:${el.name}`
      : el.getAttribute("role") === "tab" ? `tabs:${[...document.querySelectorAll("[role=tablist]")]
        .indexOf(el.closest("[role=tablist]"))}` : null);
    const keys = new Map();
    all.forEach((el, i) => {
      const group = groupOf(el);
      if (group && !keys.has(group)) keys.set(group, String(i));
      el.dataset.kbd = group ? keys.get(group) : String(i);
    });
    // what the walk must reach, by description: the same set on a later screenshot
    // (the page after a save) has been walked already
    const signature = [...new Set(all.map((el) => el.dataset.kbd))].map((k) => {
      const el = all.find((o) => o.dataset.kbd === k);
      return `${el.tagName}#${el.id}:${(el.innerText || el.value || "").trim().slice(0, 30)}`;
    }).join("|");
    // the focus is recorded by the page itself, so a Tab press costs one round trip
    window.__kbdSeen = new Set();
    window.__kbdListener = (e) => {
      const at = e.target?.dataset?.kbd;
      if (at !== undefined) window.__kbdSeen.add(at);
    };
    document.addEventListener("focusin", window.__kbdListener, true);
    return { count: new Set(all.map((el) => el.dataset.kbd)).size, signature };
  });
  const { count: wanted, signature } = wantedAndSignature;
  if (walked.has(signature)) {
    await page.evaluate(() => {
      document.removeEventListener("focusin", window.__kbdListener, true);
      document.querySelectorAll("[data-kbd]").forEach((el) => delete el.dataset.kbd);
    });
    return { wanted, missed: [], already: true };
  }
  const before = { x: await page.evaluate(() => window.scrollX), y: await page.evaluate(() => window.scrollY) };
  await page.evaluate(() => {
    const active = document.activeElement;
    if (active && active !== document.body) active.dataset.kbdActive = "1";
    active?.blur();
  });
  let seen = [];
  for (let i = 0; i < wanted * 4 + 20 && seen.length < wanted; i += 1) {
    await page.keyboard.press("Tab");
    if (i + 1 >= wanted && (i + 1 - wanted) % 16 === 0) {
      seen = await page.evaluate(() => [...window.__kbdSeen]);
    }
  }
  seen = await page.evaluate(() => {
    document.removeEventListener("focusin", window.__kbdListener, true);
    return [...window.__kbdSeen];
  });
  const missed = await page.evaluate((got) => [...document.querySelectorAll("[data-kbd]")]
    .filter((el, i, all) => !got.includes(el.dataset.kbd)
      && all.findIndex((o) => o.dataset.kbd === el.dataset.kbd) === i)
    .map((el) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ""} “${(el.innerText || el.value || "").trim().slice(0, 30)}”`),
  seen);
  if (!missed.length) walked.add(signature);
  await page.evaluate(() => {
    document.querySelectorAll("[data-kbd]").forEach((el) => delete el.dataset.kbd);
    document.activeElement?.blur();
    const was = document.querySelector("[data-kbd-active]");
    if (was) { // the journey goes on from where its focus was
      delete was.dataset.kbdActive;
      was.focus({ preventScroll: true });
    }
  });
  await page.evaluate(({ x, y }) => window.scrollTo(x, y), before);
  return { wanted, missed };
}

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
        const { wanted, missed, already } = await keyboardCheck(page);
        keyboardReport.push({ page: `${name}-${label}`, controls: wanted, missed, walkedBefore: !!already });
        if (missed.length) problems.push(`keyboard: Tab never reaches ${missed.join(", ")} on ${label}`);
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
  if (callId) {
    // Calls other tests stored for the same user since the call was chosen can push it
    // past the first page: follow "Load more" as a helpdesk engineer would.
    const rows = page.locator("#call-history tbody tr");
    const more = page.getByRole("button", { name: "Load more" });
    await rows.first().waitFor();
    for (let pages = 0; pages < 20 && !(await row.count()) && (await more.isVisible()); pages++) {
      const shown = await rows.count();
      await more.click();
      await page.waitForFunction(
        (n) => document.querySelectorAll("#call-history tbody tr").length > n, shown);
    }
  }
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

/** Presses Tab until the focus is on `selector` (at most `max` presses): the control is
 * reachable by keyboard alone. Returns how many presses it took. */
async function tabTo(page, selector, max = 80) {
  for (let i = 1; i <= max; i += 1) {
    await page.keyboard.press("Tab");
    if (await page.evaluate((sel) => {
      const el = document.activeElement;
      return Boolean(el && el.matches(sel));
    }, selector)) return i;
  }
  throw new Check(`${selector} is not reachable with Tab (${max} presses)`);
}

/** Starts a keyboard walk from the top of the page (the skip link comes first). */
async function fromTop(page) {
  await page.evaluate(() => {
    document.activeElement?.blur();
    window.scrollTo(0, 0);
  });
  await page.locator("body").focus();
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
    // An endpoint's place is text in every panel, never the raw JSON of the place.
    const all = await page.locator("main").evaluate((m) => m.textContent);
    expect(!/\{"(building|networkName|insideCorp)"/.test(all), "an endpoint's place is shown as raw JSON");
    const places = await page.locator("main").evaluate((m) => [...m.querySelectorAll("dt")]
      .filter((dt) => dt.textContent.trim() === "Building / network")
      .map((dt) => dt.nextElementSibling?.textContent.trim()));
    check(`Building / network as text, no raw JSON: ${[...new Set(places)].join(" | ") || "(no endpoint place)"}`);
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
    if (s.validFrom) await page.locator("#valid-from").fill(s.validFrom);
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
    // The first building holds the busiest subnet of the period (the test's building
    // file), so a drill-down that lists none is a broken page, not an empty building.
    expect(subnets > 0, `drill-down to ${s.expectBuildings[0]} lists no subnet`);
    check(`drill-down to ${subnets} subnet(s) of ${s.expectBuildings[0]}`);
    await shot("quality-subnets");
    await page.locator("#subnet-table tbody a.drill").first().click();
    await page.locator("#poor-users").waitFor();
    check(`affected users: ${await page.locator("#poor-users tbody tr").count()} row(s)`);
    await shot("quality-affected-users");
  },

  async adminOps(h) {
    const { page, shot, check } = h;
    await signIn(h, "admin", config.admin.signInAs);
    await page.getByRole("link", { name: "Settings", exact: true }).click();
    await page.locator("#settings-form").waitFor();
    await shot("settings");
    // Keyboard alone: Tab to the field, type, Tab to Save, Enter; the refused field
    // takes the focus, is corrected there and saved the same way.
    await fromTop(page);
    await tabTo(page, "#set-retention-callsDays");
    await page.keyboard.press("Control+A");
    await page.keyboard.type("99");
    await tabTo(page, "#settings-form button[type=submit]");
    await page.keyboard.press("Enter");
    await page.locator("#set-retention-callsDays[aria-invalid=true]").waitFor();
    const message = await page.locator("#set-retention-callsDays-error").innerText();
    expect(/between 1 and 30/.test(message), `no field message for retention: ${message}`);
    expect(await page.evaluate(() => document.activeElement.id) === "set-retention-callsDays",
      "focus did not move to the refused field");
    check(`settings: 99 call days refused next to the field (“${message}”), focus on it`);
    await shot("settings-invalid");
    expect(await page.evaluate(() => document.activeElement.id) === "set-retention-callsDays",
      "the focus is not back on the refused field after the screenshot");
    await page.keyboard.press("Control+A");
    await page.keyboard.type("30");
    await tabTo(page, "#settings-form button[type=submit]");
    await page.keyboard.press("Enter");
    await page.locator("#settings-result .success").waitFor();
    expect(await page.locator("#set-retention-callsDays").inputValue() === "30",
      "the corrected value is not in the field");
    check(`settings saved by keyboard alone: ${(await page.locator("#settings-result").innerText()).trim()}`);
    await shot("settings-saved");

    await page.getByRole("link", { name: "Quarantine", exact: true }).click();
    await page.locator("#quarantine-result p").first().waitFor();
    const rows = await page.locator("#quarantine-table tbody tr").count();
    if (rows) {
      await page.locator("#quarantine-table button.view").first().click();
      await page.locator("#quarantine-detail pre.record").waitFor();
    }
    check(`quarantine page lists ${rows} record(s)${rows ? ", the first one opened" : ""}`);
    expect(rows <= 50, `the quarantine table shows ${rows} rows at once (at most 50)`);
    await shot("quarantine");
    if (await page.locator("#quarantine-more").isVisible()) {
      await page.locator("#quarantine-more").focus();
      await page.keyboard.press("Enter");
      const after = await page.locator("#quarantine-table tbody tr").count();
      expect(after > rows, "Show more added no rows");
      check(`Show more (keyboard): ${rows} -> ${after} rows`);
    }

    // The test's batch, replayed whole by keyboard: the page runs the replay run after
    // run (the test lowered the records per run) until the token is null.
    const q = config.adminOps.quarantine;
    await fromTop(page);
    await tabTo(page, "#q-batch");
    await page.keyboard.type(q.batchId);
    await page.keyboard.press("Enter");
    await page.waitForFunction((id) => location.hash.includes(id), q.batchId);
    await page.locator("#replay-batch").waitFor();
    const runs = [];
    const seeRun = (r) => {
      if (r.method() === "POST" && /\/quarantine\/[^/]+\/replay/.test(new URL(r.url()).pathname)) {
        runs.push(new URL(r.url()).searchParams.get("continuationToken"));
      }
    };
    page.on("request", seeRun);
    await fromTop(page);
    await tabTo(page, "#replay-batch");
    await page.keyboard.press("Enter");
    await page.locator("#replay-done").waitFor();
    page.off("request", seeRun);
    const replayed = await page.locator("#replay-done").innerText();
    expect(replayed.includes(`${q.records} record(s) in total`), `not every record replayed: ${replayed}`);
    expect(runs.length === q.runs && runs[0] === null && runs.slice(1).every(Boolean),
      `${runs.length} replay runs (${q.runs} expected), tokens ${JSON.stringify(runs)}`);
    check(`batch replay by keyboard: ${runs.length} runs followed to the end: ${replayed.trim().replace(/\s+/g, " ")}`);
    await shot("quarantine-replayed");

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

  async reports(h) {
    const { page, shot, check } = h;
    const s = config.reports;
    await signIn(h, "admin", config.admin.signInAs);
    await page.getByRole("link", { name: "Reports", exact: true }).click();
    await page.locator("#reports-table").waitFor();
    const listed = await page.locator("#reports-table tbody tr").count();
    expect(listed >= s.builtIns, `only ${listed} reports listed, ${s.builtIns} built-in expected`);
    expect(await page.locator("#new-report").count() === 1, "an admin is not offered a new report");
    check(`reports page lists ${listed} reports; an admin may add one`);
    await shot("reports-list");

    // Every out-of-the-box report runs (chart when it has a percentage, table always).
    for (const id of s.ids) {
      await page.evaluate(([rid, from, to]) => {
        location.hash = `#/reports/${encodeURIComponent(rid)}?from=${from}&to=${to}`;
      }, [id, s.from, s.to]);
      await page.locator("#report-table, #report-result .problem").first().waitFor();
      expect(await page.locator("#report-result .problem").count() === 0,
        `report ${id} failed: ${await page.locator("#report-result").innerText()}`);
      if (s.shotEach.includes(id)) await shot(`report-${id}`);
    }
    check(`every out-of-the-box report ran: ${s.ids.join(", ")}`);

    // One by keyboard alone: a filter, Run, then the CSV download.
    await page.evaluate(([from, to]) => {
      location.hash = `#/reports/quality-by-building?from=${from}&to=${to}`;
    }, [s.from, s.to]);
    await page.locator("#report-table").waitFor();
    const all = await page.locator("#report-table tbody tr").count();
    await fromTop(page);
    await tabTo(page, "#r-f-insideCorp");
    await page.keyboard.press("ArrowDown"); // any -> yes
    await tabTo(page, "#report-run button[type=submit]");
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => /insideCorp = yes/.test(
      document.querySelector("#report-meta")?.textContent || ""));
    const meta = await page.locator("#report-meta").innerText();
    expect(await page.locator("#report-chart svg.chart").count() === 1, "no chart on the report");
    check(`quality-by-building narrowed by keyboard to inside corp: ${meta} (of ${all} rows)`);
    await shot("report-run-filtered");
    const download = page.waitForEvent("download");
    await tabTo(page, "#report-csv");
    await page.keyboard.press("Enter");
    const file = await download;
    const csv = readFileSync(await file.path(), "utf8");
    expect(/^building,/.test(csv), `the report CSV has no header: ${csv.slice(0, 80)}`);
    check(`report CSV ${file.suggestedFilename()} (${csv.trim().split("\n").length} lines)`);

    // Custom report: an invalid one is refused at the field, then created, run, edited, deleted.
    await page.evaluate(() => { location.hash = "#/reports/new"; });
    await page.locator("#report-form").waitFor();
    await page.locator("#rep-name").fill(s.customName);
    await page.locator("#rep-g-building").uncheck();
    await page.getByRole("button", { name: "Create report" }).click();
    await page.locator("#report-form [aria-invalid=true]").first().waitFor();
    const refused = await page.locator("#report-form .field-error").allInnerTexts();
    expect(refused.some((t) => /groupBy/.test(t)), `no groupBy error: ${refused.join(" | ")}`);
    check(`custom report without a grouping refused at the field: ${refused.join(" | ")}`);
    await shot("report-new-invalid");
    await page.locator("#rep-g-building").check();
    await page.locator("#rep-g-connectionType").check();
    await page.locator("#rep-f-mediaType").selectOption("audio");
    await page.getByRole("button", { name: "Create report" }).click();
    await page.locator("#report-save-result .success").waitFor();
    check(`created: ${(await page.locator("#report-save-result").innerText()).trim()}`);
    await shot("report-created");
    await page.locator("#run-saved").click();
    await page.locator("#report-table").waitFor();
    const heads = await page.locator("#report-table thead th").allInnerTexts();
    expect(heads[0] === "building" && heads[1] === "connectionType", `columns: ${heads}`);
    check(`the custom report runs grouped by ${heads.slice(0, 2).join(", ")}`);
    await shot("report-custom-run");

    await page.getByRole("link", { name: "Reports", exact: true }).click();
    await page.locator("#reports-table").waitFor();
    await page.getByRole("link", { name: `Edit ${s.customName}` }).click();
    await page.locator("#report-form").waitFor();
    await page.locator("#rep-name").fill(`${s.customName} v2`);
    await page.getByRole("button", { name: "Save report" }).click();
    await page.locator("#report-save-result .success").waitFor();
    const saved = await page.locator("#report-save-result").innerText();
    expect(/version 2/.test(saved), `the edit did not raise the version: ${saved}`);
    check(`edited: ${saved.trim()}`);

    await page.getByRole("link", { name: "Reports", exact: true }).click();
    await page.locator("#reports-table").waitFor();
    expect(await page.locator("#reports-table tbody tr", { hasText: "built-in" })
      .locator("button.delete").count() === 0, "a built-in report offers Delete");
    await page.getByRole("button", { name: `Delete ${s.customName} v2` }).focus();
    await page.keyboard.press("Enter");
    await page.locator("#delete-yes").waitFor();
    expect((await page.locator("#report-delete-confirm").innerText()).includes(`${s.customName} v2`),
      "the delete confirmation does not name the report");
    expect(await page.evaluate(() => document.activeElement.id) === "delete-yes",
      "the delete confirmation does not take the focus");
    await shot("report-delete-confirm");
    await page.keyboard.press("Enter");
    await page.locator("#report-delete-confirm .success").waitFor();
    expect(await page.getByRole("link", { name: `${s.customName} v2`, exact: true }).count() === 0,
      "the deleted report is still listed");
    check("deleted by keyboard after a confirmation naming it; built-ins offer no Delete");
  },

  async readerReports(h) {
    const { page, shot, check } = h;
    await signIn(h, "reader", config.reports.readerSignInAs);
    for (const name of ["Call Analytics", "Alerts", "Buildings", "Topology", "Exclusions",
      "Settings", "Quarantine", "Purge a user"]) {
      expect(await page.getByRole("link", { name, exact: true }).count() === 0,
        `a reader is offered ${name}`);
    }
    await page.getByRole("link", { name: "Reports", exact: true }).click();
    await page.locator("#reports-table").waitFor();
    expect(await page.locator("#new-report, a.edit-link, button.delete").count() === 0,
      "a reader is offered report changes");
    expect(await page.locator('#reports-table tr[data-report="per-user"]').count() === 0,
      "a reader is offered the per-user report (EUII)");
    check("a reader sees the reports but not the per-user one, and no create, edit or delete");
    await shot("reader-reports");
    await page.locator("#reports-table a.run-link").first().click();
    await page.locator("#report-table, #report-result .problem").first().waitFor();
    check(`a reader runs ${(await page.locator("h1").innerText()).trim()}`);
    await shot("reader-report-run");
    await page.evaluate(() => { location.hash = "#/reports/new"; });
    await page.getByRole("heading", { name: "Not available" }).waitFor();
    check("#/reports/new says Not available to a reader");
  },

  async adminPages(h) {
    const { page, shot, check } = h;
    const s = config.adminPages;
    await signIn(h, "admin", config.admin.signInAs);

    await page.getByRole("link", { name: "Alerts", exact: true }).click();
    await page.locator("#alerts-table").waitFor();
    await page.locator("#a-from").fill(s.from);
    await page.locator("#a-status").selectOption("all");
    await page.getByRole("button", { name: "Show" }).click();
    await page.waitForFunction(() => /[?&]status=all/.test(location.hash));
    await page.locator("#alerts-table").waitFor();
    const open = await page.locator("#alerts-table tr[data-status=open]").count();
    expect(open > 0, "no open alert listed (the test raises some first)");
    await shot("alerts");
    await fromTop(page);
    await tabTo(page, "#alerts-table button.ack");
    await page.keyboard.press("Enter");
    await page.locator("#alerts-note .success").waitFor();
    const after = await page.locator("#alerts-table tr[data-status=open]").count();
    expect(after === open - 1, `acknowledging left ${after} of ${open} open`);
    check(`alerts: ${open} open listed, one acknowledged by keyboard (${after} left open)`);
    await shot("alerts-acknowledged");
    await page.locator("#a-status").selectOption("acknowledged");
    await page.getByRole("button", { name: "Show" }).click();
    await page.waitForFunction(() => /status=acknowledged/.test(location.hash));
    await page.locator("#alerts-table tr[data-status=acknowledged]").first().waitFor();
    check("the acknowledged alert is listed under Acknowledged, with who acknowledged it");

    // Topology by keyboard alone: Tab to the file input, Space opens the file chooser
    // (the test answers it with the file), Tab to Upload, Enter.
    // A view that re-renders (the result of the upload before) can take the focus off the
    // input between the Tab and the Space: the walk is then done again, at most twice.
    const uploadByKeyboard = async (file) => {
      for (let attempt = 1; ; attempt += 1) {
        await fromTop(page);
        await tabTo(page, "#topology-file");
        const chooser = page.waitForEvent("filechooser", { timeout: 8000 });
        await page.keyboard.press("Space");
        try {
          await (await chooser).setFiles(file);
          break;
        } catch (err) {
          if (attempt === 3) throw err;
        }
      }
      await tabTo(page, "#topology-upload button[type=submit]");
      await page.keyboard.press("Enter");
    };
    await page.getByRole("link", { name: "Topology", exact: true }).click();
    await page.locator("#topology-summary").waitFor();
    await uploadByKeyboard(s.badTopology);
    await page.locator("#topology-result .problem").waitFor();
    check(`a bad topology is refused: ${(await page.locator("#topology-result").innerText()).trim().replace(/\s+/g, " ")}`);
    await shot("topology-invalid");
    await uploadByKeyboard(s.topology);
    await page.locator("#topology-result .success").waitFor();
    await page.locator("#topology-pools tbody tr").first().waitFor();
    const pools = await page.locator("#topology-pools tbody tr").count();
    expect(pools === s.pools, `${pools} pools shown, ${s.pools} uploaded`);
    check(`topology uploaded by keyboard alone and shown: ${(await page.locator("#topology-summary").innerText()).trim()}`);
    await shot("topology");

    await page.getByRole("link", { name: "Exclusions", exact: true }).click();
    await page.locator("#excluded-users").waitFor();
    const users = await page.locator("#excluded-users").innerText();
    expect(users.includes(s.excludedUser), `the excluded user is not listed: ${users}`);
    check(`exclusions: ${users.trim().split("\n").length} user(s) listed, ${s.excludedUser} among them`);
    await shot("exclusions");

    await page.getByRole("link", { name: "Buildings", exact: true }).click();
    await page.locator("#building-history-table").waitFor();
    const uploads = await page.locator("#building-history-table tbody tr").count();
    expect(uploads >= 1 && await page.locator("#building-history-table tbody tr",
      { hasText: "active" }).count() === 1, "the history does not show one active file");
    check(`building file history: ${uploads} upload(s), one active`);
    await shot("buildings-history");
  },

  async engineerLimits(h) {
    const { page, check, shot } = h;
    await signIn(h, "engineer", config.engineer.signInAs);
    for (const name of ["Settings", "Purge a user", "Buildings", "Quarantine", "Alerts",
      "Topology", "Exclusions"]) {
      expect(await page.getByRole("link", { name, exact: true }).count() === 0,
        `an engineer is offered ${name}`);
    }
    await page.evaluate(() => { location.hash = "#/admin/purge"; });
    await page.getByRole("heading", { name: "Not available" }).waitFor();
    check("an engineer sees no admin pages in the menu, and #/admin/purge says Not available");
    await shot("engineer-no-admin");
    await page.getByRole("link", { name: "Reports", exact: true }).click();
    await page.locator("#reports-table").waitFor();
    expect(await page.locator("#new-report, a.edit-link, button.delete").count() === 0,
      "an engineer is offered report changes");
    check("an engineer runs reports but is offered no create, edit or delete");
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
writeFileSync(join(config.outDir, "keyboard.json"), JSON.stringify(keyboardReport, null, 2));
console.log(`RESULT ${JSON.stringify(results)}`);
