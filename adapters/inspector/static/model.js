// What the views show, derived from a session's messages (live, or read from a file).
// Pure functions: no DOM here. Every view is computed "as of" a time, so the scrubber and
// the live view are the same code.

const MAIN = "_main";

// A trace JSONL line (machine/_trace.py TraceRecord) or an inspector message line.
export function parseFile(text) {
  const messages = [];
  let bad = 0;
  for (const line of text.split(/\r?\n/)) {
    if (!line.trim()) continue;
    let obj;
    try { obj = JSON.parse(line); } catch { bad++; continue; }
    if (obj && typeof obj.kind === "string") { // a recording (turnstile.adapters.recording)
      const m = fromRecording(obj);
      if (m) messages.push(...m); else if (m === undefined) bad++;
      continue;
    }
    if (obj && typeof obj.record === "object" && obj.record) obj = obj.record;
    if (obj && typeof obj.type === "string") messages.push(obj);
    else if (obj && "source" in obj && "target" in obj) {
      const m = { type: "transition", t: Number(obj.t) || 0, event: obj.event ?? null, source: obj.source, target: obj.target };
      if (obj.region) m.region = obj.region;
      if (obj.data) m.data = obj.data;
      messages.push(m);
      // Newer traces carry every region's leaf after each record.
      if (Array.isArray(obj.configuration) && obj.configuration.length) {
        messages.push({ type: "config", t: m.t, configuration: obj.configuration });
      }
    } else bad++;
  }
  if (!messages.length) throw new Error(bad ? "no trace records or inspector messages in this file" : "the file is empty");
  const end = duration(messages);
  for (const m of messages) if (m.t == null) m.t = end; // the final chat of a recording
  messages.sort((a, b) => (a.t ?? 0) - (b.t ?? 0));
  return { messages, bad, fromTrace: !messages.some((m) => m.type === "hello") };
}

// A recording's lines (turnstile.adapters.recording's format): its trace records, where the
// played audio was cut, and the final chat. Its clock (the recorder's) and the trace's start
// within moments of each other. null: a line with nothing to show; undefined: unreadable.
function fromRecording(obj) {
  if (obj.kind === "trace" && obj.record && "source" in obj.record) {
    return parseFile(JSON.stringify(obj.record)).messages;
  }
  if (obj.kind === "room" && obj.fact === "stopped" && obj.interrupted) {
    return [{ type: "barge_in", t: Number(obj.t) || 0, heard_ms: Number(obj.heard_ms) || 0, by: "recording" }];
  }
  if (obj.kind === "chat" && Array.isArray(obj.messages)) {
    return obj.messages
      .filter((m) => m && (m.role === "user" || m.role === "assistant") && m.text)
      .map((m) => ({ type: "transcript", t: null, role: m.role, text: m.text, interrupted: !!m.interrupted }));
  }
  return typeof obj.kind === "string" ? null : undefined;
}

// A trace alone has only transitions: the other lanes are inferred from the states. With
// the agent chart's regions, the user's speech is its "user" region's "talking", a tool run
// its "tools" region's "running"; without them, the turn's events say as much.
export function withInferredFacts(messages) {
  const out = [];
  const transitions = messages.filter((m) => m.type === "transition");
  const first = transitions[0];
  if (first) out.push({ type: "hello", t: first.t, configuration: [first.source], state: first.source });
  const main = transitions.some((m) => m.region === "turn") ? "turn" : first?.region ?? MAIN;
  const has = (state) => transitions.some((m) => m.target === state);
  const knownCuts = messages.some((m) => m.type === "barge_in"); // a recording says where, exactly
  const userRegion = has("talking"), toolsRegion = has("running");
  let speakingSince = null, userSince = null;
  const userStart = (t) => { if (userSince === null) { userSince = t; out.push({ type: "speech", t, who: "user", phase: "start" }); } };
  const userStop = (t) => { if (userSince !== null) { userSince = null; out.push({ type: "speech", t, who: "user", phase: "stop" }); } };
  for (const m of messages) {
    out.push(m);
    if (m.type !== "transition") continue;
    const inMain = (m.region ?? MAIN) === main;
    if (userRegion) {
      if (m.target === "talking" && m.source !== "talking") userStart(m.t);
      if (m.source === "talking" && m.target !== "talking") userStop(m.t);
    } else if (inMain) {
      if (m.event === "user_speech_started") userStart(m.t);
      if (m.event === "user_speech_stopped" || m.event === "user_turn_committed") userStop(m.t);
    }
    if (toolsRegion) {
      if (m.target === "running" && m.source !== "running") out.push({ type: "tools", t: m.t, phase: "start", calls: [{ id: "run", name: "tools" }] });
      if (m.source === "running" && m.target !== "running") out.push({ type: "tools", t: m.t, phase: "end", calls: [{ id: "run", name: "tools" }] });
    } else if (inMain && m.event === "tool_calls") out.push({ type: "tools", t: m.t, phase: "start", calls: [] });
    if (!inMain) continue;
    if (m.target !== m.source) out.push({ type: "state", t: m.t, old: m.source, new: m.target, event: m.event });
    if (m.target === "speaking" && m.source !== "speaking") { speakingSince = m.t; out.push({ type: "speech", t: m.t, who: "agent", phase: "start" }); }
    if (m.source === "speaking" && m.target !== "speaking") {
      out.push({ type: "speech", t: m.t, who: "agent", phase: "stop" });
      if (m.target === "interrupted" && !knownCuts) out.push({ type: "barge_in", t: m.t, heard_ms: Math.round((m.t - (speakingSince ?? m.t)) * 1000), by: m.event });
      speakingSince = null;
    }
    if (m.event && m.event.startsWith("error")) out.push({ type: "error", t: m.t, code: m.event, message: "", recoverable: true });
  }
  return out;
}

export function duration(messages) {
  return messages.reduce((acc, m) => Math.max(acc, Number(m.t) || 0), 0);
}

function configAt(messages, upto) {
  // The last complete configuration the publisher sent, moved on by the transitions after
  // it: each replaces the leaf it left (one per region).
  let config = null;
  for (const m of messages) {
    if (m.t > upto) continue;
    if ((m.type === "hello" || m.type === "config") && Array.isArray(m.configuration)) {
      config = m.configuration.slice();
    } else if (m.type === "transition") {
      if (config === null) config = [m.source];
      const i = config.indexOf(m.source);
      if (i >= 0) config[i] = m.target;
      else if (config.length === 1) config[0] = m.target;
    }
  }
  return config ?? [];
}

function intervals(messages, upto, who) {
  const out = [];
  let open = null;
  for (const m of messages) {
    if (m.t > upto) continue;
    if (m.type !== "speech" || m.who !== who) continue;
    if (m.phase === "start" && open === null) open = m.t;
    else if (m.phase === "stop" && open !== null) { out.push({ t0: open, t1: m.t }); open = null; }
  }
  if (open !== null) out.push({ t0: open, t1: upto, open: true });
  return out;
}

function stateSegments(messages, upto) {
  const out = [];
  let cur = null;
  for (const m of messages) {
    if (m.t > upto) continue;
    let next = null;
    if (m.type === "hello") next = m.state;
    else if (m.type === "state") next = m.new;
    if (next == null || (cur && cur.state === next)) continue;
    if (cur) { cur.t1 = m.t; out.push(cur); }
    cur = { t0: m.t, t1: upto, state: next };
  }
  if (cur) out.push(cur);
  return out;
}

function toolSpans(messages, upto) {
  const out = [];
  const open = new Map();
  for (const m of messages) {
    if (m.t > upto) continue;
    if (m.type !== "tools") continue;
    const calls = m.calls ?? [];
    if (m.phase === "start") {
      const span = { t0: m.t, t1: upto, open: true, names: calls.map((c) => c.name), calls };
      out.push(span);
      for (const c of calls) open.set(c.id, span);
      if (!calls.length) span.open = false, span.t1 = m.t;
    } else {
      for (const c of calls) {
        const span = open.get(c.id);
        if (span) { span.t1 = m.t; span.open = false; span.error = span.error || c.error; open.delete(c.id); }
      }
    }
  }
  return out;
}

// Everything the page shows, as of time `upto`.
export function viewAt(messages, upto) {
  const within = (type) => messages.filter((m) => m.type === type && m.t <= upto);
  const counts = new Map();
  for (const m of within("transition")) {
    const key = JSON.stringify([m.event, m.source, m.target]);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return {
    upto,
    configuration: configAt(messages, upto),
    counts,
    lanes: {
      user: intervals(messages, upto, "user"),
      agent: intervals(messages, upto, "agent"),
      states: stateSegments(messages, upto),
      tools: toolSpans(messages, upto),
      barge: within("barge_in"),
      errors: within("error"),
      reconnects: within("transition").filter((m) => m.event === "session_lost" || m.event === "session_timeout"),
    },
    transcript: within("transcript"),
    metrics: within("metrics").map((m) => ({ t: m.t, ...m.metrics })),
  };
}
