// Admin: the on-prem topology (sites, pools, PSTN gateways) that maps servers to sites
// and pools in the reports. The agent pushes it; an admin may view it and upload a
// JSON file by hand. A refused file lists its errors by JSON path.

import { fmtDateTime, h, problemBox } from "../dom.js";
import { href } from "../router.js";

function text(value) {
  if (value === null || value === undefined || value === "") return "—";
  if (Array.isArray(value)) return value.join(", ");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function listTable(id, caption, columns, rows) {
  return h("table", { class: "grid compact", id },
    h("caption", {}, `${caption} (${rows.length})`),
    h("thead", {}, h("tr", {}, columns.map(([, label]) => h("th", { scope: "col" }, label)))),
    h("tbody", {}, rows.length ? rows.map((r) => h("tr", {}, columns.map(([key], i) => (i === 0
      ? h("th", { scope: "row" }, text(r[key])) : h("td", {}, text(r[key]))))))
      : h("tr", {}, h("td", { colspan: columns.length, class: "empty" }, "None."))));
}

export async function topologyView({ main, api, isCurrent }) {
  const fileInput = h("input", { id: "topology-file", type: "file", name: "file",
    accept: ".json,application/json", required: true, "aria-describedby": "topology-help" });
  const result = h("div", { id: "topology-result", "aria-live": "polite" });
  const form = h("form", { class: "card", id: "topology-upload" },
    h("h2", {}, "Upload a topology"),
    h("p", { id: "topology-help", class: "muted" },
      "A JSON file: {\"sites\": [{\"name\"}], \"pools\": [{\"fqdn\", \"role\", \"site\"}], "
      + "\"gateways\": [{\"fqdn\", \"site\", \"mediationPool\"}]}. The upload replaces the "
      + "active topology; the on-prem agent normally pushes it."),
    h("label", { for: "topology-file" }, "Topology file"), " ", fileInput, " ",
    h("button", { type: "submit", class: "primary" }, "Upload topology"), result);
  const current = h("section", { class: "card", id: "current-topology",
    "aria-labelledby": "topology-h" }, h("h2", { id: "topology-h" }, "Active topology"),
  h("p", { class: "loading" }, "Loading…"));
  main.append(h("h1", {}, "Topology"), current, form);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = fileInput.files[0];
    if (!file) {
      fileInput.focus();
      return;
    }
    result.replaceChildren(h("p", { class: "loading" }, `Uploading ${file.name}…`));
    try {
      const body = await file.text();
      const saved = await api.json("/v1/admin/topology", { method: "PUT", body });
      result.replaceChildren(h("p", { class: "success", role: "status" },
        `Uploaded ${file.name}: version ${saved.version}, ${saved.sites} sites, `
        + `${saved.pools} pools, ${saved.gateways} gateways. `,
        h("a", { href: href("/reports/quality-by-site-and-pool") }, "Quality by site and pool")));
      await load();
    } catch (e) {
      const parts = [problemBox(e)];
      if (e.errors && e.errors.length) {
        parts.push(h("table", { class: "grid errors", id: "topology-errors" },
          h("caption", {}, `${e.errors.length} problem(s) in ${file.name}`),
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Where"),
            h("th", { scope: "col" }, "Problem"))),
          h("tbody", {}, e.errors.map((err) => h("tr", {},
            h("th", { scope: "row" }, err.field || "—"), h("td", {}, err.message || ""))))));
      }
      result.replaceChildren(...parts);
    }
  });

  async function load() {
    const body = await api.json("/v1/admin/topology");
    if (!isCurrent()) return;
    const t = body.topology || { sites: [], pools: [], gateways: [] };
    current.replaceChildren(current.firstChild,
      body.active
        ? h("p", { id: "topology-summary" }, `Version ${body.version}: ${body.sites} sites, `
          + `${body.pools} pools, ${body.gateways} gateways`
          + (body.uploadedAt ? `, uploaded ${fmtDateTime(body.uploadedAt)}` : "")
          + (body.uploadedBy ? ` by ${body.uploadedBy}` : "") + ".")
        : h("p", { class: "empty", id: "topology-summary" },
          "No topology yet: reports show no site or pool."),
      ...(body.active ? [
        listTable("topology-sites", "Sites", [["name", "Site"], ["city", "City"], ["country", "Country"]],
          t.sites || []),
        listTable("topology-pools", "Pools", [["fqdn", "Pool"], ["role", "Roles"],
          ["site", "Site"], ["servers", "Servers"]], t.pools || []),
        listTable("topology-gateways", "PSTN gateways", [["fqdn", "Gateway"], ["site", "Site"],
          ["mediationPool", "Mediation pool"]], t.gateways || []),
      ] : []));
  }
  await load();
}
