// Admin: quarantined records. List by batch and reason; view one (the API audits the
// read: a record holds EUII); replay one or the whole batch after a parser fix; discard
// one. The batch counts the API answers with are shown after each replay.

import { h, problemBox } from "../dom.js";
import { href, navigate } from "../router.js";

export async function quarantineView({ main, api, query, isCurrent }) {
  const batch = h("input", { id: "q-batch", name: "batchId", type: "text", value: query.batchId || "" });
  const reason = h("input", { id: "q-reason", name: "reason", type: "text", value: query.reason || "" });
  const filter = h("form", { class: "card filters", id: "quarantine-filter" },
    h("label", { for: "q-batch" }, "Batch id"), batch,
    h("label", { for: "q-reason" }, "Reason contains"), reason,
    h("button", { type: "submit", class: "primary" }, "Show"));
  const out = h("div", { id: "quarantine-result", "aria-live": "polite" });
  main.append(h("h1", {}, "Quarantined records"), filter, out);
  filter.addEventListener("submit", (e) => {
    e.preventDefault();
    navigate("/admin/quarantine", { batchId: batch.value.trim(), reason: reason.value.trim() });
  });

  const listed = await api.json("/v1/admin/quarantine",
    { query: { batchId: query.batchId, reason: query.reason } });
  if (!isCurrent()) return;
  const detail = h("section", { id: "quarantine-detail", "aria-live": "polite" });
  const byReason = Object.entries(listed.byReason || {});
  out.replaceChildren(...[
    h("p", {}, `${listed.count} record(s).`),
    byReason.length ? h("ul", { id: "quarantine-reasons" },
      byReason.map(([r, n]) => h("li", {}, `${r}: ${n}`))) : null,
    listed.items.length ? h("table", { class: "grid", id: "quarantine-table" },
      h("caption", {}, "Quarantined records (batch, index, reason)"),
      h("thead", {}, h("tr", {}, ["Batch", "Index", "Reason", "State", "Actions"].map(
        (c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, listed.items.map((item) => h("tr", { "data-index": item.index },
        h("td", {}, h("a", { href: href("/admin/quarantine", { batchId: item.batchId }) },
          item.batchId)),
        h("td", {}, String(item.index)),
        h("td", {}, item.reason || "—"),
        h("td", {}, item.discarded ? "discarded" : "quarantined"),
        h("td", {}, actions(item)))))) : h("p", { class: "empty" }, "Nothing quarantined."),
    query.batchId && listed.items.length ? h("button", { type: "button", id: "replay-batch",
      onclick: () => run(`/v1/admin/quarantine/${encodeURIComponent(query.batchId)}/replay`,
        "POST") }, `Replay every record of batch ${query.batchId}`) : null,
    detail].filter(Boolean));

  function actions(item) {
    const base = `/v1/admin/quarantine/${encodeURIComponent(item.batchId)}/${item.index}`;
    return [
      h("button", { type: "button", class: "view", onclick: () => view(base) },
        `View record ${item.index}`),
      " ",
      item.discarded ? null : h("button", { type: "button", class: "replay",
        onclick: () => run(`${base}/replay`, "POST") }, `Replay ${item.index}`),
      " ",
      item.discarded ? null : h("button", { type: "button", class: "danger discard",
        onclick: () => run(base, "DELETE") }, `Discard ${item.index}`),
    ];
  }

  async function view(path) {
    try {
      const record = await api.json(path);
      detail.replaceChildren(h("h2", {}, `Record ${record.index} of batch ${record.batchId}`),
        h("p", { class: "muted" }, "This read is recorded in the audit log."),
        h("pre", { class: "record", tabindex: 0 }, JSON.stringify(record.record, null, 2)));
    } catch (e) {
      detail.replaceChildren(problemBox(e));
    }
  }

  async function run(path, method) {
    try {
      const answer = await api.json(path, { method });
      const counts = answer.counts ? Object.entries(answer.counts).map(([k, v]) => `${k} ${v}`)
        .join(", ") : "";
      const results = (answer.results || []).map((r) => `record ${r.index}: ${r.outcome}`
        + (r.reason ? ` (${r.reason})` : ""));
      detail.replaceChildren(h("div", { class: "success", role: "status" },
        h("p", {}, results.length ? results.join("; ") : `Record ${answer.index} discarded.`),
        counts ? h("p", {}, `Batch counts: ${counts}.`) : null));
    } catch (e) {
      detail.replaceChildren(problemBox(e));
    }
  }
}
