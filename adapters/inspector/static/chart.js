// The chart's SVG (drawn by Graphviz on the server) and what is laid over it here: the
// current configuration's nodes and the transitions taken so far, found by the titles
// Graphviz gives nodes ("listening") and edges ("listening->thinking", ports after ':').

export function cleanSvg(text) {
  const doc = new DOMParser().parseFromString(text, "image/svg+xml");
  const svg = doc.documentElement;
  if (!svg || svg.nodeName !== "svg") throw new Error("the server sent no SVG");
  // Only drawing: no scripts, no links (a DOT may carry URL attributes).
  for (const el of svg.querySelectorAll("script, foreignObject")) el.remove();
  for (const el of svg.querySelectorAll("*")) {
    for (const attr of [...el.attributes]) {
      if (/^on/i.test(attr.name) || /href$/i.test(attr.name)) el.removeAttribute(attr.name);
    }
  }
  // Fitted to the box by default; its own size is kept for "actual size".
  svg.dataset.width = svg.getAttribute("width") ?? "";
  svg.dataset.height = svg.getAttribute("height") ?? "";
  svg.removeAttribute("width");
  svg.removeAttribute("height");
  return document.importNode(svg, true);
}

const endpoint = (s) => s.trim().split(":")[0];

export class ChartOverlay {
  constructor(svg) {
    this.svg = svg;
    this.nodes = new Map();
    for (const g of svg.querySelectorAll("g.node")) {
      const title = g.querySelector("title")?.textContent?.trim();
      if (title) this.nodes.set(title, g);
    }
    this.edges = [];
    for (const g of svg.querySelectorAll("g.edge")) {
      const title = g.querySelector("title")?.textContent ?? "";
      const [tail, head] = title.split("->").map(endpoint);
      const lines = [...g.querySelectorAll("text")].map((t) => t.textContent.trim());
      this.edges.push({ g, tail, head, lines });
    }
    this.cache = new Map();
  }

  // The SVG edges (one, or two through a junction point) that drew this transition.
  edgesFor(event, source, target) {
    const key = JSON.stringify([event, source, target]);
    if (!this.cache.has(key)) this.cache.set(key, this.match(event, source, target));
    return this.cache.get(key);
  }

  match(event, source, target) {
    const name = event ?? "(auto)";
    const fires = (e) => e.lines.some((l) => l === name || l.startsWith(name + " ["));
    const onward = (e) => (e.head.startsWith("_via_") ? this.edges.find((x) => x.tail === e.head) : null);
    const headOf = (e) => onward(e)?.head ?? e.head;
    const candidates = this.edges.filter(fires);
    const tiers = [
      candidates.filter((e) => e.tail === source && headOf(e) === target),
      candidates.filter((e) => headOf(e) === target),
      candidates.filter((e) => e.tail === source),
    ];
    const found = tiers.find((c) => c.length) ?? (candidates.length === 1 ? candidates : []);
    return found.slice(0, 1).flatMap((e) => [e, onward(e)].filter(Boolean));
  }

  show(view) {
    const current = new Set(view.configuration);
    for (const [id, g] of this.nodes) g.classList.toggle("current", current.has(id));
    const weights = new Map();
    for (const [key, count] of view.counts) {
      const [event, source, target] = JSON.parse(key);
      for (const e of this.edgesFor(event, source, target)) weights.set(e, (weights.get(e) ?? 0) + count);
    }
    const busiest = Math.max(1, ...weights.values());
    for (const e of this.edges) {
      const count = weights.get(e) ?? 0;
      e.g.classList.toggle("taken", count > 0);
      e.g.dataset.count = String(count);
      const width = count ? (1.5 + 4 * Math.sqrt(count / busiest)).toFixed(1) : "";
      for (const path of e.g.querySelectorAll("path")) path.style.strokeWidth = width;
    }
    return [...this.nodes.keys()].filter((id) => current.has(id));
  }
}
