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

  return {
    request,
    json,
    /** Fetches text/csv with the bearer token, then offers it as a file download. */
    async downloadCsv(path, query, filename) {
      const response = await request(path, { query, accept: "text/csv" });
      const blob = await response.blob();
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
