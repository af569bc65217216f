// Starts @vercel/cosmosdb-server the way the local stack needs it:
// - with our own TLS certificate: the bundled one expired in 2021 (createHttpsServer
//   spreads our options after its defaults, so cert/key replace the expired pair);
// - keep-alive on: the stock server closes every connection, so each request paid a
//   TCP + TLS handshake;
// - a read of a missing item answers 404 NotFound, as Cosmos DB does: the stock
//   read-document handler reads a property of the null document, throws a TypeError
//   and answers 500;
// - a query scoped by the partition key header (the SDK's `partition_key=`) is filtered
//   to that partition, as Cosmos DB does: the stock server refuses it ("missing
//   partition keys") unless the SQL text names the key, and would otherwise scan every
//   partition. The query then runs over that partition's items only (the stock server
//   evaluates every query over every item of the container, seconds per query at 100,000
//   calls, which no real Cosmos DB account would pay for a single-partition query).
// - an item over 2 MB (its JSON, UTF-8) is refused with 413 RequestEntityTooLarge, as
//   Cosmos DB refuses it: the stock server stores any size, so no test would see the
//   limit a large meeting runs into (create, replace and upsert, single or in a batch).
// - a transactional batch (`x-ms-cosmos-batch-atomic`, the SDK's `execute_item_batch`) is
//   atomic, as in Cosmos DB: every operation applies or none does (the ones before a
//   failing operation are rolled back, the failing one keeps its status, the others
//   answer 424, the response is 207 Multi-Status); every item must be of the batch's
//   partition key (else 400) and a batch holds at most 100 operations. The stock handler
//   applies operations one by one, keeps those before a failure and cannot replace,
//   read or delete at all (it reads the partition key from each operation, where the
//   SDK does not put it);
// - a read of many items (the SDK's `read_items`, sent as one query naming (id,
//   partition key) pairs) is answered from those items by their ids, as Cosmos DB
//   answers it from its index, instead of evaluating the query over every item.
// - time to live, as Cosmos DB applies it: with the container's `defaultTtl` on (-1 or
//   seconds), an item expires `ttl` seconds (its own, else the default; -1 never) after
//   its last write (`_ts`) and from then on no read, query or feed returns it, and a
//   create with its id succeeds; with `defaultTtl` absent an item's `ttl` is ignored.
//   The stock server keeps every item for ever, so retention could not be tested.
// - a query costs time linear in the items it reads and answers: the stock query engine
//   (`@zeit/cosmosdb-query`) copies its whole list once per item twice over, when it
//   lists the candidates of the FROM clause (generated code
//   `reduce(($, c) => [...$, { c }], [])`) and when it strips undefined values from the
//   answer (`stripUndefined`), so a query over 11,000 items made ~120 million element
//   copies and seconds of garbage collection, and 4 times the items cost 26 times as
//   long; no Cosmos DB account pays the square of a partition's items. The answers are
//   the same (the accumulator is appended to in place; it is a fresh array per query).
// - a write costs what its request costs: a create's `_rid` is built from the
//   collection's 8 bytes (taken once) and the document counter, not by parsing the
//   collection's rid and converting the counter through two big-integer libraries per
//   document (the same strings); the 2 MB check serialises an item only when its request
//   was large enough for the stored item to reach the limit.
// - CDC_COSMOS_CPU_PROFILE=<file.cpuprofile> writes the server's CPU profile when it is
//   stopped. Measured with it under the pipeline benchmark, the server is idle ~86 % of
//   the time: it spends ~0.3 ms of CPU on a read or an upsert (most of it Node's HTTP and
//   TLS), ~0.6 ms on a create, against ~1.3 ms the Python SDK spends sending one
//   (`python -m bench.cosmos.run`), so the processor, not this server, bounds the rate.
// The handlers are replaced in their modules before the package builds its route table.
// Usage: node cosmos_launcher.js <node_modules dir> <cert.pem> <key.pem> <port>
"use strict";
const fs = require("fs");
const path = require("path");
const { Readable } = require("stream");

const [modules, certPath, keyPath, portArg] = process.argv.slice(2);
const pkg = path.join(modules, "@vercel/cosmosdb-server");
const readDocument = require(path.join(pkg, "lib/handler/read-document"));
const queryDocuments = require(path.join(pkg, "lib/handler/query-documents"));
const rawBody = require(path.join(modules, "raw-body"));
const Items = require(path.join(pkg, "lib/account/items")).default;
const documentOperations = require(path.join(pkg, "lib/handler/_document-operations"));
const batchDocuments = require(path.join(pkg, "lib/handler/batch-documents"));
// Replaced below (`readJsonModule.default`); every handler reads it through the module.
const readJsonModule = require(path.join(pkg, "lib/json"));
const readJson = req => readJsonModule.default(req);
const Documents = require(path.join(pkg, "lib/account/documents")).default;
const getValue = require(path.join(pkg, "lib/utils/get-value")).default;
const queryModule = name => require(require.resolve(`@zeit/cosmosdb-query/lib/${name}`, { paths: [pkg] }));
const queryHelpers = queryModule("helpers");
const queryTransformer = queryModule("transformer");

// The same result as the stock `stripUndefined` (undefined dropped from arrays and
// objects, recursively), without copying the array built so far for every element. The
// generated query code and `paginate` reach it through the module's exports, so
// replacing the export replaces every use.
queryHelpers.stripUndefined = function stripUndefined(value) {
  if (Array.isArray(value)) {
    const out = [];
    for (const v of value) if (typeof v !== "undefined") out.push(stripUndefined(v));
    return out;
  }
  if (value && typeof value === "object") {
    const out = {};
    for (const [k, v] of Object.entries(value)) {
      if (typeof v !== "undefined") out[k] = stripUndefined(v);
    }
    return out;
  }
  return value;
};

const isAccumulator = node => Boolean(node) && node.type === "Identifier" && node.name === "$";
/** `[...$, x]` as `($.push(x), $)`, when it is what a `.reduce(($, ...) => ..., [])` of
 * the generated code returns (directly or as the true branch of `cond ? [...$, x] : $`);
 * a spread of a second list (a JOIN's) stays as it is. */
function appended(body) {
  if (!body || body.type !== "ArrayExpression" || body.elements.length < 2) return null;
  const [first, ...rest] = body.elements;
  if (!first || first.type !== "SpreadElement" || !isAccumulator(first.argument)) return null;
  if (rest.some(e => !e || e.type === "SpreadElement")) return null;
  const push = { type: "MemberExpression", object: { type: "Identifier", name: "$" },
    property: { type: "Identifier", name: "push" }, computed: false };
  return { type: "SequenceExpression", expressions: [
    { type: "CallExpression", callee: push, arguments: rest }, { type: "Identifier", name: "$" },
  ] };
}
function appendInPlace(node) {
  if (!node || typeof node !== "object") return;
  if (Array.isArray(node)) {
    node.forEach(appendInPlace);
    return;
  }
  for (const key of Object.keys(node)) appendInPlace(node[key]);
  const [fn, start] = node.type === "CallExpression" ? node.arguments : [];
  if (!node.callee || node.callee.type !== "MemberExpression" || !node.callee.property
      || node.callee.property.name !== "reduce" || !fn || fn.type !== "ArrowFunctionExpression"
      || !isAccumulator(fn.params[0]) || !start || start.type !== "ArrayExpression"
      || start.elements.length) return;
  if (fn.body.type === "ConditionalExpression" && isAccumulator(fn.body.alternate)) {
    const pushed = appended(fn.body.consequent);
    if (pushed) fn.body.consequent = pushed;
  } else {
    const pushed = appended(fn.body);
    if (pushed) fn.body = pushed;
  }
}
const stockTransform = queryTransformer.default;
queryTransformer.default = function linearTransform(ast) {
  const js = stockTransform(ast);
  appendInPlace(js);
  return js;
};

// Cosmos DB's maximum item size: 2 MB of JSON (learn.microsoft.com, "Azure Cosmos DB
// service quotas", per-item limits).
const MAX_ITEM_BYTES = 2 * 1024 * 1024;
const TOO_LARGE = {
  code: "RequestEntityTooLarge",
  message: "Request size is too large",
};
// The size of the request a parsed body came from. Serialising an item again costs a
// pass over it; an item parsed from a small request cannot reach the limit, because
// `JSON.stringify` of parsed JSON is never longer than its source except for numbers
// (`1e20`, 4 characters, becomes 21): at most 5.25 times the request's size. Only items
// from requests over MAX_ITEM_BYTES / 6 are measured.
const requestBytes = new WeakMap();
const UNMEASURED_BYTES = Math.floor(MAX_ITEM_BYTES / 6);
readJsonModule.default = async req => {
  const raw = await rawBody(req);
  const body = JSON.parse(raw.toString());
  if (body && typeof body === "object") {
    requestBytes.set(body, raw.length);
    if (Array.isArray(body)) { // a batch: each operation's item came from this request
      for (const op of body) {
        if (op && op.resourceBody && typeof op.resourceBody === "object") {
          requestBytes.set(op.resourceBody, raw.length);
        }
      }
    }
  }
  return body;
};
function tooLarge(body) {
  const bytes = requestBytes.get(body);
  if (bytes !== undefined && bytes <= UNMEASURED_BYTES) return false;
  return Buffer.byteLength(JSON.stringify(body), "utf8") > MAX_ITEM_BYTES;
}
for (const name of ["createOperation", "replaceOperation", "upsertOperation"]) {
  const stock = documentOperations[name];
  documentOperations[name] = function sizeChecked(collection, input) {
    const body = input && input.resourceBody;
    if (body && tooLarge(body)) {
      return { statusCode: 413, body: { ...TOO_LARGE } };
    }
    return stock(collection, input);
  };
}

// A document's `_rid` is its collection's 8 bytes and the document counter's 8 (base64).
// The stock `_rid` parses the collection's rid and converts the counter through two
// big-integer libraries for every create (the costliest step of a create); the
// collection's 8 bytes are taken once from the stock rid of one document and the
// counter written as the stock code writes it (int32 little-endian, the type byte
// last), so each rid is the same string as before.
const stockDocumentRid = Documents.prototype._rid;
const DOCUMENT_BYTE = 0; // ResourceId.DocumentByte
Documents.prototype._rid = function rid(count) {
  const collection = this._parent.read();
  let prefix = this._cdcRidPrefix;
  if (!prefix || prefix.of !== collection._rid) {
    const sample = Buffer.from(stockDocumentRid.call(this, 1), "base64");
    prefix = { of: collection._rid, bytes: sample.length === 16 ? sample.subarray(0, 8) : null };
    this._cdcRidPrefix = prefix;
  }
  if (!prefix.bytes || !Number.isInteger(count) || count < 0 || count > 0x7fffffff) {
    return stockDocumentRid.call(this, count);
  }
  const out = Buffer.alloc(16);
  prefix.bytes.copy(out, 0);
  out.writeInt32LE(count, 8);
  out.writeInt8(DOCUMENT_BYTE << 4, 15);
  return out.toString("base64");
};

// A private marker the query handler puts in the (replayed) request body; it travels
// with the request, so concurrent queries cannot see each other's partition.
const PARTITION = "__cdcPartitionValue";
// rids per partition-key value, kept beside the server's own maps, so that a
// partition-scoped query costs what its partition holds (an index, as in Cosmos DB)
// rather than a pass over the whole container.
function partitions(items) {
  if (!items._cdcByPartition) items._cdcByPartition = new Map();
  return items._cdcByPartition;
}
const stockSet = Items.prototype._set;
Items.prototype._set = function set(data) {
  const out = stockSet.call(this, data);
  const key = this._getPartition(data);
  const byPartition = partitions(this);
  if (!byPartition.has(key)) byPartition.set(key, new Set());
  byPartition.get(key).add(data._rid);
  return out;
};
const stockDelete = Items.prototype.delete;
Items.prototype.delete = function del(idOrRid, partition) {
  const data = this._item("/id", idOrRid, partition).read();
  stockDelete.call(this, idOrRid, partition);
  const rids = data && partitions(this).get(this._getPartition(data));
  if (rids) rids.delete(data._rid);
};
// ---- time to live (learn.microsoft.com, "Time to Live (TTL) in Azure Cosmos DB") ----
/** Whether a document of `items` (a container's documents) has expired by now. */
function expired(items, data) {
  if (!data || !(items instanceof Documents)) return false;
  const container = items._parent.read();
  const fallback = container ? container.defaultTtl : undefined;
  if (fallback === undefined || fallback === null) return false; // TTL off: `ttl` ignored
  const ttl = data.ttl === undefined || data.ttl === null ? fallback : data.ttl;
  if (typeof ttl !== "number" || ttl <= 0) return false; // -1: never
  return Date.now() / 1000 >= data._ts + ttl;
}
/** Removes an expired document without going through `delete` (which reads it again). */
function drop(items, data) {
  const partition = items._getPartition(data);
  for (const keyPath of items._uniqueKeyPaths) {
    const value = getValue(keyPath.slice(1).split("/"), data);
    items._index.delete(items._getId(keyPath, value, partition));
  }
  items._data.delete(data._rid);
  const rids = partitions(items).get(partition);
  if (rids) rids.delete(data._rid);
}
/** Drops every expired document of a container: before a query or feed over all of it. */
function sweep(items) {
  if (!(items instanceof Documents)) return;
  const container = items._parent.read();
  if (!container || container.defaultTtl === undefined || container.defaultTtl === null) return;
  for (const item of [...items._data.values()]) {
    const data = item.read();
    if (expired(items, data)) drop(items, data);
  }
}
const stockLookup = Items.prototype._item;
Documents.prototype._item = function item(keyPath, keyPathValue, partition) {
  const found = stockLookup.call(this, keyPath, keyPathValue, partition);
  const data = found.read();
  if (data && expired(this, data)) {
    drop(this, data);
    return this._newItem();
  }
  return found;
};
const stockFeed = Items.prototype.read;
Items.prototype.read = function feed(options) {
  sweep(this);
  return stockFeed.call(this, options);
};

const stockItemsQuery = Items.prototype.query;
Items.prototype.query = function query(params, options) {
  if (!params || !(PARTITION in params) || !this._parent.read()) {
    sweep(this);
    return stockItemsQuery.call(this, params, options);
  }
  const { [PARTITION]: value, ...rest } = params;
  const data = [];
  for (const rid of [...(partitions(this).get(value) || [])]) {
    const item = this._data.get(rid);
    const doc = item && item.read();
    if (doc && expired(this, doc)) drop(this, doc);
    else if (doc) data.push(doc);
  }
  const parent = this._parent.read();
  const compositeIndexes = (parent.indexingPolicy ? parent.indexingPolicy.compositeIndexes
    : null) || [];
  try {
    return this._getQuery(rest.query).exec(data, {
      parameters: rest.parameters, udf: this._userDefinedFunctions(),
      maxItemCount: options.maxItemCount, continuation: options.continuation,
      compositeIndexes,
    });
  } catch (err) {
    err.badRequest = true;
    throw err;
  }
};

const NOT_FOUND = {
  code: "NotFound",
  message: "Entity with the specified id does not exist in the system.",
};

const stockRead = readDocument.default;
readDocument.default = async (account, req, res, params) => {
  try {
    return await stockRead(account, req, res, params);
  } catch (err) {
    // Only the missing-document TypeError (reading a property of null) becomes a 404.
    if (!(err instanceof TypeError) || !/null|undefined/.test(err.message)) throw err;
    res.statusCode = 404;
    return { ...NOT_FOUND };
  }
};

/** Adds `<alias><field> = @__cdc_partition_key` to the top-level WHERE of a Cosmos SQL
 * query (or adds a WHERE); null when the query has no FROM to anchor it. */
function addFilter(sql, field) {
  const top = [];
  let depth = 0;
  let quote = null;
  for (let i = 0; i < sql.length; i += 1) {
    const ch = sql[i];
    if (quote) {
      if (ch === "\\") i += 1;
      else if (ch === quote) quote = null;
      continue;
    }
    if (ch === "'" || ch === '"') quote = ch;
    else if (ch === "(" || ch === "[") depth += 1;
    else if (ch === ")" || ch === "]") depth -= 1;
    else if (depth === 0 && /[A-Za-z]/.test(ch) && (i === 0 || !/[\w@.$]/.test(sql[i - 1]))) {
      const m = /^(FROM|WHERE|ORDER\s+BY|GROUP\s+BY|OFFSET)\b/i.exec(sql.slice(i));
      if (m) {
        top.push({ kw: m[1].toUpperCase().replace(/\s+/, " "), at: i, len: m[0].length });
        i += m[0].length - 1;
      }
    }
  }
  const from = top.find(t => t.kw === "FROM");
  if (!from) return null;
  const names = /^\s*(\w+)(?:\s+(?:AS\s+)?(\w+))?/i.exec(sql.slice(from.at + from.len));
  if (!names) return null;
  const second = names[2] && !/^(JOIN|WHERE|ORDER|GROUP|OFFSET|IN)$/i.test(names[2]);
  const alias = second ? names[2] : names[1];
  const cond = `${alias}${field.split("/").filter(Boolean).map(p => `["${p}"]`).join("")}` +
    " = @__cdc_partition_key";
  const after = top.filter(t => t.at > from.at);
  const where = after.find(t => t.kw === "WHERE");
  const tail = after.find(t => t.kw !== "WHERE" && t.kw !== "FROM" && (!where || t.at > where.at));
  const end = tail ? tail.at : sql.length;
  if (where) {
    const start = where.at + where.len;
    return `${sql.slice(0, start)} (${cond}) AND (${sql.slice(start, end)}) ${sql.slice(end)}`;
  }
  return `${sql.slice(0, end)} WHERE ${cond} ${sql.slice(end)}`;
}

// Cosmos DB's limit on the operations of one transactional batch (learn.microsoft.com,
// "Transactional batch operations in Azure Cosmos DB").
const MAX_BATCH_OPERATIONS = 100;
const BATCH_OPERATIONS = {
  Create: "createOperation",
  Upsert: "upsertOperation",
  Read: "readOperation",
  Delete: "deleteOperation",
  Replace: "replaceOperation",
};

function isTrue(req, name) {
  return String(req.headers[name]).toLowerCase() === "true";
}

/** Runs the operations of one atomic batch, rolling the applied ones back in reverse
 * order at the first failure. Returns [httpStatus, per-operation results]. */
function runAtomicBatch(collection, operations, header, value) {
  const pkPath = collection.documents._getPartitionKeyPath();
  const undo = [];
  const results = [];
  let failed = -1;
  for (let i = 0; i < operations.length; i += 1) {
    const input = { ...(operations[i] || {}), partitionKey: header };
    const name = BATCH_OPERATIONS[input.operationType];
    const body = input.resourceBody;
    let result;
    if (!name) {
      result = { statusCode: 400, body: { message: `Operation type '${input.operationType}' is not supported in Batch.` } };
    } else if (body && getValue(pkPath, body) !== value) {
      result = { statusCode: 400, body: { message: "PartitionKey extracted from the document does not match the batch's" } };
    } else {
      const id = input.id !== undefined ? input.id : (body || {}).id;
      const before = id !== undefined ? collection.document(id, value).read() : null;
      result = documentOperations[name](collection, input);
      if (result.statusCode < 400 && name !== "readOperation") undo.push({ id, before });
    }
    if (result.statusCode >= 400) {
      failed = i;
      results.push({ statusCode: result.statusCode, requestCharge: 0 });
      break;
    }
    results.push({
      statusCode: result.statusCode,
      requestCharge: 1,
      eTag: result.body ? result.body._etag : undefined,
      resourceBody: result.body,
    });
  }
  if (failed < 0) return [200, results];
  for (const { id, before } of undo.reverse()) {
    if (collection.document(id, value).read()) collection.documents.delete(id, value);
    if (before) collection.documents._set(before);
  }
  const status = results[failed].statusCode;
  return [207, operations.map((_, i) => ({ statusCode: i === failed ? status : 424, requestCharge: 0 }))];
}

const stockBatch = batchDocuments.default;
batchDocuments.default = async (account, req, res, params) => {
  if (!isTrue(req, "x-ms-cosmos-batch-atomic")) return stockBatch(account, req, res, params);
  const operations = await readJson(req);
  const collection = account.database(params.dbId).collection(params.collId);
  if (!collection.read()) {
    res.statusCode = 404;
    return {};
  }
  const header = req.headers["x-ms-documentdb-partitionkey"];
  let value;
  try {
    value = JSON.parse(header)[0];
  } catch (err) {
    value = undefined;
  }
  if (!Array.isArray(operations) || value === undefined || typeof value === "object") {
    res.statusCode = 400;
    return { code: "BadRequest", message: "a batch needs its operations and one partition key" };
  }
  if (operations.length > MAX_BATCH_OPERATIONS) {
    res.statusCode = 400;
    return { code: "BadRequest", message: "Batch request has more operations than what is supported." };
  }
  const [status, results] = runAtomicBatch(collection, operations, header, value);
  res.statusCode = status;
  return results;
};

// The two query texts the SDK's read_items sends (azure/cosmos/_query_builder.py):
// `SELECT * FROM c WHERE ( ( c.id = @param_id0 AND c.pk = @param_pk00 ) OR ... )` and,
// for ids of one partition, `SELECT * FROM c WHERE c.pk = @pk AND c.id IN (@id0, ...)`.
const READ_MANY_PAIRS = /^SELECT \* FROM c WHERE \( (\( c\.id = @param_id\d+ AND c(?:\.\w+|\["[^"]+"\]) = @param_pk\d+0 \)(?: OR )?)+ \)$/;
const READ_MANY_IN = /^SELECT \* FROM c WHERE c\.(\w+) = @pk AND c\.id IN \((@id\d+(?:, )?)+\)$/;

/** The (id, partition value) pairs of a read-many query, or null for any other query. */
function readManyPairs(body, pkPath) {
  if (!body || typeof body.query !== "string") return null;
  const params = new Map((body.parameters || []).map(p => [p.name, p.value]));
  if (READ_MANY_PAIRS.test(body.query)) {
    const field = pkPath.length === 1 ? pkPath[0] : null;
    if (!field || !(body.query.includes(`c.${field} =`) || body.query.includes(`c["${field}"] =`))) return null;
    const pairs = [];
    for (const m of body.query.matchAll(/c\.id = (@param_id\d+) AND \S+ = (@param_pk\d+)/g)) {
      pairs.push([params.get(m[1]), params.get(m[2])]);
    }
    return pairs;
  }
  const inForm = READ_MANY_IN.exec(body.query);
  if (inForm && pkPath.length === 1 && inForm[1] === pkPath[0]) {
    const value = params.get("@pk");
    return [...body.query.matchAll(/@id\d+/g)].map(m => [params.get(m[0]), value]);
  }
  return null;
}

const stockQuery = queryDocuments.default;
queryDocuments.default = async (account, req, res, params) => {
  const collection = account.database(params.dbId).collection(params.collId);
  if (collection.read() && !req.headers["x-ms-continuation"]) {
    const raw = await rawBody(req);
    let body;
    try {
      body = JSON.parse(raw.toString());
    } catch (err) {
      body = null;
    }
    const pairs = readManyPairs(body, collection.documents._getPartitionKeyPath());
    if (pairs) {
      const found = [];
      for (const [id, value] of pairs) {
        const item = typeof id === "string" ? collection.document(id, value).read() : null;
        if (item && getValue(collection.documents._getPartitionKeyPath(), item) === value) found.push(item);
      }
      res.setHeader("x-ms-item-count", String(found.length));
      res.setHeader("x-cdc-read-many", String(pairs.length)); // tests: the lookup path ran
      return { Documents: found, _count: found.length };
    }
    const replay = Readable.from([raw]);
    replay.headers = req.headers;
    replay.method = req.method;
    replay.url = req.url;
    return scopedQuery(account, replay, res, params);
  }
  return scopedQuery(account, req, res, params);
};

async function scopedQuery(account, req, res, params) {
  const header = req.headers["x-ms-documentdb-partitionkey"];
  const cross = String(req.headers["x-ms-documentdb-query-enablecrosspartition"]) === "true";
  const coll = account.database(params.dbId).collection(params.collId).read();
  const paths = ((coll || {}).partitionKey || {}).paths || [];
  let value;
  try {
    value = header ? JSON.parse(header) : undefined;
  } catch (err) {
    value = undefined;
  }
  if (cross || !Array.isArray(value) || value.length !== 1 || typeof value[0] === "object"
      || paths.length !== 1) {
    return stockQuery(account, req, res, params);
  }
  const body = JSON.parse((await rawBody(req)).toString());
  const rewritten = typeof body.query === "string" ? addFilter(body.query, paths[0]) : null;
  if (rewritten) {
    body.query = rewritten;
    body.parameters = [...(body.parameters || []), { name: "@__cdc_partition_key", value: value[0] }];
    body[PARTITION] = value[0];
  }
  const replay = Readable.from([Buffer.from(JSON.stringify(body))]);
  replay.headers = { ...req.headers, "x-ms-documentdb-query-enablecrosspartition": "true" };
  delete replay.headers["content-length"];
  replay.method = req.method;
  replay.url = req.url;
  return stockQuery(account, replay, res, params);
}

const { createHttpsServer } = require(pkg);
const server = createHttpsServer({
  cert: fs.readFileSync(certPath),
  key: fs.readFileSync(keyPath),
  keepAlive: true,
});
server.keepAliveTimeout = 60000;
server.listen(Number(portArg), "127.0.0.1", () => {
  console.log(`cosmos ready on 127.0.0.1:${server.address().port}`);
});
// CDC_COSMOS_CPU_PROFILE=<file.cpuprofile>: the server's CPU profile from start to stop
// (written when the stack stops it), for finding where a request spends its time;
// `node --cpu-prof` cannot be passed through NODE_OPTIONS, which the stack inherits.
const profilePath = process.env.CDC_COSMOS_CPU_PROFILE;
let stopProfile = done => done();
if (profilePath) {
  const inspector = require("inspector");
  const session = new inspector.Session();
  session.connect();
  session.post("Profiler.enable", () => session.post("Profiler.start"));
  stopProfile = done => session.post("Profiler.stop", (err, result) => {
    if (!err) fs.writeFileSync(profilePath, JSON.stringify(result.profile));
    done();
  });
}
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => stopProfile(() => process.exit(0)));
