// Quality dashboard (CQD-style): Poor % by day (chart), by building (table with bars),
// drill-down building -> subnets -> affected users (engineer/admin), CSV download, and
// the missing-subnets list. State lives in the hash: #/quality?from=&to=&building=&subnet=

import { columnChart } from "../chart.js";
import { daysAgo, fmtPercent, h, problemBox, today } from "../dom.js";
import { href, navigate } from "../router.js";

const NO_BUILDING = "(no building)";

/** The rows of a report body, whatever the envelope's name. */
export function rowsOf(body) {
  if (Array.isArray(body)) return body;
  for (const key of ["rows", "groups", "items", "data", "results", "subnets", "users"]) {
    if (Array.isArray(body && body[key])) return body[key];
  }
  return [];
}

/** The group value of a row: the field named like the grouping, else `key`/`group`. */
function keyOf(row, groupBy) {
  for (const k of [groupBy, "key", "group", "value", "name", "label"]) {
    if (row[k] !== undefined && row[k] !== null && row[k] !== "") return row[k];
  }
  return null;
}

function num(row, ...names) {
  for (const n of names) if (typeof row[n] === "number") return row[n];
  return null;
}

const poorOf = (r) => num(r, "poor", "poorStreams", "poorCount");
const goodOf = (r) => num(r, "good", "goodStreams", "goodCount");
const unclassOf = (r) => num(r, "unclassified", "unclassifiedStreams", "unclassifiedCount");
const totalOf = (r) => num(r, "total", "streams", "totalStreams", "count", "audioStreams");
function percentOf(r) {
  const p = num(r, "poorPercent", "poorPct", "poor_percent");
  if (p !== null) return p;
  const poor = poorOf(r);
  const good = goodOf(r);
  return poor !== null && good !== null && poor + good > 0 ? (100 * poor) / (poor + good) : null;
}

function bar(percent, scale = 100) {
  const width = Math.max(0, Math.min(100, (100 * (percent || 0)) / scale));
  return h("span", { class: "bar-cell", "aria-hidden": "true" },
    h("span", { class: "bar-fill", style: { width: `${width}%` } }));
}

function countCells(r) {
  const v = (x) => (x === null ? "—" : x.toLocaleString());
  return [h("td", { class: "num" }, v(totalOf(r))), h("td", { class: "num" }, v(goodOf(r))),
    h("td", { class: "num" }, v(poorOf(r))), h("td", { class: "num" }, v(unclassOf(r)))];
}

const COUNT_HEADERS = ["Streams", "Good", "Poor", "Unclassified"];

function reportTable({ id, caption, keyHeader, rows, groupBy, link, label }) {
  const sorted = [...rows].sort((a, b) => (percentOf(b) ?? -1) - (percentOf(a) ?? -1));
  // Bars share one scale: the largest Poor % of the table (at least 10%).
  const scale = Math.max(10, ...sorted.map((r) => percentOf(r) ?? 0));
  const body = sorted.map((r) => {
    const key = keyOf(r, groupBy);
    const shown = label ? label(key) : key ?? NO_BUILDING;
    const pct = percentOf(r);
    const target = link && key !== null ? link(key) : null;
    return h("tr", { "data-key": key ?? "" },
      h("th", { scope: "row" }, target ? h("a", { href: target, class: "drill" }, shown) : shown),
      h("td", { class: "pct" }, h("span", { class: "pct-text" }, fmtPercent(pct)), bar(pct, scale)),
      countCells(r));
  });
  return h("table", { class: "grid report", id },
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, [keyHeader, "Poor %", ...COUNT_HEADERS]
      .map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, body.length ? body
      : h("tr", {}, h("td", { colspan: 6, class: "empty" }, "No streams in this period."))));
}

export async function qualityView({ main, api, query, session, isCurrent }) {
  const from = query.from || daysAgo(30);
  const to = query.to || today();
  const { building, subnet } = query;
  const euii = ["admin", "engineer"].includes(session.level);
  // The report API takes plain dates, `to` inclusive.
  const range = { from, to };
  const keep = { from: query.from, to: query.to };

  const fromInput = h("input", { id: "q-from", type: "date", value: from, required: true });
  const toInput = h("input", { id: "q-to", type: "date", value: to, required: true });
  const form = h("form", { class: "filters" },
    h("label", { for: "q-from" }, "From"), fromInput,
    h("label", { for: "q-to" }, "To (inclusive)"), toInput,
    h("button", { type: "submit" }, "Apply"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    navigate("/quality", { from: fromInput.value, to: toInput.value, building, subnet });
  });

  const crumbs = h("nav", { class: "crumbs", "aria-label": "Breadcrumb" },
    building !== undefined || subnet !== undefined
      ? h("a", { href: href("/quality", keep) }, "All buildings") : "All buildings",
    building !== undefined ? [" › ", subnet !== undefined
      ? h("a", { href: href("/quality", { ...keep, building }) }, building || NO_BUILDING)
      : building || NO_BUILDING] : null,
    subnet !== undefined ? [" › ", subnet] : null);

  main.append(h("h1", {}, "Quality dashboard"),
    h("p", { class: "muted" }, "Audio streams; Poor % = poor / (poor + good), unclassified left out."),
    form, crumbs);

  const csv = (groupBy, filters, name) => h("button", {
    type: "button", class: "csv",
    onclick: async (event) => {
      const button = event.currentTarget;
      button.disabled = true;
      try {
        await api.downloadCsv("/v1/quality/summary", { ...range, groupBy, ...filters },
          `quality-${name}-${from}-${to}.csv`);
      } catch (e) {
        button.after(problemBox(e));
      } finally {
        button.disabled = false;
      }
    },
  }, `Download CSV (${name})`);

  const section = (id, title, ...content) => h("section", { class: "card", id, "aria-labelledby": `${id}-h` },
    h("h2", { id: `${id}-h` }, title), ...content);

  const summary = (groupBy, filters = {}) => api.json("/v1/quality/summary",
    { query: { ...range, groupBy, ...filters } });

  // --- the drill-down levels ------------------------------------------------------------
  if (subnet !== undefined) {
    const filters = { subnet, ...(building !== undefined ? { building } : {}) };
    const users = section("affected-users", `Affected users in ${subnet}`,
      h("p", { class: "loading" }, "Loading…"));
    main.append(users);
    try {
      const body = await api.json("/v1/quality/poor-users", { query: { ...range, ...filters } });
      if (!isCurrent()) return;
      const rows = rowsOf(body).map((u) => h("tr", {},
        h("th", { scope: "row" }, u.user ? h("a", { href: href(`/users/${encodeURIComponent(u.user)}/calls`,
          { from, to }) }, u.displayName || u.user) : u.displayName || "—"),
        h("td", {}, u.user || "—"),
        h("td", { class: "num" }, String(num(u, "poorStreams", "poor", "poorCount") ?? "—")),
        h("td", { class: "num" }, String(num(u, "days") ?? "—")),
        h("td", {}, Array.isArray(u.subnets) ? u.subnets.join(", ") : "—")));
      users.replaceChildren(users.firstChild, h("table", { class: "grid", id: "poor-users" },
        h("caption", {}, "Users with poor audio streams (most first)"),
        h("thead", {}, h("tr", {}, ["Name", "User", "Poor streams", "Days", "Subnets"]
          .map((x) => h("th", { scope: "col" }, x)))),
        h("tbody", {}, rows.length ? rows
          : h("tr", {}, h("td", { colspan: 5, class: "empty" }, "No users with poor streams.")))));
    } catch (e) {
      users.replaceChildren(users.firstChild, problemBox(e));
    }
    return;
  }

  if (building !== undefined) {
    const filters = { building };
    const subnets = section("by-subnet", `Subnets of ${building || NO_BUILDING}`,
      h("p", { class: "loading" }, "Loading…"));
    main.append(subnets);
    try {
      const body = await summary("subnet", filters);
      if (!isCurrent()) return;
      subnets.replaceChildren(subnets.firstChild,
        h("div", { class: "actions" }, csv("subnet", filters, "subnets")),
        reportTable({
          id: "subnet-table", caption: "Poor % by subnet", keyHeader: "Subnet",
          rows: rowsOf(body), groupBy: "subnet",
          link: euii ? (key) => href("/quality", { ...keep, building, subnet: key ?? "" }) : null,
        }),
        euii ? null : h("p", { class: "muted" },
          "Affected users are shown to engineers and admins only."));
    } catch (e) {
      subnets.replaceChildren(subnets.firstChild, problemBox(e));
    }
    return;
  }

  // --- top level: by day, by building, missing subnets -------------------------------------
  const byDay = section("by-day", "Poor % by day", h("p", { class: "loading" }, "Loading…"));
  const byBuilding = section("by-building", "Poor % by building",
    h("p", { class: "loading" }, "Loading…"));
  const missing = section("missing-subnets", "Missing subnets",
    h("p", { class: "muted" }, "Subnets with at least 10 audio streams that no building range covers."),
    h("p", { class: "loading" }, "Loading…"));
  main.append(byDay, byBuilding, missing);

  const [days, buildings, gaps] = await Promise.allSettled([
    summary("day"), summary("building"), api.json("/v1/quality/missing-subnets", { query: range }),
  ]);
  if (!isCurrent()) return;

  if (days.status === "fulfilled") {
    const rows = rowsOf(days.value);
    // One column per day of the period; a day without streams has no value (not 0%).
    const byKey = new Map(rows.map((r) => [String(keyOf(r, "day")), r]));
    const points = [];
    for (let d = new Date(`${from}T00:00:00Z`); d <= new Date(`${to}T00:00:00Z`);
      d = new Date(d.getTime() + 86400000)) {
      const day = d.toISOString().slice(0, 10);
      const r = byKey.get(day);
      points.push(r ? {
        label: day, value: percentOf(r),
        detail: `${poorOf(r) ?? "?"} poor of ${(poorOf(r) ?? 0) + (goodOf(r) ?? 0)} classified`,
      } : { label: day, value: null });
    }
    byDay.replaceChildren(byDay.firstChild,
      h("div", { class: "actions" }, csv("day", {}, "days")),
      rows.length ? columnChart(points, { title: `Poor % of audio streams by day, ${from} to ${to}` })
        : h("p", { class: "empty" }, "No streams in this period."),
      h("details", {}, h("summary", {}, "Data table"),
        reportTable({ id: "day-table", caption: "Poor % by day", keyHeader: "Day", rows,
          groupBy: "day" })));
  } else {
    byDay.replaceChildren(byDay.firstChild, problemBox(days.reason));
  }

  if (buildings.status === "fulfilled") {
    byBuilding.replaceChildren(byBuilding.firstChild,
      h("div", { class: "actions" }, csv("building", {}, "buildings")),
      reportTable({
        id: "building-table", caption: "Poor % by building (select a building for its subnets)",
        keyHeader: "Building", rows: rowsOf(buildings.value), groupBy: "building",
        link: (key) => href("/quality", { ...keep, building: key ?? "" }),
      }));
  } else {
    byBuilding.replaceChildren(byBuilding.firstChild, problemBox(buildings.reason));
  }

  if (gaps.status === "fulfilled") {
    const rows = rowsOf(gaps.value).map((r) => h("tr", {},
      h("th", { scope: "row" }, r.subnet || keyOf(r, "subnet") || "—"),
      h("td", { class: "num" },
        String(num(r, "audioStreams", "streams", "total", "count") ?? "—"))));
    missing.replaceChildren(missing.firstChild, missing.children[1],
      h("table", { class: "grid narrow", id: "missing-subnets-table" },
        h("caption", {}, "Subnets not in the building file"),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Subnet"),
          h("th", { scope: "col", class: "num" }, "Audio streams"))),
        h("tbody", {}, rows.length ? rows
          : h("tr", {}, h("td", { colspan: 2, class: "empty" }, "Every subnet is covered.")))),
      session.level === "admin"
        ? h("p", {}, h("a", { href: href("/admin/buildings") }, "Upload a building file")) : null);
  } else {
    missing.replaceChildren(missing.firstChild, missing.children[1], problemBox(gaps.reason));
  }
}
