// Quality dashboard (CQD-style): Poor % by day (chart), by building (table with bars),
// drill-down building -> subnets -> affected users (engineer/admin), CSV download, and
// the missing-subnets list. The CQD dimensions (product, client, transport, Wi-Fi band,
// hour, ...; docs/reference/cqd-dimensions.md) filter every table and one of them can
// group a table of its own. State lives in the hash:
// #/quality?from=&to=&building=&subnet=&groupBy=&product=&clientType=&...

import { columnChart } from "../chart.js";
import { daysAgo, fmtPercent, h, problemBox, today } from "../dom.js";
import { href, navigate } from "../router.js";

const NO_BUILDING = "(no building)";

const YES_NO = [["true", "yes"], ["false", "no"]];
/** Filters offered on the dashboard: the summary API's filter names and values. */
export const DIMENSION_FILTERS = [
  { name: "product", label: "Product",
    options: [["teams", "Teams"], ["sfbOnline", "Skype for Business Online"],
      ["sfbServer", "Skype for Business Server"]] },
  { name: "isTeams", label: "Is Teams", options: YES_NO },
  { name: "clientType", label: "Client type",
    options: ["desktop", "mobile", "web", "ipPhone", "room", "server", "other", "unknown"]
      .map((v) => [v, v]) },
  { name: "clientVersion", label: "Client version", text: true },
  { name: "connectionType", label: "Connection",
    options: [["wired", "wired"], ["wifi", "Wi-Fi"], ["other", "other"], ["unknown", "unknown"]] },
  { name: "wifiBand", label: "Wi-Fi band",
    options: ["2.4GHz", "5GHz", "6GHz", "unknown", "na"].map((v) => [v, v]) },
  { name: "transport", label: "Transport", options: [["udp", "UDP"], ["tcp", "TCP"], ["unknown", "unknown"]] },
  { name: "relay", label: "Relay", options: YES_NO },
  { name: "insideCorp", label: "Inside corp", options: [["true", "Inside"], ["false", "Outside"]] },
  { name: "vpn", label: "VPN", options: YES_NO },
  { name: "hour", label: "Hour (UTC)",
    options: Array.from({ length: 24 }, (_, i) => [String(i), String(i).padStart(2, "0")]) },
];
/** Dimensions the "Group by" table offers (the summary API's groupBy names). */
export const GROUPINGS = [
  ["product", "Product"], ["isTeams", "Is Teams"], ["clientType", "Client type"],
  ["userAgentCategory", "User agent category"], ["clientVersion", "Client version"],
  ["transport", "Transport"], ["relay", "Relay"], ["wifiBand", "Wi-Fi band"],
  ["hour", "Hour (UTC)"], ["connectionType", "Connection"], ["insideCorp", "Inside corp"],
  ["vpn", "VPN"], ["region", "Region"], ["city", "City"], ["networkName", "Network"],
];
const GROUP_NAMES = new Set(GROUPINGS.map(([name]) => name));

/** The dimension filters of the hash query that the dashboard knows. */
export function filtersOf(query) {
  const out = {};
  for (const f of DIMENSION_FILTERS) {
    const v = query[f.name];
    if (v !== undefined && v !== "") out[f.name] = v;
  }
  return out;
}

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

function labelOf(name) {
  return (GROUPINGS.find(([n]) => n === name) || [name, name])[1];
}

export async function qualityView({ main, api, query, session, isCurrent }) {
  const from = query.from || daysAgo(30);
  const to = query.to || today();
  const { building, subnet } = query;
  const dims = filtersOf(query);
  const groupBy = GROUP_NAMES.has(query.groupBy) ? query.groupBy : undefined;
  const euii = ["admin", "engineer"].includes(session.level);
  // The report API takes plain dates, `to` inclusive; the dimension filters apply to
  // every summary table (not to the affected-users list, which has its own scope).
  const range = { from, to };
  const keep = { from: query.from, to: query.to, ...dims, groupBy };

  const fromInput = h("input", { id: "q-from", type: "date", value: from, required: true });
  const toInput = h("input", { id: "q-to", type: "date", value: to, required: true });
  const inputs = DIMENSION_FILTERS.map((f) => {
    const id = `q-${f.name}`;
    const control = f.text
      ? h("input", { id, name: f.name, type: "text", value: dims[f.name] || "", size: 14,
        placeholder: "any" })
      : h("select", { id, name: f.name },
        h("option", { value: "" }, "any"),
        f.options.map(([value, label]) => h("option",
          { value, selected: dims[f.name] === value ? "selected" : undefined }, label)));
    return [h("label", { for: id }, f.label), control];
  });
  const groupSelect = h("select", { id: "q-groupBy", name: "groupBy" },
    h("option", { value: "" }, "(none)"),
    GROUPINGS.map(([value, label]) => h("option",
      { value, selected: groupBy === value ? "selected" : undefined }, label)));
  const form = h("form", { class: "filters" },
    h("label", { for: "q-from" }, "From"), fromInput,
    h("label", { for: "q-to" }, "To (inclusive)"), toInput,
    h("details", { class: "dimension-filters", open: Object.keys(dims).length || groupBy ? "" : undefined },
      h("summary", {}, "Filters and grouping"),
      h("div", { class: "filter-grid", style: { display: "grid", alignItems: "center",
        gridTemplateColumns: "repeat(2, max-content minmax(8rem, 14rem))", gap: "0.25rem 0.75rem" } },
      inputs,
        h("label", { for: "q-groupBy" }, "Group by"), groupSelect)),
    h("button", { type: "submit" }, "Apply"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = {};
    for (const f of DIMENSION_FILTERS) {
      const v = form.querySelector(`#q-${f.name}`).value.trim();
      if (v) chosen[f.name] = v;
    }
    navigate("/quality", { from: fromInput.value, to: toInput.value, building, subnet, ...chosen,
      groupBy: groupSelect.value || undefined });
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
        await api.downloadCsv("/v1/quality/summary", { ...range, groupBy, ...dims, ...filters },
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

  const summary = (groupBy, filters = {}) => api.allRows("/v1/quality/summary",
    { query: { ...range, groupBy, ...dims, ...filters } });

  // --- the drill-down levels ------------------------------------------------------------
  if (subnet !== undefined) {
    const filters = { subnet, ...(building !== undefined ? { building } : {}) };
    const users = section("affected-users", `Affected users in ${subnet}`,
      h("p", { class: "loading" }, "Loading…"));
    main.append(users);
    try {
      const body = await api.allRows("/v1/quality/poor-users", { query: { ...range, ...filters } });
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
  const grouped = groupBy ? section("by-dimension", `Poor % by ${labelOf(groupBy)}`,
    h("p", { class: "loading" }, "Loading…")) : null;
  main.append(...(grouped ? [grouped] : []), byDay, byBuilding, missing);

  const [days, buildings, gaps, dimension] = await Promise.allSettled([
    summary("day"), summary("building"), api.allRows("/v1/quality/missing-subnets", { query: range }),
    groupBy ? summary(groupBy) : Promise.resolve(null),
  ]);
  if (!isCurrent()) return;

  if (grouped && dimension.status === "fulfilled") {
    grouped.replaceChildren(grouped.firstChild,
      h("div", { class: "actions" }, csv(groupBy, {}, groupBy)),
      reportTable({
        id: "dimension-table", caption: `Poor % by ${labelOf(groupBy)}`,
        keyHeader: labelOf(groupBy), rows: rowsOf(dimension.value), groupBy,
        label: (key) => (key === null ? "(not reported)" : String(key)),
        // a value of a filterable dimension links to the dashboard filtered by it
        link: DIMENSION_FILTERS.some((f) => f.name === groupBy)
          ? (key) => href("/quality", { ...keep, groupBy: undefined, [groupBy]: String(key) })
          : null,
      }));
  } else if (grouped) {
    grouped.replaceChildren(grouped.firstChild, problemBox(dimension.reason));
  }

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
