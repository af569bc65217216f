// Admin: the tenant's building file (network -> building). An upload labels the days
// from its "valid from" date (the upload day by default) and leaves past days as the
// earlier files labelled them, unless "relabel past days" is chosen; earlier uploads
// are kept and can be rolled back to. A rejected file shows its errors row by row.

import { fmtDateTime, h, problemBox } from "../dom.js";
import { href } from "../router.js";
import { rowsOf } from "./quality.js";

const COLUMNS = ["NetworkIP", "NetworkName", "NetworkRange", "BuildingName", "OwnershipType",
  "BuildingType", "BuildingOfficeType", "City", "ZipCode", "Country", "State", "Region",
  "InsideCorp", "ExpressRoute", "VPN"];

/** A row of GET /v1/admin/buildings as the 15 columns, whatever the field spelling. */
function cellsOf(row) {
  if (Array.isArray(row)) return row;
  const lower = Object.fromEntries(Object.entries(row).map(([k, v]) => [k.toLowerCase().replace(/_/g, ""), v]));
  return COLUMNS.map((c) => {
    const v = lower[c.toLowerCase()] ?? lower[c.toLowerCase().replace(/^network/, "")] ??
      (c === "NetworkRange" ? lower.prefixlength ?? lower.prefix : undefined) ??
      (c === "BuildingName" ? lower.building : undefined);
    return typeof v === "boolean" ? (v ? "1" : "0") : v ?? "";
  });
}

function mediaTypeOf(file, text) {
  if (/\.tsv$/i.test(file.name)) return "text/tab-separated-values";
  if (/\.csv$/i.test(file.name)) return "text/csv";
  return text.split("\n", 1)[0].includes("\t") ? "text/tab-separated-values" : "text/csv";
}

export async function buildingsView({ main, api, isCurrent }) {
  const fileInput = h("input", { id: "building-file", type: "file", name: "file",
    accept: ".csv,.tsv,.txt,text/csv,text/tab-separated-values", required: true,
    "aria-describedby": "building-file-help" });
  const validFrom = h("input", { id: "valid-from", type: "date", name: "validFrom" });
  const relabel = h("input", { id: "relabel-history", type: "checkbox", name: "relabelHistory" });
  const result = h("div", { id: "upload-result", "aria-live": "polite" });
  const form = h("form", { class: "card", id: "building-upload" },
    h("h2", {}, "Upload a building file"),
    h("p", { id: "building-file-help", class: "muted" },
      "CQD format: .csv or .tsv, no header row, 15 columns (14 accepted: VPN defaults to 0): ",
      COLUMNS.join(", "), ". Days before the file's valid-from date keep the labels of ",
      "the files before it, unless you choose to relabel them."),
    h("label", { for: "building-file" }, "Building file"),
    fileInput,
    h("label", { for: "valid-from" }, "Valid from (optional, YYYY-MM-DD; default: today)"),
    validFrom,
    h("label", { for: "relabel-history" }, relabel, " Relabel past days with this file"),
    h("button", { type: "submit", class: "primary" }, "Upload"),
    result);

  const current = h("section", { class: "card", id: "current-buildings",
    "aria-labelledby": "current-h" }, h("h2", { id: "current-h" }, "Active building file"),
  h("p", { class: "loading" }, "Loading…"));

  const history = h("section", { class: "card", id: "building-history",
    "aria-labelledby": "history-h" }, h("h2", { id: "history-h" }, "Upload history"),
  h("p", { class: "loading" }, "Loading…"));

  main.append(h("h1", {}, "Buildings"), form, current, history);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = fileInput.files[0];
    if (!file) return;
    result.replaceChildren(h("p", { class: "loading" }, `Uploading ${file.name}…`));
    const text = await file.text();
    try {
      const query = relabel.checked ? { relabelHistory: "true" }
        : validFrom.value ? { validFrom: validFrom.value } : undefined;
      const response = await api.request("/v1/admin/buildings", { query,
        method: "PUT", body: text, contentType: mediaTypeOf(file, text),
      });
      let body = {};
      try {
        body = await response.json();
      } catch { /* empty body */ }
      const count = body.rows ?? body.count ?? body.networks ?? (Array.isArray(body.buildings)
        ? body.buildings.length : null);
      result.replaceChildren(h("p", { class: "success", role: "status" },
        `Uploaded ${file.name}`, typeof count === "number" ? `: ${count} rows.` : ".",
        " ", h("a", { href: href("/quality"), id: "to-dashboard" }, "See the quality dashboard")));
      await loadCurrent();
      await loadHistory();
    } catch (e) {
      const parts = [problemBox(e)];
      if (e.errors && e.errors.length) {
        parts.push(h("table", { class: "grid errors", id: "upload-errors" },
          h("caption", {}, `${e.errors.length} problem${e.errors.length === 1 ? "" : "s"} in ${file.name}`),
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Where"),
            h("th", { scope: "col" }, "Problem"))),
          h("tbody", {}, e.errors.map((err) => h("tr", {},
            h("th", { scope: "row" }, err.field || "—"), h("td", {}, err.message || ""))))));
      }
      result.replaceChildren(...parts);
    }
  });

  async function loadCurrent() {
    let body;
    try {
      body = await api.json("/v1/admin/buildings");
    } catch (e) {
      current.replaceChildren(current.firstChild,
        e.status === 404 ? h("p", { class: "empty" }, "No building file uploaded yet.") : problemBox(e));
      return;
    }
    if (!isCurrent()) return;
    // The API answers with a summary ({active, rows, buildings, uploadedAt, uploadedBy});
    // if it ever lists the networks too, they are shown as a table.
    const list = [rowsOf(body), body.networks, body.ranges].find((x) => Array.isArray(x) && x.length)
      || [];
    const active = body.active ?? list.length > 0;
    const count = (x) => (typeof x === "number" ? x : Array.isArray(x) ? x.length : null);
    current.replaceChildren(current.firstChild,
      active
        ? h("p", { id: "buildings-summary" },
          [count(body.rows) ?? list.length, " network ranges in ",
            count(body.buildings) ?? "?", " buildings",
            body.uploadedAt ? `, uploaded ${fmtDateTime(body.uploadedAt)}` : "",
            body.uploadedBy ? ` by ${body.uploadedBy}` : "", "."].join(""))
        : h("p", { class: "empty", id: "buildings-summary" },
          "No building file uploaded yet: every network counts as Outside."),
      list.length
        ? h("div", { class: "scroll" }, h("table", { class: "grid compact", id: "buildings-table" },
          h("caption", {}, `${list.length} network${list.length === 1 ? "" : "s"}`),
          h("thead", {}, h("tr", {}, COLUMNS.map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, list.map((r) => h("tr", {}, cellsOf(r).map((c) => h("td", {}, String(c))))))))
        : null);
  }
  async function loadHistory() {
    let body;
    try {
      body = await api.json("/v1/admin/buildings/history");
    } catch (e) {
      history.replaceChildren(history.firstChild, problemBox(e));
      return;
    }
    if (!isCurrent()) return;
    const uploads = body.uploads || [];
    history.replaceChildren(history.firstChild, uploads.length
      ? h("table", { class: "grid", id: "building-history-table" },
        h("caption", {}, `${uploads.length} upload${uploads.length === 1 ? "" : "s"}, newest first`),
        h("thead", {}, h("tr", {}, ["Uploaded", "By", "Network ranges", "Buildings", "Valid from",
          "State", "Action"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, uploads.map((u) => h("tr", { "data-upload": u.uploadId },
          h("th", { scope: "row" }, fmtDateTime(u.uploadedAt)),
          h("td", {}, u.uploadedBy || "—"),
          h("td", { class: "num" }, String(u.rows)),
          h("td", { class: "num" }, String(u.buildings)),
          h("td", {}, u.validFrom || "every day"),
          h("td", {}, u.active ? "active" : u.inUse ? "labels earlier days" : "replaced"),
          h("td", {}, u.active ? "" : rollbackButton(u))))))
      : h("p", { class: "empty" }, "No building file uploaded yet."));
  }
  function rollbackButton(u) {
    const button = h("button", { type: "button", class: "secondary",
      // the accessible name starts with the visible text (WCAG 2.5.3, label in name)
      "aria-label": `Roll back to this upload (${fmtDateTime(u.uploadedAt)})` }, "Roll back to this");
    button.addEventListener("click", async () => {
      if (!window.confirm(`Make the upload of ${fmtDateTime(u.uploadedAt)} the active file again?`)) return;
      try {
        await api.request(`/v1/admin/buildings/history/${encodeURIComponent(u.uploadId)}/rollback`,
          { method: "POST" });
        result.replaceChildren(h("p", { class: "success", role: "status" }, "Rolled back."));
        await loadCurrent();
        await loadHistory();
      } catch (e) {
        result.replaceChildren(problemBox(e));
      }
    });
    return button;
  }
  await Promise.all([loadCurrent(), loadHistory()]);
}
