// The API client: our own /api only. Errors are problem+json ({title, detail, field,
// errors}); they surface as ApiError with those fields.

export class ApiError extends Error {
  constructor(status, body) {
    super(body.detail || body.title || `HTTP ${status}`);
    this.status = status;
    this.title = body.title || `HTTP ${status}`;
    this.detail = body.detail || "";
    this.field = body.field || null;
    this.errors = body.errors || [];
  }
}

export function createApi(base, session) {
  const root = base.replace(/\/$/, "");

  async function request(path, { method = "GET", query, body, contentType, accept } = {}) {
    const url = new URL(root + path, location.href);
    for (const [k, v] of Object.entries(query || {})) {
      if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
    }
    const headers = { Accept: accept || "application/json" };
    const token = await session.token();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers["Content-Type"] = contentType || "application/json";
    const response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined
        : (typeof body === "string" || body instanceof Blob ? body : JSON.stringify(body)),
    });
    if (!response.ok) {
      let problem = {};
      try {
        problem = await response.json();
      } catch { /* not JSON */ }
      throw new ApiError(response.status, problem);
    }
    return response;
  }

  const json = async (path, opts) => (await request(path, opts)).json();

  /** A paged report or list in full: the first page's body with the `rows` of every
   * page, following `continuationToken` (docs/reference/api.md). */
  async function allRows(path, opts = {}) {
    const first = await json(path, opts);
    const rows = [...(first.rows || [])];
    let token = first.continuationToken;
    for (let n = 0; token && n < 100; n += 1) {
      const next = await json(path, { ...opts, query: { ...opts.query, continuationToken: token } });
      rows.push(...(next.rows || []));
      token = next.continuationToken;
    }
    return { ...first, rows, continuationToken: null };
  }

  return {
    request,
    json,
    allRows,
    /** Fetches text/csv with the bearer token (every page, by `X-Continuation-Token`;
     * a later page's header row is dropped when it is the first page's), then offers it
     * as a file download. */
    async downloadCsv(path, query, filename) {
      let response = await request(path, { query, accept: "text/csv" });
      const parts = [await response.text()];
      const header = parts[0].split("\r\n", 1)[0];
      for (let n = 0; response.headers.get("X-Continuation-Token") && n < 100; n += 1) {
        const continuationToken = response.headers.get("X-Continuation-Token");
        response = await request(path, { query: { ...query, continuationToken }, accept: "text/csv" });
        const text = await response.text();
        parts.push(text.startsWith(header + "\r\n") ? text.slice(header.length + 2) : text);
      }
      const blob = new Blob(parts, { type: "text/csv" });
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = filename;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    },
  };
}
