/* modelyard's status page: one file of plain JavaScript, no library, no build step.
 *
 * Why it is built the way it is:
 * - A short poll of GET /ui/api/state, the next one scheduled only after the last answer came
 *   (setTimeout, not setInterval), so a slow proxy never has polls piling up. It pauses while
 *   the tab is hidden and backs off to 5 s while the proxy does not answer, saying so.
 * - Everything the API says is untrusted (server names, paths, reasons, log text): it reaches
 *   the DOM only as textContent or through createElement, never as HTML.
 * - Rows are keyed (server name, request id) and updated in place, so a button keeps its focus
 *   and its "loading…" state across polls, and a click never lands on a row just replaced.
 * - The page's CSP forbids inline scripts, handlers and style attributes: handlers are attached
 *   here, and bar widths are set through element.style (the CSSOM, which the CSP allows).
 * - Actions are never disabled for want of a token: the server decides, and its refusal is
 *   written on the page, so what a caller may do is said in one place only.
 */
"use strict";

(() => {
  const POLL_MS = 1000;
  const BACKOFF_MS = 5000;
  const STATE_TIMEOUT_MS = 10000;
  const LOG_FIRST_OFFSET = -16384; // the last 16 KiB, then follow from the offset returned
  const LOG_KEEP_CHARS = 256 * 1024;
  const MAX_FILE_BYTES = 8 * 1024 * 1024;
  const GIB = 1024 ** 3;
  const ACTIONS = ["load", "unload", "sleep", "wake", "pin", "unpin"];
  const STATES = ["stopped", "starting", "ready", "sleeping", "asleep", "waking", "stopping",
    "failed", "remote"];
  const STORE = { key: "modelyard.apiKey", token: "modelyard.adminToken" };

  const $ = (selector) => document.querySelector(selector);
  const byTestId = (id) => document.querySelector(`[data-testid="${id}"]`);

  // -- formatting ---------------------------------------------------------------------------

  const dash = "—";
  const gib = (bytes) => (bytes == null ? dash : `${(bytes / GIB).toFixed(2)} GiB`);
  const secs = (s) => (s == null ? dash : `${Number(s).toFixed(1)} s`);
  const pad = (n) => String(n).padStart(2, "0");

  function clock(epochSeconds) {
    const d = new Date(epochSeconds * 1000);
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  /** Seconds to 1 decimal while short; uptimes of hours read better as hours and minutes. */
  function duration(s) {
    if (s == null) return dash;
    if (s < 100) return secs(s);
    const minutes = Math.floor(s / 60);
    if (minutes < 60) return `${minutes} min ${pad(Math.floor(s % 60))} s`;
    return `${Math.floor(minutes / 60)} h ${pad(minutes % 60)} min`;
  }

  function latency(ms) {
    if (ms == null) return dash;
    return ms < 1000 ? `${Math.round(ms)} ms` : secs(ms / 1000);
  }

  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(props)) {
      if (name === "text") node.textContent = value;
      else if (name === "className") node.className = value;
      else if (name === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(name, value);
    }
    node.append(...children); // strings become text nodes
    return node;
  }

  function setText(node, text) {
    const value = String(text);
    if (node.textContent !== value) node.textContent = value;
  }

  /** Replaces the children only when their text differs: a redraw each second would reset a
   * reader's text selection for nothing. */
  function replaceIfChanged(parent, children) {
    if (parent.textContent !== children.map((c) => c.textContent).join("")) {
      parent.replaceChildren(...children);
    }
  }

  /** Keeps one node per key in `parent`, in the order of `items`: made once, updated each poll. */
  function reconcile(parent, cache, items, keyOf, create, update) {
    const seen = new Set();
    let cursor = parent.firstElementChild;
    for (const item of items) {
      const key = keyOf(item);
      if (seen.has(key)) continue;
      seen.add(key);
      let node = cache.get(key);
      if (!node) {
        node = create(item);
        cache.set(key, node);
      }
      update(node, item);
      if (node === cursor) cursor = cursor.nextElementSibling;
      else parent.insertBefore(node, cursor);
    }
    for (const [key, node] of cache) {
      if (!seen.has(key)) {
        node.remove();
        cache.delete(key);
      }
    }
  }

  // -- credentials and HTTP -----------------------------------------------------------------

  // sessionStorage: credentials last as long as the tab, and are never written to disk by us.
  // Where storage is disabled the page still reads, without credentials.
  function stored(which) {
    try { return sessionStorage.getItem(STORE[which]) || ""; } catch { return ""; }
  }

  function store(which, value) {
    try {
      if (value) sessionStorage.setItem(STORE[which], value);
      else sessionStorage.removeItem(STORE[which]);
    } catch { /* nowhere to keep it */ }
  }

  function errorMessage(status, data) {
    const message = data && data.error && data.error.message;
    return message ? String(message) : `HTTP ${status}`;
  }

  /** One request; never throws. `admin`: send the admin token too (the /ui/api calls). */
  async function call(url, { method = "GET", body, timeoutMs, admin = true } = {}) {
    const headers = {};
    if (stored("key")) headers.Authorization = `Bearer ${stored("key")}`;
    if (admin && stored("token")) headers["x-modelyard-admin-token"] = stored("token");
    const init = { method, headers, cache: "no-store" };
    if (body !== undefined) {
      headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const abort = new AbortController();
    const timer = timeoutMs ? setTimeout(() => abort.abort(), timeoutMs) : null;
    init.signal = abort.signal;
    try {
      const response = await fetch(url, init);
      const data = await response.json().catch(() => null);
      const error = response.ok ? null : errorMessage(response.status, data);
      return { ok: response.ok, status: response.status, data, error, headers: response.headers };
    } catch (exc) {
      const error = exc.name === "AbortError"
        ? `no answer within ${timeoutMs / 1000} s`
        : `no answer from the proxy (${exc.message})`;
      return { ok: false, status: 0, data: null, error, headers: null };
    } finally {
      clearTimeout(timer);
    }
  }

  // -- the poll ------------------------------------------------------------------------------

  const poll = { timer: null, busy: false, again: false, lastAt: null };

  function schedule(ms) {
    clearTimeout(poll.timer);
    poll.timer = setTimeout(tick, ms);
  }

  function pollSoon() {
    if (poll.busy) poll.again = true;
    else schedule(0);
  }

  async function tick() {
    poll.timer = null;
    if (document.hidden || poll.busy) return; // visibilitychange starts it again
    poll.busy = true;
    let next = BACKOFF_MS;
    try {
      next = onState(await call("/ui/api/state", { timeoutMs: STATE_TIMEOUT_MS }));
    } catch (exc) {
      console.error(exc);
      showConnection(`The page could not show the answer (${exc.message}); retrying every 5 s.`);
    } finally {
      poll.busy = false;
    }
    if (poll.again) next = 0;
    poll.again = false;
    if (!document.hidden) schedule(next);
  }

  function onState(result) {
    const keyBox = $("#key-box");
    const keyError = $("#key-error");
    if (result.status === 401) {
      keyBox.classList.add("alert");
      keyError.hidden = false;
      setText(keyError, result.error);
      showConnection(`The proxy wants an API key: ${result.error}`);
      return BACKOFF_MS;
    }
    if (!result.ok) {
      const since = poll.lastAt == null ? "" : ` Shown: the last answer, from ${clock(poll.lastAt)}.`;
      showConnection(`The proxy is not answering (${result.error}); retrying every 5 s.${since}`);
      return BACKOFF_MS;
    }
    keyBox.classList.remove("alert");
    keyError.hidden = true;
    render(result.data);
    poll.lastAt = result.data.at;
    showConnection(null);
    return POLL_MS;
  }

  function showConnection(message) {
    const banner = $("#connection");
    banner.hidden = message == null;
    if (message != null) setText(banner, message);
    document.body.classList.toggle("stale", message != null);
  }

  // -- rendering the snapshot ------------------------------------------------------------------

  function render(state) {
    setText(byTestId("updated"), `updated ${clock(state.at)}`);
    renderAccess(state.access || {});
    renderSupervisor(state.supervisor || {});
    renderDevices(state.devices);
    renderServers(state.servers || []);
    renderQueue(state.queue);
    renderRequests(state.requests || []);
  }

  function renderAccess(access) {
    let text = "actions enabled";
    if (!access.operator) {
      if (!access.token_configured) text = "read-only: no admin token is configured";
      else if (stored("token")) text = "read-only: the admin token was not accepted";
      else text = "read-only: enter the admin token for actions";
    }
    const node = byTestId("access");
    setText(node, text);
    node.className = access.operator ? "pill ok" : "pill";
    $("#token-hint").hidden = Boolean(access.token_configured);
  }

  function renderSupervisor(supervisor) {
    const node = byTestId("supervisor");
    const text = supervisor.ok
      ? "supervisor: ok"
      : `supervisor: unreachable — ${supervisor.error || "no answer"}`;
    setText(node, text);
    node.className = supervisor.ok ? "pill ok" : "pill bad";
  }

  // -- devices -------------------------------------------------------------------------------

  const deviceNodes = new Map();

  function renderDevices(devices) {
    const empty = $("#devices-empty");
    const list = devices ? devices.devices || [] : [];
    let kind = "";
    if (devices) {
      const limit = devices.limit == null ? "" : `, ceiling ${Math.round(devices.limit * 100)} %`;
      kind = `(${devices.kind}${limit})`;
    }
    setText($("#devices-kind"), kind);
    reconcile($("#devices"), deviceNodes, list, (d) => d.key, createDevice, updateDevice);
    empty.hidden = list.length > 0;
    setText(empty, devices ? "No devices." : "No device data: the supervisor did not answer.");
  }

  function createDevice(device) {
    const bar = el("div", { className: "bar", role: "img" },
      el("div", { className: "bar-planned" }),
      el("div", { className: "bar-used" }),
      el("div", { className: "bar-ceiling" }));
    return el("article", { className: "device", dataset: { testid: "device", key: device.key } },
      el("h3"), bar, el("p", { className: "numbers" }), el("ul", { className: "holders plain" }));
  }

  function percent(part, total) {
    if (!total || part == null) return "0%";
    return `${Math.max(0, Math.min(100, (part / total) * 100)).toFixed(2)}%`;
  }

  function updateDevice(node, d) {
    const name = d.name ? ` · ${d.name}` : "";
    setText(node.querySelector("h3"), `device ${d.key}${name}`);
    const over = d.ceiling != null && Math.max(d.used ?? 0, d.planned ?? 0) > d.ceiling;
    node.classList.toggle("over", over);
    node.querySelector(".bar-planned").style.width = percent(d.planned, d.total);
    node.querySelector(".bar-used").style.width = percent(d.used, d.total);
    node.querySelector(".bar-ceiling").style.left = percent(d.ceiling, d.total);
    const summary = `used ${gib(d.used)}, planned ${gib(d.planned)}, ceiling ${gib(d.ceiling)}, `
      + `total ${gib(d.total)}`;
    node.querySelector(".bar").setAttribute("aria-label", summary);

    const numbers = node.querySelector(".numbers");
    const parts = [["used", d.used], ["planned", d.planned], ["ceiling", d.ceiling],
      ["total", d.total], ["free", d.free]];
    const children = parts.map(([label, bytes]) => el("span", { className: `num num-${label}` },
      el("span", { className: "num-label", text: label }), ` ${gib(bytes)}`));
    if (over) children.push(el("strong", { className: "num", text: "over the ceiling" }));
    replaceIfChanged(numbers, children);

    const holders = (d.holders || []).map((h) => el("li", {},
      el("span", { className: "holder-name", text: h.server }),
      ` ${gib(h.bytes)}`, el("span", { className: "muted", text: h.state ? ` (${h.state})` : "" })));
    if (!holders.length) holders.push(el("li", { className: "muted", text: "nothing holds memory" }));
    replaceIfChanged(node.querySelector(".holders"), holders);
  }

  // -- servers -------------------------------------------------------------------------------

  const serverRows = new Map();
  const pending = new Set(); // "name\naction" while that request runs
  const SERVER_FIELDS = ["state", "tier", "pinned", "port", "uptime", "idle", "in_flight",
    "restarts", "error", "cost", "wait"];

  function renderServers(servers) {
    const body = $("#servers tbody");
    reconcile(body, serverRows, servers, (s) => s.name, createServerRow, updateServerRow);
    $("#servers-empty").hidden = servers.length > 0;
  }

  function createServerRow(server) {
    const row = el("tr", { dataset: { testid: "server", name: server.name } },
      el("th", { scope: "row", text: server.name }));
    for (const field of SERVER_FIELDS) row.append(el("td", { dataset: { field } }));
    const actions = el("div", { className: "actions" });
    if (server.remote) {
      actions.append(el("span", { className: "muted", text: "hosted: no actions" }));
    } else {
      actions.append(...[...ACTIONS, "logs"].map((action) =>
        el("button", { type: "button", text: action, dataset: { action } })));
    }
    row.append(el("td", { dataset: { field: "actions" } }, actions));
    return row;
  }

  function stateText(s) {
    let text = s.state;
    if (s.sleep_level != null && (s.state === "asleep" || s.state === "sleeping")) {
      text += ` (level ${s.sleep_level})`;
    }
    if (s.draining) text += ", draining";
    return text;
  }

  function costText(costs) {
    const parts = [];
    for (const kind of ["start", "wake"]) {
      const c = costs && costs[kind];
      if (!c || c.seconds == null) continue;
      const seen = c.observed ? `${c.observed} seen` : "estimate";
      parts.push(`${kind} ${secs(c.seconds)} (${seen})`);
    }
    return parts.length ? parts.join("\n") : dash; // one per line: the cell stays narrow
  }

  function waitText(s) {
    const p = s.predicted_wait;
    let text = dash;
    if (p) {
      const prefix = `${s.name}: `; // the scheduler names the server; its row already does
      const reason = String(p.reason ?? "").startsWith(prefix) ? p.reason.slice(prefix.length) : p.reason;
      // the reason can run long ("does not fit even after evictions ..."): a short one in the
      // cell, the whole in its title, so a row stays a few lines tall
      const short = reason && reason.length > 40 ? `${reason.slice(0, 39)}…` : reason;
      text = `${p.seconds == null ? "unknown" : secs(p.seconds)}${short ? ` (${short})` : ""}`;
    }
    if (s.waiting) text += `, ${s.waiting} waiting`;
    return text;
  }

  function errorText(s) {
    if (s.reason) return s.reason;
    return s.exit_code != null ? `exit code ${s.exit_code}` : dash;
  }

  function updateServerRow(row, s) {
    const cell = (field) => row.querySelector(`td[data-field="${field}"]`);
    const values = {
      state: stateText(s),
      tier: s.tier ?? dash,
      pinned: s.pinned ? "pinned" : "no",
      port: s.port ?? dash,
      uptime: duration(s.uptime_s),
      idle: duration(s.idle_s),
      in_flight: s.in_flight ?? 0,
      restarts: s.restarts ?? 0,
      error: errorText(s),
      cost: costText(s.costs),
      wait: waitText(s),
    };
    for (const [field, value] of Object.entries(values)) setText(cell(field), value);
    const state = cell("state");
    state.className = STATES.includes(s.state) ? `state state-${s.state}` : "state";
    cell("error").title = s.reason || "";
    cell("wait").title = s.predicted_wait?.reason || "";
    row.classList.toggle("failed", s.state === "failed");
    for (const button of row.querySelectorAll("button[data-action]")) {
      const busy = pending.has(`${s.name}\n${button.dataset.action}`);
      button.disabled = busy;
      setText(button, busy ? "loading…" : button.dataset.action);
    }
  }

  function notice(text, kind) {
    const node = byTestId("notice");
    setText(node, text);
    node.className = `notice ${kind}`;
  }

  async function runAction(name, action, button) {
    const key = `${name}\n${action}`;
    if (pending.has(key)) return;
    pending.add(key);
    button.disabled = true;
    setText(button, "loading…");
    notice(`${name}: ${action}…`, "busy");
    const path = `/ui/api/servers/${encodeURIComponent(name)}/${action}`;
    const result = await call(path, { method: "POST" });
    pending.delete(key);
    button.disabled = false;
    setText(button, action);
    if (result.ok) notice(`${name}: ${action} done`, "ok");
    else notice(result.error, "error");
    pollSoon();
  }

  // -- the log tail --------------------------------------------------------------------------

  const logs = { name: null, generation: 0, timer: null, offset: 0, text: "", loaded: false };

  function openLogs(name) {
    closeLogs();
    Object.assign(logs, { name, offset: LOG_FIRST_OFFSET, text: "", loaded: false });
    const generation = logs.generation;
    setText($("#logs-name"), name);
    setText($("#logs-state"), "loading…");
    byTestId("logs").textContent = "";
    $("#logs-box").hidden = false;
    $("#logs-box").scrollIntoView({ block: "nearest" });
    followLogs(generation);
  }

  function closeLogs() {
    logs.generation += 1; // a request still in flight for the old view is dropped on arrival
    clearTimeout(logs.timer);
    logs.name = null;
    $("#logs-box").hidden = true;
  }

  async function followLogs(generation) {
    if (generation !== logs.generation) return;
    if (document.hidden) {
      logs.timer = setTimeout(() => followLogs(generation), BACKOFF_MS);
      return;
    }
    const path = `/ui/api/servers/${encodeURIComponent(logs.name)}/logs?offset=${logs.offset}`;
    const result = await call(path, { timeoutMs: STATE_TIMEOUT_MS });
    if (generation !== logs.generation) return;
    const pre = byTestId("logs");
    if (result.ok && result.data) {
      const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
      const text = String(result.data.text ?? "");
      if (text || !logs.loaded) {
        logs.text = (logs.text + text).slice(-LOG_KEEP_CHARS);
        pre.textContent = logs.text || "(the log is empty)";
        if (atBottom || !logs.loaded) pre.scrollTop = pre.scrollHeight;
      }
      logs.loaded = true;
      logs.offset = result.data.offset ?? logs.offset;
      setText($("#logs-state"), "(following)");
    } else {
      if (!logs.loaded) pre.textContent = result.error;
      setText($("#logs-state"), `(${result.error}; retrying)`);
    }
    logs.timer = setTimeout(() => followLogs(generation), result.ok ? POLL_MS : BACKOFF_MS);
  }

  // -- queue ---------------------------------------------------------------------------------

  const waitingNodes = new Map();

  function describeDecision(decision) {
    if (decision == null) return dash;
    if (typeof decision !== "object") return String(decision);
    return Object.entries(decision)
      .map(([k, v]) => `${k}: ${typeof v === "object" && v !== null ? JSON.stringify(v) : v}`)
      .join("; ");
  }

  function waitingText(w) {
    const requests = w.requests || [];
    const oldest = requests.length ? Math.max(...requests.map((r) => r.waited_s)) : null;
    const deadlines = requests.map((r) => r.deadline_in_s).filter((d) => d != null);
    let text = `${w.server}: ${w.count} waiting, oldest ${secs(oldest)}, predicted wait `;
    text += w.predicted_wait_s == null ? "unknown" : secs(w.predicted_wait_s);
    if (deadlines.length) text += `, first deadline in ${secs(Math.min(...deadlines))}`;
    return text;
  }

  function renderQueue(queue) {
    const q = queue || { waiting: [], loading: [], draining: {}, decision: null };
    setText($("#queue-policy"), queue ? `(${queue.policy})` : "(no data: supervisor unreachable)");
    const waiting = q.waiting || [];
    reconcile($("#waiting"), waitingNodes, waiting, (w) => w.server,
      (w) => el("p", { className: "waiting", dataset: { testid: "waiting", server: w.server } }),
      (node, w) => setText(node, waitingText(w)));
    $("#waiting-none").hidden = waiting.length > 0;
    const loading = q.loading || [];
    setText($("#loading"), `loading: ${loading.length ? loading.join(", ") : "nothing"}`);
    const drains = Object.entries(q.draining || {}).map(([victim, d]) => el("li", {
      text: `${victim} drains for ${d.for ?? "?"}, since ${secs(d.since_s)}`,
    }));
    replaceIfChanged($("#draining"), drains);
    setText($("#decision"), describeDecision(q.decision));
  }

  // -- recent requests -----------------------------------------------------------------------

  const requestRows = new Map();

  function renderRequests(requests) {
    reconcile($("#requests tbody"), requestRows, requests, (r) => r.id || `${r.at} ${r.path}`,
      createRequestRow, () => {});
    $("#requests-empty").hidden = requests.length > 0;
    setText($("#requests-count"), requests.length ? `(${requests.length}, newest first)` : "");
  }

  function createRequestRow(r) {
    const tried = Array.isArray(r.tried) ? r.tried : String(r.tried || "").split(",").filter(Boolean);
    const triedCell = el("td", { dataset: { field: "tried" } });
    if (r.fallback) triedCell.append(el("span", { className: "badge", text: "fallback" }), " ");
    triedCell.append(tried.length ? tried.join(" → ") : dash);
    const status = r.status === 0 ? "client left" : String(r.status);
    const cells = [
      ["at", clock(r.at)],
      ["path", `${r.method || ""} ${r.path || ""}`.trim()],
      ["intent", r.intent ?? dash],
      ["language", r.language ?? dash],
      ["route", r.route ?? dash],
      ["model", r.model ?? dash],
    ].map(([field, text]) => el("td", { dataset: { field }, text }));
    const row = el("tr", { dataset: { testid: "request", requestId: r.id || "" } }, ...cells,
      triedCell,
      el("td", { dataset: { field: "degraded" }, className: r.degraded ? "degraded" : "",
        text: r.degraded ?? dash }),
      el("td", { dataset: { field: "status" }, className: r.status >= 400 || r.status === 0
        ? "status-bad" : "", text: status }),
      el("td", { dataset: { field: "latency" }, className: "number", text: latency(r.ms) }));
    if (r.fallback) {
      row.dataset.fallback = "true";
      row.classList.add("fallback");
    }
    return row;
  }

  // -- try it --------------------------------------------------------------------------------

  function readDataUrl(file) {
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.addEventListener("load", () => resolve(String(reader.result)));
      reader.addEventListener("error", () => reject(reader.error));
      reader.readAsDataURL(file);
    });
  }

  function audioFormat(file) {
    const name = file.name.toLowerCase();
    if (/^audio\/(wav|x-wav|wave|vnd\.wave)$/.test(file.type) || name.endsWith(".wav")) return "wav";
    if (/^audio\/(mpeg|mp3)$/.test(file.type) || name.endsWith(".mp3")) return "mp3";
    return null;
  }

  async function tryContent(prompt, file) {
    if (!file) return prompt;
    if (file.size > MAX_FILE_BYTES) throw new Error("the file is over 8 MB");
    const url = await readDataUrl(file);
    const parts = prompt ? [{ type: "text", text: prompt }] : [];
    if (file.type.startsWith("image/")) {
      parts.push({ type: "image_url", image_url: { url } });
    } else {
      const format = audioFormat(file);
      if (!format) throw new Error("only an image or wav/mp3 audio can be sent");
      parts.push({ type: "input_audio", input_audio: { data: url.slice(url.indexOf(",") + 1), format } });
    }
    return parts;
  }

  function answerText(data) {
    const message = data && data.choices && data.choices[0] && data.choices[0].message;
    if (!message) return JSON.stringify(data, null, 2);
    if (Array.isArray(message.content)) {
      return message.content.map((p) => p.text || "").join("");
    }
    return message.content ?? `(no text; finish_reason ${data.choices[0].finish_reason})`;
  }

  function headerText(headers) {
    if (!headers) return dash;
    const lines = ["x-modelyard-model", "x-modelyard-route", "x-modelyard-tried"]
      .map((name) => `${name}: ${headers.get(name) ?? dash}`);
    headers.forEach((value, name) => {
      if (name.startsWith("x-modelyard-") && !lines.some((l) => l.startsWith(`${name}:`))) {
        lines.push(`${name}: ${value}`);
      }
    });
    return lines.join("\n");
  }

  async function trySend() {
    const button = $("#try-send");
    const routeOut = byTestId("try-route");
    const answerOut = byTestId("try-answer");
    const headersOut = byTestId("try-headers");
    const prompt = $("#try-prompt").value.trim();
    const file = $("#try-file").files[0];
    if (!prompt && !file) {
      answerOut.textContent = "Write a prompt or choose a file first.";
      return;
    }
    button.disabled = true;
    setText(button, "sending…");
    routeOut.textContent = "asking /route…";
    answerOut.textContent = "";
    headersOut.textContent = "";
    try {
      const content = await tryContent(prompt, file);
      const body = { model: "auto", messages: [{ role: "user", content }], max_tokens: 32 };
      const decision = await call("/route?endpoint=/v1/chat/completions",
        { method: "POST", body, admin: false });
      routeOut.textContent = decision.ok ? JSON.stringify(decision.data, null, 2) : decision.error;
      answerOut.textContent = "waiting for the answer (a server may be loading)…";
      const chat = await call("/v1/chat/completions", { method: "POST", body, admin: false });
      answerOut.textContent = chat.ok ? answerText(chat.data) : chat.error;
      headersOut.textContent = headerText(chat.headers);
    } catch (exc) {
      if (routeOut.textContent === "asking /route…") routeOut.textContent = "";
      answerOut.textContent = `Not sent: ${exc.message}`;
    } finally {
      button.disabled = false;
      setText(button, "Send");
      pollSoon();
    }
  }

  // -- wiring --------------------------------------------------------------------------------

  function wireCredential(which, inputId, buttonId) {
    const input = $(inputId);
    const button = $(buttonId);
    const label = button.textContent;
    input.value = stored(which);
    const save = () => {
      store(which, input.value.trim());
      setText(button, input.value.trim() ? "Saved" : "Cleared");
      setTimeout(() => setText(button, label), 1500);
      pollSoon();
    };
    button.addEventListener("click", save);
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") save();
    });
  }

  function start() {
    wireCredential("key", "#api-key", "#save-key");
    wireCredential("token", "#admin-token", "#save-token");
    $("#servers tbody").addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (!button || button.disabled) return;
      const name = button.closest("tr").dataset.name;
      if (button.dataset.action === "logs") openLogs(name);
      else runAction(name, button.dataset.action, button);
    });
    $("#logs-close").addEventListener("click", closeLogs);
    $("#try-send").addEventListener("click", trySend);
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) pollSoon();
    });
    tick();
  }

  start();
})();
