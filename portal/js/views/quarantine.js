// Admin: quarantined records. List by batch and reason; view one (the API audits the
// read: a record holds EUII); replay one or the whole batch after a parser fix; discard
// one. The batch counts the API answers with are shown after each replay. The whole
// batch replays in runs of at most 100 records: the page follows `continuationToken`
// run after run, showing progress, until it is null; a run that fails can be resumed
// from the last token (the API makes a repeated run a no-op).

import { h, problemBox } from "../dom.js";
import { href, navigate } from "../router.js";

const ROWS_SHOWN = 50;

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

  const listed = await api.json("/v1/admin/quarantine", { query: {
    batchId: query.batchId, reason: query.reason, continuationToken: query.continuationToken } });
  if (!isCurrent()) return;
  const detail = h("section", { id: "quarantine-detail", "aria-live": "polite" });
  const byReason = Object.entries(listed.byReason || {});
  // The API's page holds up to 1,000 records; the table shows them ROWS_SHOWN at a time
  // (three buttons a row: a thousand rows would be three thousand Tab stops), and "Next
  // page" follows the API's continuation token.
  const tbody = h("tbody");
  let shown = 0;
  const more = h("button", { type: "button", id: "quarantine-more", onclick: showMore }, "");
  function showMore() {
    const next = listed.items.slice(shown, shown + ROWS_SHOWN);
    tbody.append(...next.map(row));
    shown += next.length;
    more.hidden = shown >= listed.items.length;
    more.textContent = `Show ${Math.min(ROWS_SHOWN, listed.items.length - shown)} more `
      + `(${shown} of ${listed.items.length} on this page shown)`;
  }
  showMore();
  out.replaceChildren(...[
    h("p", {}, `${listed.count} record(s)${listed.continuationToken ? " on this page" : ""}.`),
    byReason.length ? h("ul", { id: "quarantine-reasons" },
      byReason.map(([r, n]) => h("li", {}, `${r}: ${n}`))) : null,
    listed.items.length ? h("table", { class: "grid", id: "quarantine-table" },
      h("caption", {}, "Quarantined records (batch, index, reason)"),
      h("thead", {}, h("tr", {}, ["Batch", "Index", "Reason", "State", "Actions"].map(
        (c) => h("th", { scope: "col" }, c)))),
      tbody) : h("p", { class: "empty" }, "Nothing quarantined."),
    listed.items.length ? more : null,
    listed.continuationToken ? h("a", { id: "quarantine-next", href: href("/admin/quarantine", {
      batchId: query.batchId, reason: query.reason, continuationToken: listed.continuationToken,
    }) }, "Next page") : null,
    query.batchId && listed.items.length ? h("button", { type: "button", id: "replay-batch",
      onclick: (e) => replayAll(query.batchId, null, e.currentTarget) },
      `Replay every record of batch ${query.batchId}`) : null,
    detail].filter(Boolean));

  function row(item) {
    return h("tr", { "data-index": item.index },
      h("td", {}, h("a", { href: href("/admin/quarantine", { batchId: item.batchId }) },
        item.batchId)),
      h("td", {}, String(item.index)),
      h("td", {}, item.reason || "—"),
      h("td", {}, item.discarded ? "discarded" : "quarantined"),
      h("td", {}, actions(item)));
  }

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

  /** Runs the batch's replay until the token is null (or the page is left), with a
   * progress bar; on a refusal, offers to resume from the last token that worked. */
  async function replayAll(batchId, from, button) {
    const path = `/v1/admin/quarantine/${encodeURIComponent(batchId)}/replay`;
    const tally = {};
    const lines = [];
    const bar = h("progress", { id: "replay-progress", max: "1", value: "0",
      "aria-label": `Replay of batch ${batchId}` });
    const said = h("p", { id: "replay-status" }, "Replaying…");
    detail.replaceChildren(h("div", { class: "card", role: "status" }, said, bar));
    if (button) button.disabled = true;
    let token = from;
    let done = 0;
    let answer = null;
    try {
      do {
        answer = await api.json(path, { method: "POST", query: { continuationToken: token } });
        for (const r of answer.results) {
          tally[r.outcome] = (tally[r.outcome] || 0) + 1;
          if (lines.length < 20) lines.push(`record ${r.index}: ${r.outcome}${r.reason ? ` (${r.reason})` : ""}`);
        }
        done += answer.replayed;
        bar.max = String(Math.max(1, done + answer.remaining));
        bar.value = String(done);
        said.textContent = `Replayed ${done} of ${done + answer.remaining} record(s)…`;
        token = answer.continuationToken;
      } while (token && isCurrent());
    } catch (e) {
      const resume = h("button", { type: "button", id: "replay-resume",
        onclick: (ev) => replayAll(batchId, token, ev.currentTarget) },
        `Resume the replay (${done} record(s) done)`);
      detail.replaceChildren(problemBox(e), resume);
      if (button) button.disabled = false;
      return;
    }
    if (button) button.disabled = false;
    if (!isCurrent()) return;
    const outcomes = Object.entries(tally).map(([k, n]) => `${k} ${n}`).join(", ");
    const counts = Object.entries(answer.counts).map(([k, v]) => `${k} ${v}`).join(", ");
    detail.replaceChildren(h("div", { class: "success", role: "status", id: "replay-done" },
      h("p", {}, `Replay of batch ${batchId} done: ${done} record(s) in total`
        + (outcomes ? ` (${outcomes}).` : ".")),
      done <= lines.length ? h("p", {}, lines.join("; ")) : null,
      h("p", {}, `Batch counts: ${counts}.`)));
  }
}
