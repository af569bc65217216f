// Admin: the exclusion policy, read only. The on-prem agent owns it and pushes it
// (PUT /api/v1/ingest/exclusions); a purge may add a user. Records of these users and
// domains are dropped before they are stored (docs/data-handling.md).

import { h } from "../dom.js";

function list(id, caption, values, empty) {
  return h("section", { class: "card", "aria-labelledby": `${id}-h` },
    h("h2", { id: `${id}-h` }, `${caption} (${values.length})`),
    values.length ? h("ul", { id, class: "plain-list" }, values.map((v) => h("li", {}, v)))
      : h("p", { class: "empty", id }, empty));
}

export async function exclusionsView({ main, api, isCurrent }) {
  main.append(h("h1", {}, "Exclusion policy"),
    h("p", { class: "muted" }, "Users and domains whose call data stays on premises: the "
      + "agent drops their records before sending, and the service drops any that arrive "
      + "anyway. Edit the policy in the agent's configuration; it pushes it here."));
  const body = await api.json("/v1/admin/exclusions");
  if (!isCurrent()) return;
  main.append(list("excluded-users", "Users", body.users || [], "No user is excluded."),
    list("excluded-domains", "Domains", body.domains || [], "No domain is excluded."));
}
