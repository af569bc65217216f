// The portal: load config.json, restore or start a sign-in, then route on the hash.

import { createApi } from "./api.js";
import { restoreSession } from "./auth.js";
import { clear, h, problemBox } from "./dom.js";
import { href, match, parseHash } from "./router.js";
import { signInView } from "./views/signin.js";
import { usersView } from "./views/users.js";
import { callsView } from "./views/calls.js";
import { callView } from "./views/call.js";
import { qualityView } from "./views/quality.js";
import { buildingsView } from "./views/buildings.js";
import { settingsView } from "./views/settings.js";
import { purgeView } from "./views/purge.js";
import { quarantineView } from "./views/quarantine.js";
import { reportEditView, reportRunView, reportsView } from "./views/reports.js";
import { topologyView } from "./views/topology.js";
import { alertsView } from "./views/alerts.js";
import { exclusionsView } from "./views/exclusions.js";

const CALL_ANALYTICS = ["admin", "engineer", "specialist"];
const ALL = [...CALL_ANALYTICS, "reader"];

// [pattern, view, levels allowed, nav section]
const ROUTES = [
  ["/users", usersView, CALL_ANALYTICS, "calls"],
  ["/users/:user/calls", callsView, CALL_ANALYTICS, "calls"],
  ["/calls/:callId", callView, CALL_ANALYTICS, "calls"],
  ["/quality", qualityView, ALL, "quality"],
  ["/reports", reportsView, ALL, "reports"],
  ["/reports/new", reportEditView, ["admin"], "reports"],
  ["/reports/:id", reportRunView, ALL, "reports"],
  ["/reports/:id/edit", reportEditView, ["admin"], "reports"],
  ["/admin/alerts", alertsView, ["admin"], "alerts"],
  ["/admin/topology", topologyView, ["admin"], "topology"],
  ["/admin/exclusions", exclusionsView, ["admin"], "exclusions"],
  ["/admin/buildings", buildingsView, ["admin"], "buildings"],
  ["/admin/settings", settingsView, ["admin"], "settings"],
  ["/admin/purge", purgeView, ["admin"], "purge"],
  ["/admin/quarantine", quarantineView, ["admin"], "quarantine"],
];

const NAV = [
  ["calls", "Call Analytics", "/users", CALL_ANALYTICS],
  ["quality", "Quality dashboard", "/quality", ALL],
  ["reports", "Reports", "/reports", ALL],
  ["alerts", "Alerts", "/admin/alerts", ["admin"]],
  ["buildings", "Buildings", "/admin/buildings", ["admin"]],
  ["topology", "Topology", "/admin/topology", ["admin"]],
  ["exclusions", "Exclusions", "/admin/exclusions", ["admin"]],
  ["settings", "Settings", "/admin/settings", ["admin"]],
  ["quarantine", "Quarantine", "/admin/quarantine", ["admin"]],
  ["purge", "Purge a user", "/admin/purge", ["admin"]],
];

const main = document.getElementById("main");
let state = null;

async function boot() {
  let config;
  try {
    config = await (await fetch("config.json", { cache: "no-store" })).json();
  } catch {
    config = { auth: "auto", apiBase: "/api", devTokenUrl: "/dev/token", msal: {} };
  }
  let session;
  try {
    session = await restoreSession(config);
  } catch (e) {
    clear(main).append(problemBox({ title: "Sign-in unavailable", detail: e.message }));
    return;
  }
  if (session.mode === "dev") document.getElementById("dev-banner").hidden = false;
  document.body.dataset.authMode = session.mode;
  state = { config, session, api: session.signedOut ? null : createApi(config.apiBase, session) };
  renderChrome();
  window.addEventListener("hashchange", route);
  route();
}

function renderChrome() {
  const { session } = state;
  const nav = clear(document.getElementById("nav"));
  const who = clear(document.getElementById("whoami"));
  if (session.signedOut) return;
  document.body.dataset.level = session.level || "none";
  const list = h("ul", {});
  for (const [key, label, path, levels] of NAV) {
    if (!levels.includes(session.level)) continue;
    list.append(h("li", {}, h("a", { href: href(path), "data-section": key }, label)));
  }
  nav.append(list);
  who.append(
    h("span", { class: "who-name" }, session.name || session.user),
    " ",
    h("span", { class: `level level-${session.level}`, title: "Access level" },
      session.level || "no role"),
    session.mode === "dev" ? h("span", { class: "level level-dev" }, "dev") : null,
    " ",
    h("button", { type: "button", class: "link", onclick: () => session.signOut() }, "Sign out"),
  );
}

function markNav(section) {
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.dataset.section === section) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

let generation = 0;

async function route() {
  const { session } = state;
  const { path, query } = parseHash();
  const mine = ++generation;
  const ctx = { ...state, main, query, isCurrent: () => mine === generation };

  if (session.signedOut || path === "/signin") {
    if (!session.signedOut) {
      location.hash = href(homeOf(session.level));
      return;
    }
    clear(main);
    await signInView(ctx);
    return;
  }
  if (path === "/") {
    location.hash = href(homeOf(session.level));
    return;
  }
  const found = match(ROUTES.map(([p, view, levels, section]) => [p, { view, levels, section }]),
    path);
  clear(main);
  if (!found) {
    main.append(h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/" }, "Home")));
    return;
  }
  const { view, levels, section } = found.handler;
  markNav(section);
  if (!levels.includes(session.level)) {
    main.append(h("h1", {}, "Not available"), h("p", {},
      `Your access level (${session.level || "none"}) does not include this page.`));
    return;
  }
  try {
    await view({ ...ctx, params: found.params });
  } catch (e) {
    if (ctx.isCurrent()) main.append(problemBox(e));
  }
  if (ctx.isCurrent()) {
    const heading = main.querySelector("h1");
    if (heading && document.activeElement === document.body) {
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: true });
    }
  }
}

function homeOf(level) {
  return CALL_ANALYTICS.includes(level) ? "/users" : "/quality";
}

boot();
