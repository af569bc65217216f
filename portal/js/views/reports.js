// The report set: every out-of-the-box report and the tenant's custom reports, run over
// a period and narrowed by filters (chart and table, CSV download). Admins also create,
// edit and delete custom reports; the other levels get no such controls (the API
// refuses them anyway). Built-ins are read-only for everyone.
// #/reports  #/reports/{id}?from=&to=&<filter>=  #/reports/new  #/reports/{id}/edit

import { columnChart } from "../chart.js";
import { daysAgo, fmtPercent, h, problemBox, today } from "../dom.js";
import { href, navigate, seg } from "../router.js";

/** The summary's group-by dimensions and filters (docs/reference/cqd-dimensions.md). */
export const GROUP_BY = ["day", "week", "month", "building", "networkName", "city", "region",
  "subnet", "connectionType", "mediaType", "insideCorp", "vpn", "site", "pool", "product",
  "isTeams", "clientType", "userAgentCategory", "clientVersion", "transport", "relay",
  "wifiBand", "hour"];
export const MEASURES = ["streams", "good", "poor", "unclassified", "cdrStreams",
  "setupFailedStreams", "setupSucceededStreams", "droppedStreams", "sessions", "poorCalls",
  "shortCalls", "callSetupFailures", "poorPercent", "callSetupFailurePercent",
  "droppedStreamPercent", "poorDueTo", "rateMyCall", "feedbackTokens"];
const BOOL = [["true", "yes"], ["false", "no"]];
/** Filters a run may narrow by: [name, label, options or null for free text]. */
export const RUN_FILTERS = [
  ["mediaType", "Media type", ["audio", "video", "vbss", "appsharing", "data"]],
  ["connectionType", "Connection", ["wired", "wifi", "other", "unknown"]],
  ["insideCorp", "Inside corp", BOOL],
  ["vpn", "VPN", BOOL],
  ["product", "Product", ["teams", "sfbOnline", "sfbServer"]],
  ["clientType", "Client type",
    ["desktop", "mobile", "web", "ipPhone", "room", "server", "other", "unknown"]],
  ["transport", "Transport", ["udp", "tcp", "unknown"]],
  ["wifiBand", "Wi-Fi band", ["2.4GHz", "5GHz", "6GHz", "unknown", "na"]],
  ["building", "Building", null],
  ["site", "Site", null],
  ["pool", "Pool", null],
];
const TIME_DIMENSIONS = ["day", "week", "month"];
const PERCENTS = new Set(["poorPercent", "callSetupFailurePercent", "droppedStreamPercent"]);

const isAdmin = (session) => session.level === "admin";

function options(list) {
  return list.map((o) => (Array.isArray(o) ? o : [o, o]));
}

function cellText(value) {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "object") {
    const parts = Object.entries(value).map(([k, v]) => `${k}: ${v}`);
    return parts.length ? parts.join(", ") : "—";
  }
  return typeof value === "number" ? value.toLocaleString() : String(value);
}

function describeFilters(filters) {
  const parts = Object.entries(filters || {}).map(([k, v]) =>
    `${k} = ${Array.isArray(v) ? v.join(" or ") : cellText(v)}`);
  return parts.length ? parts.join("; ") : "none";
}

// ---- the list -----------------------------------------------------------------------

export async function reportsView({ main, api, session, isCurrent }) {
  main.append(h("h1", {}, "Reports"),
    h("p", { class: "muted" }, "CQD-style reports over the pre-aggregated quality data. "
      + "Run one over a period, narrow it by filters, download it as CSV."));
  if (isAdmin(session)) {
    main.append(h("p", {}, h("a", { href: href("/reports/new"), class: "button primary",
      id: "new-report" }, "New custom report")));
  }
  const result = h("div", { id: "reports-result", "aria-live": "polite" });
  main.append(result);
  const body = await api.json("/v1/reports");
  if (!isCurrent()) return;
  const reports = body.reports || [];
  const row = (r) => h("tr", { "data-report": r.id },
    h("th", { scope: "row" }, h("a", { href: href(`/reports/${seg(r.id)}`), class: "run-link" },
      r.name)),
    h("td", {}, r.builtIn ? "built-in" : "custom"),
    h("td", {}, (r.groupBy || []).join(", ")),
    h("td", {}, r.description || "—"),
    isAdmin(session) ? h("td", {}, r.builtIn ? "read-only" : [
      h("a", { href: href(`/reports/${seg(r.id)}/edit`), class: "edit-link" },
        `Edit ${r.name}`), " ",
      h("button", { type: "button", class: "danger delete",
        onclick: () => confirmDelete(r) }, `Delete ${r.name}`)]) : null);
  const headers = ["Report", "Kind", "Grouped by", "Description"];
  if (isAdmin(session)) headers.push("Actions");
  const confirmBox = h("div", { id: "report-delete-confirm" });
  result.replaceChildren(confirmBox, h("table", { class: "grid", id: "reports-table" },
    h("caption", {}, `${reports.length} reports (${reports.filter((r) => !r.builtIn).length} custom)`),
    h("thead", {}, h("tr", {}, headers.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, reports.map(row))));

  function confirmDelete(report) {
    const yes = h("button", { type: "button", class: "danger", id: "delete-yes" },
      `Delete ${report.name}`);
    const no = h("button", { type: "button", id: "delete-no" }, "Cancel");
    confirmBox.replaceChildren(h("div", { role: "alertdialog", class: "confirm",
      "aria-labelledby": "delete-q" },
    h("p", { id: "delete-q" }, h("strong", {}, `Delete the custom report “${report.name}”?`),
      " Everyone in the tenant loses it; this cannot be undone."), yes, " ", no));
    yes.focus();
    no.addEventListener("click", () => confirmBox.replaceChildren());
    yes.addEventListener("click", async () => {
      try {
        await api.request(`/v1/reports/${seg(report.id)}`, { method: "DELETE" });
        confirmBox.replaceChildren(h("p", { class: "success", role: "status" },
          `Deleted ${report.name}.`));
        const gone = result.querySelector(`tr[data-report="${CSS.escape(report.id)}"]`);
        if (gone) gone.remove();
      } catch (e) {
        confirmBox.replaceChildren(problemBox(e));
      }
    });
  }
}

// ---- running one ----------------------------------------------------------------------

function chartOf(report, rows) {
  const time = (report.groupBy || []).find((g) => TIME_DIMENSIONS.includes(g));
  const measure = (report.measures || []).find((m) => PERCENTS.has(m));
  if (!measure || !rows.length) return null;
  const key = time || report.groupBy[0];
  const byKey = new Map();
  for (const r of rows) {
    const label = cellText(r[key]);
    if (!byKey.has(label) && typeof r[measure] === "number") byKey.set(label, r[measure]);
  }
  const points = [...byKey.entries()].map(([label, value]) => ({ label, value }));
  if (time) points.sort((a, b) => String(a.label).localeCompare(String(b.label)));
  return h("figure", { class: "card", id: "report-chart" },
    columnChart(points.slice(0, 60), { title: `${measure} by ${key}` }),
    h("figcaption", { class: "muted" }, `${measure} by ${key}`
      + (report.groupBy.length > 1 ? " (first row of each value; every row is in the table)" : "")));
}

export async function reportRunView({ main, api, params, query, isCurrent }) {
  const id = params.id;
  const listed = await api.json("/v1/reports");
  if (!isCurrent()) return;
  const report = (listed.reports || []).find((r) => r.id === id);
  if (!report) {
    main.append(h("h1", {}, "Report not found"),
      h("p", {}, h("a", { href: href("/reports") }, "All reports")));
    return;
  }
  const from = query.from || daysAgo(29);
  const to = query.to || today();
  const fromInput = h("input", { id: "r-from", type: "date", name: "from", value: from });
  const toInput = h("input", { id: "r-to", type: "date", name: "to", value: to });
  const filterInputs = RUN_FILTERS.map(([name, label, opts]) => {
    const fid = `r-f-${name}`;
    const own = (report.filters || {})[name];
    const control = opts
      ? h("select", { id: fid, name, "data-filter": name },
        h("option", { value: "" }, own === undefined ? "any" : `report's own (${cellText(own)})`),
        options(opts).map(([v, t]) => h("option", { value: v, selected: query[name] === v }, t)))
      : h("input", { id: fid, name, type: "text", "data-filter": name, value: query[name] || "" });
    return h("div", { class: "field" }, h("label", { for: fid }, label), control);
  });
  const form = h("form", { class: "card filters", id: "report-run" },
    h("div", { class: "field" }, h("label", { for: "r-from" }, "From"), fromInput),
    h("div", { class: "field" }, h("label", { for: "r-to" }, "To (inclusive)"), toInput),
    filterInputs,
    h("button", { type: "submit", class: "primary" }, "Run"));
  const csv = h("button", { type: "button", class: "csv", id: "report-csv" }, "Download CSV");
  const out = h("div", { id: "report-result", "aria-live": "polite" });
  main.append(h("h1", {}, report.name),
    h("p", { class: "muted" }, report.description || "",
      ` Grouped by ${report.groupBy.join(", ")}; the report's own filters: `
      + `${describeFilters(report.filters)}. `,
      h("a", { href: href("/reports") }, "All reports")),
    form, csv, out);

  const runQuery = () => {
    const q = { from: fromInput.value, to: toInput.value };
    for (const el of form.querySelectorAll("[data-filter]")) {
      if (el.value.trim()) q[el.dataset.filter] = el.value.trim();
    }
    return q;
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    navigate(`/reports/${seg(id)}`, runQuery());
  });
  csv.addEventListener("click", async () => {
    try {
      await api.downloadCsv(`/v1/reports/${seg(id)}/run`, runQuery(),
        `${id}-${fromInput.value}-${toInput.value}.csv`);
    } catch (e) {
      out.prepend(problemBox(e));
    }
  });

  out.replaceChildren(h("p", { class: "loading" }, "Running…"));
  let body;
  try {
    body = await api.json(`/v1/reports/${seg(id)}/run`, { query: { ...runQuery(), ...query } });
  } catch (e) {
    out.replaceChildren(problemBox(e));
    return;
  }
  if (!isCurrent()) return;
  const rows = body.rows || [];
  const columns = [...(body.groupBy || report.groupBy), ...(body.measures || report.measures)];
  out.replaceChildren(
    h("p", { id: "report-meta" }, `${rows.length} row${rows.length === 1 ? "" : "s"}, `
      + `${body.from} to ${body.to}; filters: ${describeFilters(body.filters)}.`),
    chartOf({ ...report, groupBy: body.groupBy || report.groupBy,
      measures: body.measures || report.measures }, rows),
    h("div", { class: "scroll", tabindex: 0, role: "region", "aria-label": `${report.name} table` },
      h("table", { class: "grid compact", id: "report-table" },
        h("caption", {}, `${report.name}, ${body.from} to ${body.to}`),
        h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, rows.length ? rows.map((r) => h("tr", {}, columns.map((c, i) => {
          const v = r[c];
          const text = PERCENTS.has(c) ? fmtPercent(v) : cellText(v);
          return i < (body.groupBy || []).length ? h("th", { scope: "row" }, text)
            : h("td", { class: typeof v === "number" ? "num" : "" }, text);
        }))) : h("tr", {}, h("td", { colspan: columns.length, class: "empty" },
          "No data in this period."))))));
}

// ---- create / edit (admin) --------------------------------------------------------------

export async function reportEditView({ main, api, params, isCurrent }) {
  const editing = params.id || null;
  let current = { name: "", description: "", groupBy: ["building"], filters: {},
    measures: ["streams", "good", "poor", "poorPercent"], period: { lastDays: 30 } };
  if (editing) {
    const listed = await api.json("/v1/reports");
    if (!isCurrent()) return;
    const found = (listed.reports || []).find((r) => r.id === editing);
    if (!found || found.builtIn) {
      main.append(h("h1", {}, "Not editable"), h("p", {}, found
        ? "Built-in reports are read-only: create a custom report instead."
        : "No such report."), h("p", {}, h("a", { href: href("/reports") }, "All reports")));
      return;
    }
    current = found;
  }
  const name = h("input", { id: "rep-name", name: "name", type: "text", required: true,
    maxlength: 100, value: current.name || "" });
  const description = h("textarea", { id: "rep-description", name: "description",
    maxlength: 500, rows: 2 }, current.description || "");
  const lastDays = h("input", { id: "rep-period", name: "period", type: "number", min: 1,
    max: 396, step: 1, value: (current.period || {}).lastDays ?? 30 });
  const checkboxes = (legend, idPrefix, field, all, chosen) => h("fieldset",
    { class: "card checks", id: `rep-${field}` }, h("legend", {}, legend),
    all.map((v) => {
      const cid = `${idPrefix}-${v}`;
      return h("span", { class: "check" }, h("input", { type: "checkbox", id: cid, value: v,
        "data-field": field, checked: chosen.includes(v) }), h("label", { for: cid }, v));
    }));
  const groupBy = checkboxes("Group by (1 to 4, in this order)", "rep-g", "groupBy", GROUP_BY,
    current.groupBy || []);
  const measures = checkboxes("Measures", "rep-m", "measures", MEASURES, current.measures || []);
  const filters = h("fieldset", { class: "card", id: "rep-filters" },
    h("legend", {}, "Filters (the report keeps only these rows)"),
    RUN_FILTERS.map(([fname, label, opts]) => {
      const fid = `rep-f-${fname}`;
      const have = (current.filters || {})[fname];
      const value = have === undefined ? "" : String(Array.isArray(have) ? have[0] : have);
      const control = opts
        ? h("select", { id: fid, "data-filter": fname }, h("option", { value: "" }, "any"),
          options(opts).map(([v, t]) => h("option", { value: v, selected: value === v }, t)))
        : h("input", { id: fid, type: "text", "data-filter": fname, value });
      return h("div", { class: "field" }, h("label", { for: fid }, label), control);
    }));
  const result = h("div", { id: "report-save-result", "aria-live": "polite" });
  const form = h("form", { id: "report-form", novalidate: true },
    h("div", { class: "card" },
      h("div", { class: "field" }, h("label", { for: "rep-name" }, "Name"), name),
      h("div", { class: "field" }, h("label", { for: "rep-description" }, "Description"),
        description),
      h("div", { class: "field" }, h("label", { for: "rep-period" }, "Default period (days)"),
        lastDays)),
    groupBy, filters, measures,
    h("button", { type: "submit", class: "primary" }, editing ? "Save report" : "Create report"),
    " ", h("a", { href: href("/reports") }, "Cancel"), result);
  main.append(h("h1", {}, editing ? `Edit ${current.name}` : "New custom report"), form);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const bad of form.querySelectorAll("[aria-invalid]")) bad.removeAttribute("aria-invalid");
    for (const old of form.querySelectorAll(".field-error")) old.remove();
    const picked = (field) => [...form.querySelectorAll(`[data-field="${field}"]:checked`)]
      .map((el) => el.value);
    const chosenFilters = {};
    for (const el of form.querySelectorAll("[data-filter]")) {
      const v = el.value.trim();
      if (!v) continue;
      chosenFilters[el.dataset.filter] = v === "true" ? true : v === "false" ? false : v;
    }
    const body = { name: name.value.trim(), groupBy: GROUP_BY.filter((g) => picked("groupBy").includes(g)),
      measures: MEASURES.filter((m) => picked("measures").includes(m)),
      filters: chosenFilters, period: { lastDays: Number(lastDays.value) } };
    if (description.value.trim()) body.description = description.value.trim();
    result.replaceChildren(h("p", { class: "loading" }, "Saving…"));
    try {
      const saved = await api.json(editing ? `/v1/reports/${seg(editing)}` : "/v1/reports",
        { method: editing ? "PUT" : "POST", body });
      result.replaceChildren(h("p", { class: "success", role: "status" },
        `Saved “${saved.name}” (version ${saved.version}). `,
        h("a", { href: href(`/reports/${seg(saved.id)}`), id: "run-saved" }, "Run it")));
    } catch (e) {
      result.replaceChildren(problemBox(e));
      const errors = e.errors && e.errors.length ? e.errors : [{ field: e.field, message: e.detail }];
      for (const err of errors) {
        const field = String(err.field || "").replace(/\[\d+\]$/, "").split(".")[0];
        const group = form.querySelector(`fieldset#rep-${field}`);
        const target = { name, description, period: lastDays }[field]
          || (group && group.querySelector("input, select"));
        if (!target || target.hasAttribute("aria-invalid")) continue;
        target.setAttribute("aria-invalid", "true");
        const msg = h("p", { class: "field-error", id: `rep-${field}-error` },
          `${err.field}: ${err.message || "invalid"}`);
        if (group) group.append(msg);
        else target.after(msg);
        target.setAttribute("aria-describedby", msg.id);
      }
      const first = form.querySelector("[aria-invalid]");
      if (first) first.focus();
    }
  });
}
