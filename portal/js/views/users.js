// User search: name, UPN or SIP prefix -> the users seen in call data. For engineers and
// admins the same box takes a call id as well: a Teams/Graph call id, a SIP Call-ID, a
// conference URI or the product's call id (GET /v1/calls?sourceId=), searched alongside.

import { CALL_TYPES, fmtDateTime, h, problemBox, ratingBadge, table } from "../dom.js";
import { href, navigate, seg } from "../router.js";

// Something that can be a call id: one token, long enough (a name search has neither).
const looksLikeId = (q) => q.length >= 8 && !/\s/.test(q);

export async function usersView({ main, api, query, session, isCurrent }) {
  const canLookUp = ["admin", "engineer"].includes(session && session.level);
  const q = query.q || "";
  const input = h("input", { id: "user-search", name: "q", type: "search", value: q,
    minlength: 2, required: true, autocomplete: "off",
    placeholder: canLookUp
      ? "name, UPN, SIP address, or a call id (Teams, SIP Call-ID, conference URI)"
      : "name, UPN or SIP address (at least 2 characters)" });
  const form = h("form", { class: "searchbar", role: "search" },
    h("label", { for: "user-search" }, canLookUp ? "Find a user or a call" : "Find a user"),
    input,
    h("button", { type: "submit", class: "primary" }, "Search"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    navigate("/users", { q: input.value.trim() });
  });
  main.append(h("h1", {}, "Call Analytics"), form);
  if (!q) {
    input.focus();
    return;
  }
  const results = h("section", { "aria-live": "polite", "aria-label": "Search results" },
    h("p", { class: "loading" }, "Searching…"));
  main.append(results);
  const byId = canLookUp && looksLikeId(q)
    ? api.json("/v1/calls", { query: { sourceId: q } }).catch(() => null)
    : Promise.resolve(null);
  let body;
  let calls;
  try {
    [body, calls] = await Promise.all([api.json("/v1/users", { query: { search: q } }), byId]);
  } catch (e) {
    results.replaceChildren(problemBox(e));
    return;
  }
  if (!isCurrent()) return;
  const found = calls && calls.calls && calls.calls.length ? calls.calls : [];
  if (found.length === 1 && !body.users.length) {
    navigate(`/calls/${seg(found[0].callId)}`, {});
    return;
  }
  const rows = body.users.map((u) => h("tr", {},
    h("td", {}, h("a", { href: href(`/users/${seg(u.user)}/calls`), class: "user-link" },
      u.displayName || u.user)),
    h("td", {}, u.user),
    h("td", {}, u.sipUri || "—"),
    h("td", {}, fmtDateTime(u.lastSeen))));
  const callRows = found.map((c) => h("tr", {},
    h("td", {}, h("a", { href: href(`/calls/${seg(c.callId)}`), class: "call-link" },
      fmtDateTime(c.start))),
    h("td", {}, CALL_TYPES[c.callType] || c.callType || "—"),
    h("td", {}, ratingBadge(c.rating)),
    h("td", {}, String(c.participantCount ?? "—"))));
  results.replaceChildren(
    found.length ? table(`${found.length} call${found.length === 1 ? "" : "s"} with the id “${q}”`,
      ["Start", "Type", "Rating", "Participants"], callRows, { id: "call-id-results" }) : "",
    table(`${body.users.length} user${body.users.length === 1 ? "" : "s"} matching “${q}”`,
      ["Name", "User", "SIP address", "Last seen"], rows, { id: "user-results" }));
}
