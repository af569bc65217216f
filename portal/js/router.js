// A tiny hash router: "#/users/alice%40contoso.com/calls?from=2026-11-01".
// Routes are [pattern, handler]; ":name" segments are decoded into params.

export function parseHash(hash = location.hash) {
  const raw = hash.replace(/^#/, "") || "/";
  const [path, qs = ""] = raw.split("?");
  return { path, query: Object.fromEntries(new URLSearchParams(qs)) };
}

export function href(path, query = {}) {
  const qs = new URLSearchParams(
    Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== ""),
  ).toString();
  return `#${path}${qs ? `?${qs}` : ""}`;
}

export function seg(value) {
  return encodeURIComponent(value);
}

export function match(routes, path) {
  const parts = path.split("/").filter(Boolean);
  for (const [pattern, handler] of routes) {
    const want = pattern.split("/").filter(Boolean);
    if (want.length !== parts.length) continue;
    const params = {};
    const ok = want.every((w, i) => {
      if (w.startsWith(":")) {
        params[w.slice(1)] = decodeURIComponent(parts[i]);
        return true;
      }
      return w === parts[i];
    });
    if (ok) return { handler, params };
  }
  return null;
}

export function navigate(path, query) {
  location.hash = href(path, query);
}
