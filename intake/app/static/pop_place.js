// The pop's place: where the caller is (point and uncertainty circle) and the incidents near
// there, as a compact map drawn in SVG from the pop's data alone (north up, distance rings, a
// scale bar; no tiles unless the force runs its own tile server, [desktop] map_tiles), the same
// in words for screen readers, and a numbered list whose numbers are the map's markers.
//
// Geometry is Web Mercator scaled to metres at the caller's latitude: the projection a tile
// server uses, so a force's tiles line up under the same points; over a few kilometres its
// error is far below any location's uncertainty. Times are the server's: the pop says when it
// was composed (queued_at + waited_seconds), and every age here counts from that plus the time
// since it arrived, so a desktop whose clock is wrong still says the right age.
import { el } from "/static/common.js";

const SVG = "http://www.w3.org/2000/svg";
const SIZE = 300; // the map's viewBox, square; the caller is at its centre
const EARTH_M = 6378137; // Web Mercator's sphere
const TILE_PX = 256;
const NICE_M = [10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 25000, 50000, 100000, 200000, 500000, 1000000];
const COMPASS = ["north", "north-east", "east", "south-east", "south", "south-west", "west", "north-west"];
const SOURCE_WORDS = {
  call: "from the call itself (the location the caller's phone sent with the call)",
  service: "from the location service (looked up by the caller's number)",
  history: "from the caller's history (where they were on an earlier call, not necessarily now)",
};
const SOURCE_SHORT = { call: "the call", service: "the location service", history: "the caller's history" };
const LISTED = 8; // incidents in the list before "more": the map numbers them all

// --- words ---------------------------------------------------------------------------------------

export function distanceWords(metres) {
  if (metres < 1000) return `${Math.round(metres)} m`;
  return `${Number((metres / 1000).toFixed(metres < 10000 ? 1 : 0))} km`; // 1 km, 1.5 km, 13 km
}

export function ageWords(seconds) {
  const s = Math.max(0, seconds);
  if (s < 60) return "under a minute ago";
  if (s < 3600) { const m = Math.floor(s / 60); return `${m} minute${m === 1 ? "" : "s"} ago`; }
  if (s < 86400) {
    const h = Math.floor(s / 3600); const m = Math.floor((s % 3600) / 60);
    return `${h} hour${h === 1 ? "" : "s"}${m ? ` ${m} min` : ""} ago`;
  }
  const d = Math.floor(s / 86400);
  return `${d} day${d === 1 ? "" : "s"} ago`;
}

export function accuracyWords(location) {
  const { radius_m: radius, confidence } = location;
  if (radius === null || radius === undefined) {
    return location.civic ? "an address, no radius given" : "accuracy not given";
  }
  return `within ${distanceWords(radius)}${confidence === null || confidence === undefined ? "" : ` (${confidence}% confidence)`}`;
}

function bearingWords(east, north) {
  if (Math.hypot(east, north) < 1) return "at the same point";
  const degrees = (Math.atan2(east, north) * 180 / Math.PI + 360) % 360;
  return COMPASS[Math.round(degrees / 45) % 8];
}

/** When an incident happened: police.uk dates a crime by its month alone, so say the month. */
export function whenWords(incident, serverNow) {
  if (incident.source !== "police.uk") return ageWords(serverNow - incident.at);
  const month = new Date(incident.at * 1000).toLocaleString("en-GB", { month: "long", year: "numeric", timeZone: "UTC" });
  return `in ${month}`;
}

// --- geometry ------------------------------------------------------------------------------------

const rad = (deg) => deg * Math.PI / 180;
const mercY = (lat) => Math.log(Math.tan(Math.PI / 4 + rad(lat) / 2));

/** Metres east and north of `origin` (Web Mercator scaled at the origin's latitude). */
export function offsetMetres(origin, point) {
  const k = EARTH_M * Math.cos(rad(origin.lat));
  return { east: rad(point.lon - origin.lon) * k, north: (mercY(point.lat) - mercY(origin.lat)) * k };
}

function niceAtLeast(metres) { return NICE_M.find((m) => m >= metres) || NICE_M[NICE_M.length - 1]; }
function niceAtMost(metres) { return [...NICE_M].reverse().find((m) => m <= metres) || NICE_M[0]; }

/** The map's half-width in metres and its distance rings: everything shown fits, with a margin. */
export function frame(location, incidents) {
  const reach = Math.max(50, (location.radius_m || 0) * 1.15, ...incidents.map((i) => i.distance_m * 1.1));
  const half = niceAtLeast(reach);
  const step = niceAtLeast(half / 3);
  const rings = [];
  for (let r = step; r <= half + 1e-6; r += step) rings.push(r);
  return { half, rings };
}

// --- the map -------------------------------------------------------------------------------------

function svg(tag, attrs = {}, text = "") {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text) node.textContent = text;
  return node;
}

/** The tiles under the map from the force's own server: `{z}/{x}/{y}` in the template. */
function tiles(template, location, half, scale) {
  const metresPerUnit = 1 / scale;
  const atEquator = 2 * Math.PI * EARTH_M / TILE_PX; // metres per tile pixel at zoom 0 on the equator
  const cos = Math.cos(rad(location.lat));
  const zoom = Math.max(0, Math.min(19, Math.round(Math.log2(atEquator * cos / metresPerUnit))));
  const world = TILE_PX * 2 ** zoom;
  const px = (location.lon + 180) / 360 * world;
  const py = (1 - mercY(location.lat) / Math.PI) / 2 * world;
  const unitsPerPx = (atEquator * cos / 2 ** zoom) * scale;
  const centre = SIZE / 2;
  const first = (v) => Math.floor((v - half * scale / unitsPerPx) / TILE_PX);
  const last = (v) => Math.floor((v + half * scale / unitsPerPx) / TILE_PX);
  const group = svg("g", { class: "place-tiles", "clip-path": "url(#place-clip)" });
  for (let tx = first(px); tx <= last(px); tx++) {
    for (let ty = first(py); ty <= last(py); ty++) {
      if (ty < 0 || ty >= 2 ** zoom) continue;
      const wrapped = ((tx % 2 ** zoom) + 2 ** zoom) % 2 ** zoom;
      const href = template.replaceAll("{z}", zoom).replaceAll("{x}", wrapped).replaceAll("{y}", ty);
      group.append(svg("image", {
        href, x: centre + (tx * TILE_PX - px) * unitsPerPx, y: centre + (ty * TILE_PX - py) * unitsPerPx,
        width: TILE_PX * unitsPerPx, height: TILE_PX * unitsPerPx, preserveAspectRatio: "none",
      }));
    }
  }
  return group;
}

const LABEL_R = 8;

/** Where an incident's number goes: on its point, or the nearest place around it (a leader line
 * back, first tried away from the caller) where it covers no other number and not the caller's
 * cross, so every number is readable. */
function labelPlace(x, y, taken) {
  const outward = Math.hypot(x - SIZE / 2, y - SIZE / 2) > 0.5 ? Math.atan2(y - SIZE / 2, x - SIZE / 2) : -Math.PI / 4;
  const free = (p) => p.x >= LABEL_R && p.x <= SIZE - LABEL_R && p.y >= LABEL_R && p.y <= SIZE - LABEL_R
    && taken.every((t) => Math.hypot(t.x - p.x, t.y - p.y) >= 2 * LABEL_R + 1);
  for (let ring = 0; ring <= 6; ring++) {
    const steps = ring === 0 ? 1 : 8 + 4 * ring;
    for (let k = 0; k < steps; k++) {
      const turn = Math.ceil(k / 2) * (k % 2 ? 1 : -1); // 0, +1, -1, +2, -2...: nearest the outward way first
      const angle = outward + (2 * Math.PI * turn) / steps;
      const at = { x: x + ring * 12 * Math.cos(angle), y: y + ring * 12 * Math.sin(angle) };
      if (free(at)) return at;
    }
  }
  return { x, y }; // nowhere free nearby (a crowd): on its point
}

function drawMap(location, incidents, tileTemplate) {
  const { half, rings } = frame(location, incidents);
  const scale = (SIZE / 2) / half; // viewBox units per metre
  const centre = SIZE / 2;
  const map = svg("svg", { viewBox: `0 0 ${SIZE} ${SIZE}`, class: "place-map", role: "img",
                           "aria-labelledby": "place-map-label", "aria-describedby": "place-map-text",
                           "data-half-m": half, "data-tiles": tileTemplate ? "yes" : "no" });
  const clip = svg("clipPath", { id: "place-clip" });
  clip.append(svg("rect", { x: 0, y: 0, width: SIZE, height: SIZE }));
  const defs = svg("defs");
  defs.append(clip);
  map.append(defs);
  map.append(svg("rect", { class: "place-ground", x: 0, y: 0, width: SIZE, height: SIZE }));
  if (tileTemplate) map.append(tiles(tileTemplate, location, half, scale));
  for (const r of rings) {
    map.append(svg("circle", { class: "place-ring", cx: centre, cy: centre, r: r * scale, "data-ring-m": r }));
    // Inside the ring, at its top: the outermost ring's label stays on the map.
    map.append(svg("text", { class: "place-ring-label", x: centre + 3, y: centre - r * scale + 12 }, distanceWords(r)));
  }
  if (location.radius_m) {
    map.append(svg("circle", { class: "place-uncertainty", cx: centre, cy: centre, r: Math.max(location.radius_m * scale, 1.5),
                               "data-radius-m": location.radius_m }));
  }
  const taken = [{ x: centre, y: centre }]; // the caller's cross keeps its place
  incidents.forEach((incident, index) => {
    const { east, north } = offsetMetres(location, incident.point);
    const x = centre + east * scale; const y = centre - north * scale;
    const label = labelPlace(x, y, taken);
    taken.push(label);
    const marker = svg("g", { class: `place-incident${incident.at_address ? " at-address" : ""}`, "data-id": incident.id });
    marker.append(svg("circle", { class: "place-point", cx: x, cy: y, r: 2.5 }));
    if (label.x !== x || label.y !== y) marker.append(svg("line", { class: "place-leader", x1: x, y1: y, x2: label.x, y2: label.y }));
    marker.append(svg("circle", { class: "place-label", cx: label.x, cy: label.y, r: LABEL_R }));
    marker.append(svg("text", { x: label.x, y: label.y + 4, "text-anchor": "middle" }, String(index + 1)));
    map.append(marker);
  });
  map.append(svg("path", { class: "place-caller", d: `M${centre - 9} ${centre}h18M${centre} ${centre - 9}v18` }));
  map.append(svg("circle", { class: "place-caller-dot", cx: centre, cy: centre, r: 3.5 }));
  // North up, said by an arrow; the scale bar about a fifth of the width, a round distance.
  map.append(svg("path", { class: "place-north", d: `M${SIZE - 18} 30l-7 0l7-20l7 20z` }));
  map.append(svg("text", { class: "place-north-label", x: SIZE - 18, y: 44, "text-anchor": "middle" }, "N"));
  const bar = niceAtMost(half * 2 / 5);
  const barUnits = bar * scale;
  map.append(svg("path", { class: "place-scale", "data-scale-m": bar, "data-scale-units": barUnits.toFixed(2),
                           d: `M10 ${SIZE - 16}v6h${barUnits}v-6` }));
  map.append(svg("text", { class: "place-scale-label", x: 10, y: SIZE - 20 }, distanceWords(bar)));
  return map;
}

// --- the words -----------------------------------------------------------------------------------

function incidentLine(incident, location, serverNow) {
  const { east, north } = offsetMetres(location, incident.point);
  const where = `${distanceWords(incident.distance_m)} ${bearingWords(east, north)}`;
  const here = incident.at_address ? "at the caller's location, " : "";
  const graded = incident.grade ? `, graded ${incident.grade}` : "";
  const status = incident.status ? `, ${incident.status}` : "";
  return { where, text: `${incident.type}, ${whenWords(incident, serverNow)}, ${here}${where}${graded}${status}` };
}

/** The map in words: what a screen reader says instead of the picture. */
export function describe(location, incidents, serverNow) {
  const at = location.civic ? ` at ${location.civic}` : "";
  const parts = [`The caller is${at} ${accuracyWords(location)}, ${SOURCE_SHORT[location.source] || location.source}, fixed ${ageWords(serverNow - location.at)}.`];
  if (!incidents.length) parts.push("No incidents nearby.");
  else {
    const here = incidents.filter((i) => i.at_address).length;
    parts.push(`${incidents.length} incident${incidents.length === 1 ? "" : "s"} nearby${here ? `, ${here} at the caller's location` : ""}.`);
    incidents.slice(0, 5).forEach((incident, index) => parts.push(`${index + 1}: ${incidentLine(incident, location, serverNow).text}.`));
    if (incidents.length > 5) parts.push(`And ${incidents.length - 5} more, listed below.`);
  }
  return parts.join(" ");
}

/** The place in one sentence, for the desktop's announcement of a pop or of a late location. */
export function brief(location, incidents) {
  if (!location) return "No location for the caller yet.";
  const here = incidents.filter((i) => i.at_address).length;
  const near = incidents.length ? `${incidents.length} incident${incidents.length === 1 ? "" : "s"} nearby${here ? `, ${here} at the caller's location` : ""}`
    : "no incidents nearby";
  return `Caller's location ${accuracyWords(location)}, from ${SOURCE_SHORT[location.source] || location.source}; ${near}.`;
}

// --- the section ---------------------------------------------------------------------------------

export class PopPlace {
  /** ``announce(text)``: the desktop's live region, told once when a location arrives late. */
  constructor(root, { announce = null } = {}) {
    this.root = root;
    this.announce = announce;
    this.tiles = null;
    this.shown = null; // { callId, composedAt, receivedAt, location, incidents }
  }

  /** The force's tile server's URL template ({z}/{x}/{y}), or null: drawn from the data alone. */
  useTiles(template) { this.tiles = template || null; }

  /** A new pop: its place, or "no location yet" (a pop.place may bring it). */
  show(pop, receivedAt = performance.now()) {
    this.shown = { callId: pop.call_id, composedAt: pop.queued_at + pop.waited_seconds, receivedAt,
                   location: pop.location || null, incidents: pop.incidents || [] };
    this.render(false);
  }

  /** A pop.place message: applied to the pop it names, if that is the one shown (true then). */
  update(message) {
    if (!this.shown || this.shown.callId !== message.call_id) return false;
    Object.assign(this.shown, { location: message.location, incidents: message.incidents || [] });
    this.render(true);
    if (this.announce) this.announce(`Location arrived. ${this.said()}`);
    return true;
  }

  /** The shown place in one sentence (the desktop says it with the pop's arrival). */
  said() { return this.shown ? brief(this.shown.location, this.shown.incidents) : ""; }

  clear() { this.shown = null; this.root.replaceChildren(); this.root.dataset.state = ""; }

  serverNow() { return this.shown.composedAt + (performance.now() - this.shown.receivedAt) / 1000; }

  /** Only the location's age moves; it is aria-hidden (the words for screen readers say it once). */
  tick() {
    const age = this.root.querySelector(".place-age");
    if (!this.shown || !this.shown.location || !age) return;
    const words = ageWords(this.serverNow() - this.shown.location.at);
    if (age.textContent !== words) age.textContent = words;
  }

  render(late) {
    const { location, incidents } = this.shown;
    const title = el("h3", { id: "place-title", text: "Where the caller is" });
    this.root.dataset.callId = this.shown.callId;
    if (!location) {
      this.root.dataset.state = "none";
      this.root.replaceChildren(title, el("p", { class: "place-none", text: "No location for this caller yet." }));
      return;
    }
    this.root.dataset.state = "shown";
    this.root.dataset.source = location.source;
    const now = this.serverNow();
    const summary = el("p", { class: "place-summary" },
      el("strong", { class: "place-accuracy", text: accuracyWords(location) }), " ",
      el("span", { class: `place-source source-${location.source}`, text: SOURCE_WORDS[location.source] || location.source }), ", fixed ",
      el("span", { class: "place-age", "aria-hidden": "true", text: ageWords(now - location.at) }));
    const civic = location.civic ? el("p", { class: "place-civic", text: location.civic }) : "";
    const arrived = late ? el("p", { class: "place-late", text: `Location arrived after the call rang, ${SOURCE_SHORT[location.source] || location.source}.` }) : "";
    const figure = el("figure", { class: "place-figure" },
      el("figcaption", { id: "place-map-label", class: "visually-hidden", text: "Map of the caller and incidents nearby, north up" }));
    figure.append(drawMap(location, incidents, this.tiles));
    const words = el("p", { id: "place-map-text", class: "visually-hidden", text: describe(location, incidents, now) });
    this.root.replaceChildren(title, arrived, summary, civic, el("div", { class: "place-body" }, figure, this.list(location, incidents, now)), words);
  }

  list(location, incidents, now) {
    if (!incidents.length) return el("p", { class: "place-no-incidents muted", text: "No incidents nearby." });
    const item = (incident, index) => el("li", { class: incident.at_address ? "at-address" : "", "data-id": incident.id, value: String(index + 1) },
      incident.at_address ? el("strong", { class: "place-here", text: "At the caller's location: " }) : "",
      el("strong", { text: incident.type }), ` – ${whenWords(incident, now)}, ${incidentLine(incident, location, now).where}`,
      incident.grade ? `, graded ${incident.grade}` : "", incident.status ? ` (${incident.status})` : "");
    const list = el("ol", { class: "place-incidents", "aria-label": "Incidents near the caller: at their location, then nearest" });
    incidents.slice(0, LISTED).forEach((incident, index) => list.append(item(incident, index)));
    if (incidents.length <= LISTED) return list;
    // The first few are what a handler reads while the phone rings; the rest a click away.
    const rest = incidents.slice(LISTED);
    const more = el("ol", { class: "place-incidents" });
    rest.forEach((incident, index) => more.append(item(incident, LISTED + index)));
    const furthest = distanceWords(Math.max(...rest.map((i) => i.distance_m)));
    return el("div", { class: "place-list" }, list, el("details", { class: "place-more" },
      el("summary", { text: `${rest.length} more, up to ${furthest} away` }), more));
  }
}
