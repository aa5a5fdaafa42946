// The timeline: one lane per kind of fact, laid out in seconds from the session's start.

const LANES = [
  ["user", "user speech"],
  ["agent", "agent playout"],
  ["states", "states"],
  ["tools", "tool calls"],
  ["barge", "barge-ins"],
  ["errors", "errors"],
  ["reconnects", "reconnects"],
];
const PX_PER_S = 80;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

function span(t0, t1, cls, label, title) {
  const e = el("div", `item span ${cls}`, label);
  e.style.left = `${t0 * PX_PER_S}px`;
  e.style.width = `${Math.max(2, (t1 - t0) * PX_PER_S)}px`;
  e.title = title ?? label ?? "";
  return e;
}

function mark(t, cls, label, title) {
  const e = el("div", `item mark ${cls}`);
  e.style.left = `${t * PX_PER_S}px`;
  e.append(el("span", "label", label));
  e.title = title ?? label;
  return e;
}

const secs = (t) => `${t.toFixed(2)}s`;

export class Timeline {
  constructor(root) {
    this.root = root;
    root.replaceChildren();
    this.scroller = el("div", "tl-scroll");
    this.labels = el("div", "tl-labels");
    this.tracks = {};
    this.body = el("div", "tl-body");
    for (const [key, name] of LANES) {
      this.labels.append(el("div", "tl-label", name));
      const track = el("div", `tl-track lane-${key}`);
      track.dataset.lane = key;
      this.tracks[key] = track;
      this.body.append(track);
    }
    this.cursor = el("div", "tl-cursor");
    this.body.append(this.cursor);
    this.scroller.append(this.body);
    root.append(this.labels, this.scroller);
    this.follow = true;
    this.scroller.addEventListener("scroll", () => {
      const atEnd = this.scroller.scrollLeft + this.scroller.clientWidth >= this.scroller.scrollWidth - 30;
      this.follow = atEnd;
    });
  }

  render(view, end) {
    const { lanes } = view;
    const fill = (key, items) => this.tracks[key].replaceChildren(...items);
    fill("user", lanes.user.map((s) => span(s.t0, s.t1, "user", "", `user spoke ${secs(s.t0)}–${secs(s.t1)}`)));
    fill("agent", lanes.agent.map((s) => span(s.t0, s.t1, "agent", "", `agent audio ${secs(s.t0)}–${secs(s.t1)}`)));
    fill("states", lanes.states.map((s) => {
      const e = span(s.t0, s.t1, `state state-${s.state}`, s.state, `${s.state} from ${secs(s.t0)}`);
      e.dataset.state = s.state;
      return e;
    }));
    fill("tools", lanes.tools.map((s) => {
      const names = s.names.join(", ") || "tool call";
      return span(s.t0, s.t1, `tool${s.error ? " failed" : ""}`, names, `${names} ${secs(s.t0)}–${secs(s.t1)}`);
    }));
    fill("barge", lanes.barge.map((b) => {
      const heard = `cut at ${(b.heard_ms / 1000).toFixed(2)}s`;
      const text = b.text != null ? `: “${b.text}…”` : "";
      const e = mark(b.t, "barge", `${heard}${text}`, `barge-in at ${secs(b.t)} (${b.by ?? "?"}); ${heard} of the reply played${text}`);
      e.dataset.heardMs = String(b.heard_ms);
      return e;
    }));
    fill("errors", lanes.errors.map((x) => mark(x.t, `error${x.recoverable ? "" : " fatal"}`, x.code, `${x.code}: ${x.message}`)));
    fill("reconnects", lanes.reconnects.map((r) => mark(r.t, "reconnect", r.event ?? "reconnect")));
    this.width = Math.max(end * PX_PER_S + 200, this.scroller.clientWidth);
    this.body.style.width = `${this.width}px`;
    this.moveCursor(view.upto);
  }

  moveCursor(t) {
    this.cursor.style.left = `${t * PX_PER_S}px`;
    const width = t * PX_PER_S + 200;
    if (width > (this.width ?? 0)) { this.width = width; this.body.style.width = `${width}px`; }
    if (this.follow) this.scroller.scrollLeft = Math.max(0, t * PX_PER_S - this.scroller.clientWidth + 120);
  }
}
