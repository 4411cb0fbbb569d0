// troupe serve's page: pick a scenario, start a run, watch it live (SSE over fetch, so the token can go
// in a header), answer a user agent, stop it, open past runs. Every text from the server is set with
// textContent: model output is never HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const EMPTY = "Pick a scenario and start a run, or open a past run.";
const PALETTE = ["#2f6fde", "#d9822b", "#2e8b57", "#9b59b6", "#c0392b", "#16a085", "#b7950b", "#7f8c8d"];
const state = {
  token: sessionStorage.getItem("troupe-token"),
  scenarios: new Map(),
  shown: 0,         // how many times a scenario was asked for: only the latest answer is drawn
  run: null,        // summary of the run on screen
  entries: [],      // its transcript entries so far
  lastSeq: -1,
  stream: null,     // AbortController of the event stream
  colors: new Map(),
  streaming: null,  // {source, li} of the message being streamed
  question: null,
  closed: new Set(), // ids of questions the server closed (answered, or timed out)
  ticker: null,
  tokens: null,     // the open run's tokens, as its header shows them
  note: null,       // what a model of the open run is doing before it answers (a `model` event)
  opening: null,    // the run being opened (the address may change again meanwhile)
};

// ------------------------------------------------------------------ the API

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (state.token) headers.Authorization = "Bearer " + state.token;
  const init = { method: options.method || "GET", headers };
  if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(options.body);
  }
  const r = await fetch(path, init);
  if (r.status === 401) {
    await askToken();
    return api(path, options);
  }
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error((data.error && data.error.message) || `${r.status} ${r.statusText}`);
  return data;
}

function askToken() {
  return new Promise((resolve) => {
    const dialog = $("token-dialog");
    $("token-form").onsubmit = () => {
      state.token = $("token-input").value.trim();
      sessionStorage.setItem("troupe-token", state.token);
      resolve();
    };
    if (!dialog.open) dialog.showModal();
  });
}

// ------------------------------------------------------------------ scenarios and starting

async function loadScenarios() {
  const { scenarios } = await api("/api/scenarios");
  const select = $("scenario");
  select.replaceChildren();
  for (const s of scenarios) {
    state.scenarios.set(s.name, s);
    const note = s.eval_template ? "  (eval template)" : s.asks_user ? "  (asks you)" : "";
    select.append(new Option(s.name + note, s.name));
  }
  const asked = state.shown;
  state.maxRuns = (await api("/api/health")).max_runs;
  // The first scenario is drawn unless one was chosen meanwhile: drawing it again later would put back
  // its task over what the person typed since.
  if (scenarios.length && state.shown === asked) await showScenario(select.value);
}

async function showScenario(name) {
  const asked = ++state.shown;
  const s = await api("/api/scenarios/" + encodeURIComponent(name));
  if (asked !== state.shown) return;  // another scenario was chosen while this one was on its way
  const template = s.eval_template;  // its task holds {{names}} only `troupe eval` fills: ask for one
  $("scenario-description").textContent = (s.description || "") +
    (template ? ` An eval template: give a task, or run it with ${template.run_with}.` : "");
  $("task").value = s.task || "";
  $("task").placeholder = template ? `A task, for example: ${template.task}` : "";
  $("scenario-source").textContent = s.source;
  const agents = $("scenario-agents");
  agents.replaceChildren();
  for (const a of s.agents) {
    const li = document.createElement("li");
    li.textContent = a.kind === "user" ? `${a.name} (you)` : a.name;
    li.title = a.description;
    if (a.kind === "user") li.className = "user";
    agents.append(li);
  }
  drawGraph($("scenario-graph"), s.graph, []);
}

async function start() {
  $("start-error").textContent = "";
  const body = { scenario: $("scenario").value, task: $("task").value };
  const profile = $("model-profile").value.trim();
  const model = $("model-id").value.trim();
  if (profile || model) body.model = { ...(profile && { profile }), ...(model && { model }) };
  $("start").disabled = true;
  try {
    const run = await api("/api/runs", { method: "POST", body });
    openRun(run.id, run);
    $("run").scrollIntoView({ block: "start" }); // on a phone the run is below the form
    refreshRuns();
  } catch (e) {
    $("start-error").textContent = e.message;
  } finally {
    $("start").disabled = false;
  }
}

// ------------------------------------------------------------------ the runs list

function ago(epoch) {
  const s = Math.max(0, Date.now() / 1000 - epoch);
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(epoch * 1000).toLocaleDateString();
}

async function refreshRuns() {
  let runs;
  try {
    ({ runs } = await api("/api/runs"));
  } catch (e) {
    return;
  }
  const going = runs.filter((r) => r.live).length;
  $("server-info").textContent = `${state.scenarios.size} scenarios · ${going} of ${state.maxRuns} runs going`;
  const list = $("runs");
  list.replaceChildren();
  for (const r of runs.slice(0, 100)) {
    const li = document.createElement("li");
    li.dataset.id = r.id;
    if (state.run && state.run.id === r.id) li.className = "current";
    const dot = document.createElement("span");
    dot.className = "dot " + r.status;
    dot.title = r.status;
    const name = document.createElement("strong");
    name.textContent = r.scenario;
    const when = document.createElement("span");
    when.className = "when";
    when.textContent = ago(r.started_at);
    const task = document.createElement("span");
    task.className = "task";
    li.summary = r;
    task.textContent = rowLine(r);
    li.append(dot, name, when, task);
    li.onclick = () => openRun(r.id, r);
    list.append(li);
  }
}

// A run's line in the list. The open run's tokens are the header's count (its entries so far), so the two
// never disagree while the list waits for its next refresh.
function rowLine(r) {
  const open = state.run && state.run.id === r.id && state.tokens !== null;
  return `${r.status} · ${open ? state.tokens : r.usage.total_tokens} tokens · ${r.task || ""}`;
}

// ------------------------------------------------------------------ one run

function colorOf(agent) {
  if (!state.colors.has(agent)) state.colors.set(agent, PALETTE[state.colors.size % PALETTE.length]);
  return state.colors.get(agent);
}

// The run the address names (#run=ID), or null.
function runInHash() {
  const wanted = /run=([\w.-]+)/.exec(location.hash);
  return wanted ? wanted[1] : null;
}

// The address changed (Back, Forward, a pasted link): show the run it names, or none.
async function followHash() {
  const id = runInHash();
  if (!id) return closeRun();
  if (state.run && state.run.id === id) return;
  state.opening = id;
  let summary;
  try {
    summary = await api("/api/runs/" + encodeURIComponent(id));
  } catch (e) {
    summary = null;
  }
  if (state.opening !== id) return; // the address moved on while we asked
  if (summary) openRun(id, summary);
  else {
    closeRun();
    $("empty").textContent = `There is no run ${id} on this server.`;
  }
}

function closeRun() {
  if (state.stream) state.stream.abort();
  clearInterval(state.ticker);
  showQuestion(null);
  showNote(null);
  Object.assign(state, { run: null, entries: [], lastSeq: -1, streaming: null, stream: null, tokens: null });
  $("run").hidden = true;
  $("empty").hidden = false;
  $("empty").textContent = EMPTY;
  document.querySelector(".layout").classList.remove("has-run");
  for (const li of $("runs").children) li.classList.remove("current");
}

function openRun(id, summary) {
  if (state.stream) state.stream.abort();
  state.opening = id;
  // An ended run's messages come again over its event stream: "loading" until its `done` event says so.
  const run = summary && !summary.live ? { ...summary, status: "loading" } : summary || { id };
  Object.assign(state, { run, entries: [], lastSeq: -1, streaming: null, colors: new Map(), tokens: null });
  if (runInHash() !== id) location.hash = "run=" + id;
  $("empty").hidden = true;
  $("run").hidden = false;
  document.querySelector(".layout").classList.add("has-run"); // on a phone the run comes first
  $("messages").replaceChildren();
  showQuestion(null);
  showNote(null);
  showHead();
  draw();
  follow(id);
  for (const li of $("runs").children) li.classList.toggle("current", li.dataset.id === id);
}

function showHead() {
  const r = state.run;
  $("run-title").textContent = r.scenario || r.id;
  $("run-task").textContent = r.task || "";
  const status = r.status || "running";
  $("run-status").textContent = status;
  $("run-status").className = "badge " + status;
  $("stop").hidden = !r.live;
  // a run cut by a restart, a stop or a failure goes on from its tape (the server says when it cannot)
  $("resume").hidden = r.live || !["stopped", "unfinished", "failed"].includes(status);
  const ending = [];
  if (r.stop_reason) ending.push(r.stop_reason);
  if (r.error) ending.push(r.error);
  if (r.transcript) ending.push("transcript: " + r.transcript);
  $("run-ending").textContent = ending.join(" · ");
  clearInterval(state.ticker);
  const tick = () => {
    const elapsed = r.live ? Date.now() / 1000 - r.started_at : r.elapsed_s;
    $("run-elapsed").textContent = elapsed == null ? "" : `${elapsed.toFixed(1)} s`;
  };
  tick();
  if (r.live) state.ticker = setInterval(tick, 250);
}

async function follow(id) {
  const controller = new AbortController();
  state.stream = controller;
  for (let attempt = 0; attempt < 20 && !controller.signal.aborted; attempt++) {
    try {
      const headers = { "Last-Event-ID": String(state.lastSeq) };
      if (state.token) headers.Authorization = "Bearer " + state.token;
      const r = await fetch(`/api/runs/${encodeURIComponent(id)}/events`, { headers, signal: controller.signal });
      if (r.status === 401) { await askToken(); continue; }
      if (!r.ok) throw new Error(`${r.status}`);
      if (await readEvents(r.body)) return; // the run ended
    } catch (e) {
      if (controller.signal.aborted) return;
    }
    await new Promise((ok) => setTimeout(ok, 1000)); // the connection dropped: resume after lastSeq
  }
}

async function readEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return false;
    buffer += value;
    let cut;
    while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, "");
      const event = parseEvent(block);
      if (event && handle(event)) return true;
    }
  }
}

function parseEvent(block) {
  let event = "message", id = null;
  const data = [];
  for (const line of block.split(/\r?\n/)) {
    if (line.startsWith("event:")) event = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
    else if (line.startsWith("id:")) id = Number(line.slice(3).trim());
  }
  if (!data.length) return null;
  return { event, id, data: JSON.parse(data.join("\n")) };
}

// One event; true when the run has ended.
function handle({ event, id, data }) {
  if (id !== null) {
    if (id <= state.lastSeq) return false;
    state.lastSeq = id;
  }
  if (event === "model") {
    showNote(data);
    return false;
  }
  const note = state.note;
  const answered = (event === "chunk" || event === "entry") && note && [null, data.source].includes(note.agent);
  if (answered || event === "input" || event === "done") showNote(null); // not on the task passed on meanwhile
  if (event === "chunk") streamChunk(data);
  else if (event === "entry") addEntry(data);
  else if (event === "input") showQuestion(data);
  else if (event === "input_closed") closeQuestion(data.id);
  else if (event === "status") {
    state.run.status = data.status;
    showHead();
    refreshRuns(); // the list shows the same status (waiting, running) and tokens as the header
  } else if (event === "done") {
    state.run = { ...state.run, ...data, live: false };
    showQuestion(null);
    endStream();
    showHead();
    draw();
    refreshRuns();
    return true;
  }
  return false;
}

// ------------------------------------------------------------------ messages

function messageItem(source, kind, entry) {
  const li = document.createElement("li");
  li.className = "msg " + kind;
  li.style.setProperty("--agent", colorOf(source));
  const head = document.createElement("header");
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = source;
  const what = document.createElement("span");
  what.className = "muted what";
  what.textContent = kind;
  const meta = document.createElement("span");
  meta.className = "muted meta";
  head.append(who, what, meta);
  li.append(head);
  if (entry) setMeta(li, entry);
  $("messages").append(li);
  li.scrollIntoView({ block: "nearest" });
  return li;
}

function setMeta(li, entry) {
  const parts = [`${entry.elapsed_s.toFixed(1)} s`];
  if (entry.usage) parts.push(`${entry.usage.prompt_tokens}+${entry.usage.completion_tokens} tokens`);
  li.querySelector(".meta").textContent = parts.join(" · ");
}

function textBlock(li, text) {
  const div = document.createElement("div");
  div.className = "content";
  div.textContent = text;
  li.append(div);
  return div;
}

function folded(li, summary, body, isError) {
  const d = document.createElement("details");
  if (isError) d.className = "is-error";
  const s = document.createElement("summary");
  s.textContent = summary;
  const pre = document.createElement("pre");
  pre.textContent = body;
  d.append(s, pre);
  li.append(d);
}

function streamChunk(chunk) {
  if (!state.streaming || state.streaming.source !== chunk.source) {
    endStream();
    const li = messageItem(chunk.source, "streaming", null);
    li.classList.add("text");
    state.streaming = { source: chunk.source, li, div: textBlock(li, "") };
  }
  state.streaming.div.textContent += chunk.content;
}

function endStream() {
  if (state.streaming) state.streaming.li.classList.remove("streaming");
  state.streaming = null;
}

function pretty(json) {
  try {
    return JSON.stringify(JSON.parse(json), null, 2);
  } catch (e) {
    return json;
  }
}

// A structured answer (an agent's output_schema) as an indented outline of its fields, as plain text.
function outline(value, indent = "") {
  if (Array.isArray(value)) {
    if (!value.length) return "[]";
    return value.map((v) => {
      const inner = outline(v, indent + "  ");
      return `${indent}- ${isLeaf(v) ? inner : inner.trimStart()}`;
    }).join("\n");
  }
  if (value && typeof value === "object") {
    const keys = Object.keys(value);
    if (!keys.length) return "{}";
    return keys.map((k) => {
      const v = value[k];
      return isLeaf(v) ? `${indent}${k}: ${outline(v)}` : `${indent}${k}:\n${outline(v, indent + "  ")}`;
    }).join("\n");
  }
  return typeof value === "string" ? value : JSON.stringify(value);
}

function isLeaf(v) {
  return v === null || typeof v !== "object" || (Array.isArray(v) ? !v.length : !Object.keys(v).length);
}

function addEntry(e) {
  state.entries.push(e);
  const streamed = state.streaming && state.streaming.source === e.source && e.kind === "text";
  if (streamed) {
    const { li, div } = state.streaming;
    div.textContent = e.structured ? outline(e.structured) : e.content;
    if (e.structured) div.classList.add("structured");
    li.querySelector(".what").textContent = e.structured ? "structured" : "text";
    setMeta(li, e);
    endStream();
  } else {
    endStream();
    renderEntry(e);
  }
  draw();
}

function renderEntry(e) {
  if (e.kind === "text" || e.kind === "handoff") {
    const li = messageItem(e.source, "text", e);
    if (e.kind === "handoff") li.querySelector(".what").textContent = "handoff → " + e.target;
    if (e.structured) {
      li.querySelector(".what").textContent = "structured";
      textBlock(li, outline(e.structured)).classList.add("structured");
    } else {
      textBlock(li, e.content);
    }
  } else if (e.kind === "thought") {
    const li = messageItem(e.source, "tool", e);
    li.querySelector(".what").textContent = "thought";
    folded(li, e.content.split("\n")[0].slice(0, 120), e.content, false);
  } else if (e.kind === "tool_call") {
    const li = messageItem(e.source, "tool", e);
    li.querySelector(".what").textContent = "tool call";
    for (const c of e.calls) folded(li, `→ ${c.name}(${c.arguments})`, pretty(c.arguments), false);
  } else if (e.kind === "tool_result") {
    const li = messageItem(e.source, "tool", e);
    li.querySelector(".what").textContent = "tool result";
    for (const r of e.results) folded(li, `← ${r.name}: ${r.content.slice(0, 160)}`, r.content, r.is_error);
  } else if (e.kind === "route") {
    const li = messageItem(e.source, "event", e);
    li.querySelector(".what").textContent = routeText(e);
  } else if (e.kind === "guard") {
    const li = messageItem(e.source, "event", e);
    li.querySelector(".what").textContent = "guard " + e.guard;
    textBlock(li, e.content);
  } else if (e.kind === "mcp" && e.what === "approval") {
    const li = messageItem(e.source, "event", e);
    li.querySelector(".what").textContent = "approval";
    textBlock(li, e.content);
  } else if (e.type !== "UserInputRequestedEvent") {
    const li = messageItem(e.source, "event", e);
    li.querySelector(".what").textContent = e.type || e.kind;
  }
}

// ------------------------------------------------------------------ what a model is doing

// A model's status before it answers ("loading the engine (…)", "planner: waiting for the first token"),
// with the seconds since it began; null takes it away.
function showNote(note) {
  state.note = note;
  const p = $("run-note");
  clearInterval(p.ticker);
  p.hidden = !note;
  if (!note) return;
  const since = Date.now();
  const tick = () => {
    p.textContent = `${note.message}… ${Math.floor((Date.now() - since) / 1000)} s`;
  };
  tick();
  p.ticker = setInterval(tick, 1000);
}

// ------------------------------------------------------------------ a user agent's question

function showQuestion(q) {
  state.question = q;
  const form = $("answer");
  clearInterval(form.countdown);
  form.hidden = !q;
  document.body.classList.toggle("asking", !!q);
  if (!q) return;
  const mcp = q.kind === "mcp" ? q.mcp : null;
  const call = q.kind === "approval" ? q.approval : null; // a tool call waiting for a yes
  $("answer-label").textContent = mcp
    ? `MCP server ${mcp.server} asks: ${mcp.message}` + (mcp.url ? ` (open ${mcp.url})` : "")
    : call ? `${q.agent} wants to call ${call.tool} on MCP server ${call.server}. Allow it?`
    : q.kind === "approval" ? q.prompt : `${q.agent} — your answer`;
  // the arguments as text, never markup: they come from a model
  $("answer-detail").hidden = !call;
  $("answer-detail").textContent = call ? JSON.stringify(call.arguments, null, 2) : "";
  $("answer-allow").hidden = $("answer-deny").hidden = q.kind !== "approval";
  $("answer-text").value = mcp ? formTemplate(mcp.schema) : "";
  $("answer-problem").textContent = "";
  const tick = () => {
    const left = Math.max(0, q.asked_at + q.timeout_s - Date.now() / 1000);
    $("answer-countdown").textContent = mcp
      ? `${Math.ceil(left)} s left; Send accepts these fields, an empty box declines`
      : `${Math.ceil(left)} s left; with no answer it says “${q.default_answer}”`;
  };
  tick();
  form.countdown = setInterval(tick, 1000);
  $("answer-text").focus({ preventScroll: true });
  // On a phone it is pinned to the bottom of the screen (CSS); elsewhere brought into view.
  form.scrollIntoView({ block: "nearest" });
}

// The server closed question `id`: hidden if it is the one shown, never a newer one.
function closeQuestion(id) {
  state.closed.add(id);
  if (state.question && state.question.id === id) showQuestion(null);
}

// An MCP server's form as editable JSON: each field with its default (or empty).
function formTemplate(schema) {
  if (!schema) return "";
  const fields = {};
  for (const [name, prop] of Object.entries(schema.properties || {})) {
    fields[name] = prop.default !== undefined ? prop.default : "";
  }
  return JSON.stringify(fields, null, 2);
}

function answerBody(q) {
  const text = $("answer-text").value;
  if (q.kind !== "mcp") return { text, question_id: q.id };
  if (!text.trim()) return { action: "decline", question_id: q.id };
  const content = q.mcp.schema ? JSON.parse(text) : undefined; // a mistyped form is said, not sent
  return { action: "accept", content, question_id: q.id };
}

// A tool approval's Allow and Deny buttons: the typed yes or no, in one click.
function sendWord(word) {
  return (event) => {
    $("answer-text").value = word;
    sendAnswer(event);
  };
}

async function sendAnswer(event) {
  event.preventDefault();
  const q = state.question;
  if (!q || !state.run) return;
  const text = $("answer-text").value;
  let body;
  try {
    body = answerBody(q);
  } catch (e) {
    $("answer-problem").textContent = e.message; // beside the countdown, which ticks on
    return;
  }
  // Closed at once: a second click cannot send it twice, and the team's next question can arrive
  // (on the event stream) before this answer's reply does; that one must stay open.
  showQuestion(null);
  try {
    await api(`/api/runs/${state.run.id}/input`, { method: "POST", body });
  } catch (e) {
    if (state.question || state.closed.has(q.id)) return; // past: a newer one is open, or it timed out
    showQuestion(q); // not taken: open again with what the person typed
    $("answer-text").value = text;
    $("answer-problem").textContent = e.message;
  }
}

// ------------------------------------------------------------------ pictures

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

function lanes() {
  const names = [];
  for (const e of state.entries) if (e.kind !== "route" && !names.includes(e.source)) names.push(e.source);
  return names;
}

// Who spoke when: one lane per agent; a bar from the previous entry to this message, a dot per tool call.
function draw() {
  const graph = ((state.run && state.scenarios.get(state.run.scenario)) || {}).graph;
  $("run-graph-figure").hidden = !graph;
  drawGraph($("run-graph"), graph, state.entries);
  const box = $("timeline");
  const names = lanes();
  const width = Math.max(box.clientWidth || 600, 200);
  const laneH = 22, top = 6, axisH = 18;
  const height = top + names.length * laneH + axisH;
  box.setAttribute("viewBox", `0 0 ${width} ${height}`);
  box.setAttribute("height", height);
  box.replaceChildren();
  // The names' column is as wide as the longest name (measured as drawn), at most half the chart; a
  // longer name is shortened to fit, whole in its tooltip.
  const labels = names.map((n, i) => svg("text", { x: 4, y: top + i * laneH + 15, class: "label" }, n));
  box.append(...labels);
  const longest = Math.max(0, ...labels.map((t) => t.getComputedTextLength()));
  const labelW = Math.min(Math.ceil(longest) + 14, Math.floor(width * 0.5));
  labels.forEach((t, i) => fitText(t, labelW - 10, names[i]));
  const end = Math.max(0.001, ...state.entries.map((e) => e.elapsed_s));
  const x = (t) => labelW + (t / end) * (width - labelW - 10);
  names.forEach((n, i) => {
    const y = top + i * laneH;
    box.append(svg("line", { x1: labelW, x2: width - 10, y1: y + laneH / 2, y2: y + laneH / 2, class: "lane" }));
  });
  let previous = 0;
  for (const e of state.entries) {
    if (e.kind === "route") continue; // drawn on the graph
    const lane = names.indexOf(e.source);
    const y = top + lane * laneH;
    const title = `${e.source} · ${e.kind} · ${e.elapsed_s.toFixed(2)} s`;
    if (e.kind === "tool_call" || e.kind === "tool_result") {
      const dot = svg("circle", { cx: x(e.elapsed_s), cy: y + laneH / 2, r: 4,
        fill: e.kind === "tool_call" ? "none" : colorOf(e.source), stroke: colorOf(e.source), "stroke-width": 2 });
      dot.append(svg("title", {}, title));
      box.append(dot);
    } else if (e.kind !== "event") {
      const x0 = x(previous), x1 = x(e.elapsed_s);
      const bar = svg("rect", { x: x0, y: y + 4, width: Math.max(3, x1 - x0), height: laneH - 8, rx: 3,
        fill: colorOf(e.source) });
      bar.append(svg("title", {}, title));
      box.append(bar);
    }
    previous = e.elapsed_s;
  }
  const yAxis = top + names.length * laneH + 13;
  box.append(svg("text", { x: labelW, y: yAxis }, "0 s"));
  box.append(svg("text", { x: width - 10, y: yAxis, "text-anchor": "end" }, `${end.toFixed(1)} s`));
  drawTokens();
}

// Shorten an SVG text to `room` pixels with an ellipsis; its whole text stays in a tooltip.
function fitText(el, room, whole) {
  if (el.getComputedTextLength() <= room) return;
  let cut = whole.length;
  while (cut > 1 && el.getComputedTextLength() > room) el.textContent = whole.slice(0, --cut) + "…";
  el.append(svg("title", {}, whole));
}

function drawTokens() {
  const totals = new Map();
  for (const e of state.entries) {
    if (!e.usage) continue;
    const t = totals.get(e.source) || { prompt: 0, completion: 0 };
    t.prompt += e.usage.prompt_tokens;
    t.completion += e.usage.completion_tokens;
    totals.set(e.source, t);
  }
  const bars = $("tokens");
  bars.replaceChildren();
  const most = Math.max(1, ...[...totals.values()].map((t) => t.prompt + t.completion));
  let sum = 0;
  for (const [agent, t] of totals) {
    const total = t.prompt + t.completion;
    sum += total;
    const row = document.createElement("div");
    row.className = "bar-row";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = agent;
    const track = document.createElement("div");
    track.className = "bar-track";
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.style.width = `${(100 * total) / most}%`;
    bar.style.background = colorOf(agent);
    bar.title = `${t.prompt} prompt + ${t.completion} completion`;
    track.append(bar);
    const n = document.createElement("span");
    n.textContent = String(total);
    row.append(name, track, n);
    bars.append(row);
  }
  if (!totals.size) bars.textContent = "no tokens yet";
  $("run-tokens").textContent = `${sum} tokens`;
  state.tokens = sum;
  const row = [...$("runs").children].find((li) => li.dataset.id === state.run.id);
  if (row) row.querySelector(".task").textContent = rowLine(row.summary);
}

// ------------------------------------------------------------------ wiring

async function stop() {
  if (!state.run) return;
  $("stop").disabled = true;
  try {
    await api(`/api/runs/${state.run.id}/cancel`, { method: "POST" });
  } catch (e) {
    $("run-ending").textContent = e.message;
  } finally {
    $("stop").disabled = false;
  }
}

async function resume() {
  if (!state.run) return;
  $("resume").disabled = true;
  try {
    const run = await api(`/api/runs/${encodeURIComponent(state.run.id)}/resume`, { method: "POST" });
    openRun(run.id, run);
    refreshRuns();
  } catch (e) {
    $("run-ending").textContent = e.message;
  } finally {
    $("resume").disabled = false;
  }
}

async function main() {
  $("resume").onclick = resume;
  $("scenario").onchange = () => showScenario($("scenario").value);
  $("start").onclick = start;
  $("stop").onclick = stop;
  $("refresh").onclick = refreshRuns;
  $("answer").onsubmit = sendAnswer;
  $("answer-allow").onclick = sendWord("yes");
  $("answer-deny").onclick = sendWord("no");
  window.addEventListener("resize", () => state.run && draw());
  try {
    await loadScenarios();
  } catch (e) {
    $("start-error").textContent = e.message;
  }
  await refreshRuns();
  window.addEventListener("hashchange", followHash);
  if (runInHash()) await followHash();
  setInterval(refreshRuns, 5000);
}

main();
