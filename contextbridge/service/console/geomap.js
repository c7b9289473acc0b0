// Points in SPARQL results, drawn on an SVG map (no tile server: a lat/long grid and the points).
//
//   const layers = findPoints(json.head.vars, json.results.bindings);   // [] when none
//   if (layers.length) host.append(drawMap(layers, json.head.vars, { width: host.clientWidth }));
//
// Points come from numeric lat/long column pairs (`lat`/`long`, `spotLat`/`spotLong`,
// `latitude`/`longitude`...), from WKT literals (`POINT(lon lat)`, as GeoSPARQL writes them)
// or from GeoJSON Point literals. Points are projected equirectangularly around the middle
// latitude, which is true to scale at city size.

import { svg } from "./dom.js";

const LAT = /^(.*?)(lat|latitude)$/i;
const LONG = /^(.*?)(long|lon|lng|longitude)$/i;
const WKT = /^\s*(?:<[^>]*>\s*)?POINT\s*(?:ZM|Z|M)?\s*\(\s*([-+]?[\d.]+(?:e[-+]?\d+)?)\s+([-+]?[\d.]+(?:e[-+]?\d+)?)/i;
const MARGIN = { left: 64, right: 16, top: 16, bottom: 36 };
const WIDTH = { least: 300, most: 1100 };

function number(binding) {
  if (!binding || binding.type !== "literal") return null;
  const value = Number(binding.value);
  return Number.isFinite(value) ? value : null;
}

function valid(lat, lon) {
  return lat !== null && lon !== null && Math.abs(lat) <= 90 && Math.abs(lon) <= 180;
}

function fromLiteral(binding) {
  if (!binding || binding.type !== "literal") return null;
  const wkt = WKT.exec(binding.value);
  if (wkt) return { lon: Number(wkt[1]), lat: Number(wkt[2]) };
  const text = binding.value.trim();
  if (!text.startsWith("{")) return null;
  try {
    const geometry = JSON.parse(text);
    if (geometry && geometry.type === "Point" && Array.isArray(geometry.coordinates)) {
      const [lon, lat] = geometry.coordinates.map(Number);
      return { lon, lat };
    }
  } catch {
    // not GeoJSON
  }
  return null;
}

/** Layers of points: [{name, points: [{lat, lon, row}]}], one per coordinate pair or geometry column. */
export function findPoints(vars, rows) {
  const layers = [];
  for (const latVar of vars) {
    const lat = LAT.exec(latVar);
    if (!lat) continue;
    const longVar = vars.find((name) => {
      const long = LONG.exec(name);
      return long && name !== latVar && long[1].toLowerCase() === lat[1].toLowerCase();
    });
    if (!longVar) continue;
    const points = [];
    for (const row of rows) {
      const point = { lat: number(row[latVar]), lon: number(row[longVar]), row };
      if (valid(point.lat, point.lon)) points.push(point);
    }
    if (points.length) layers.push({ name: lat[1] || "position", columns: [latVar, longVar], points });
  }
  for (const name of vars) {
    const points = [];
    for (const row of rows) {
      const point = fromLiteral(row[name]);
      if (point && valid(point.lat, point.lon)) points.push({ ...point, row });
    }
    if (points.length) layers.push({ name, columns: [name], points });
  }
  return layers;
}

function niceStep(span) {
  const raw = span / 5;
  const power = 10 ** Math.floor(Math.log10(raw));
  const scaled = raw / power;
  return (scaled < 1.5 ? 1 : scaled < 3.5 ? 2 : scaled < 7.5 ? 5 : 10) * power;
}

function label(value, step, positive, negative) {
  const digits = Math.max(0, -Math.floor(Math.log10(step)));
  return `${Math.abs(value).toFixed(digits)}°${value >= 0 ? positive : negative}`;
}

/** The category column the points are coloured by: few distinct literal values, or null. */
function category(vars, layers, skip) {
  const rows = layers.flatMap((layer) => layer.points.map((point) => point.row));
  for (const name of vars) {
    if (skip.has(name)) continue;
    const values = new Set(rows.map((row) => (row[name] ? row[name].value : "")));
    if (values.size >= 2 && values.size <= 6 && values.size < rows.length) return name;
  }
  return null;
}

function describe(row) {
  return Object.entries(row)
    .map(([name, binding]) => `${name}: ${binding.value}`)
    .join("\n");
}

/**
 * An SVG map of the layers, with a lat/long grid, axis labels, hover titles and a legend.
 * `width` is the room it has in CSS pixels: drawn at that size, its labels stay readable on a phone.
 */
export function drawMap(layers, vars = [], { width: room = 720 } = {}) {
  const width = Math.round(Math.min(Math.max(room, WIDTH.least), WIDTH.most));
  const height = Math.round(Math.min(480, Math.max(260, width * 0.55)));
  const { left, right, top, bottom } = MARGIN;
  const all = layers.flatMap((layer) => layer.points);
  let [south, north] = [Math.min(...all.map((p) => p.lat)), Math.max(...all.map((p) => p.lat))];
  let [west, east] = [Math.min(...all.map((p) => p.lon)), Math.max(...all.map((p) => p.lon))];
  const middle = (south + north) / 2;
  const shrink = Math.max(0.05, Math.cos((middle * Math.PI) / 180)); // a degree of longitude is shorter
  const minimum = 0.002;
  const latSpan = Math.max(north - south, minimum) * 1.1;
  const lonSpan = Math.max(east - west, minimum) * 1.1;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const scale = Math.min(plotW / (lonSpan * shrink), plotH / latSpan);
  const centre = { lat: middle, lon: (west + east) / 2 };
  // the visible box, widened to the plot's aspect
  south = centre.lat - plotH / scale / 2;
  north = centre.lat + plotH / scale / 2;
  west = centre.lon - plotW / (scale * shrink) / 2;
  east = centre.lon + plotW / (scale * shrink) / 2;
  const x = (lon) => left + (lon - west) * shrink * scale;
  const y = (lat) => top + (north - lat) * scale;

  const map = svg("svg", {
    class: "geomap",
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": `Map of ${all.length} points`,
    preserveAspectRatio: "xMidYMid meet",
  });
  map.append(svg("rect", { class: "sea", x: left, y: top, width: plotW, height: plotH }));
  const grid = svg("g", { class: "grid" });
  const latStep = niceStep(north - south);
  for (let lat = Math.ceil(south / latStep) * latStep; lat <= north; lat += latStep) {
    grid.append(
      svg("line", { x1: left, x2: left + plotW, y1: y(lat), y2: y(lat) }),
      svg("text", { class: "axis-label", x: left - 6, y: y(lat) + 4, "text-anchor": "end" }, label(lat, latStep, "N", "S")),
    );
  }
  const lonStep = niceStep((east - west) * 1.6); // fewer labels across: they are wide
  for (let lon = Math.ceil(west / lonStep) * lonStep; lon <= east; lon += lonStep) {
    grid.append(
      svg("line", { x1: x(lon), x2: x(lon), y1: top, y2: top + plotH }),
      svg("text", { class: "axis-label", x: x(lon), y: top + plotH + 18, "text-anchor": "middle" }, label(lon, lonStep, "E", "W")),
    );
  }
  map.append(grid, svg("rect", { class: "frame", x: left, y: top, width: plotW, height: plotH }));

  const skip = new Set(layers.flatMap((layer) => layer.columns));
  const by = category(vars, layers, skip);
  const classes = new Map();
  const tone = (key) => {
    if (!classes.has(key)) classes.set(key, `tone-${classes.size % 8}`);
    return classes.get(key);
  };
  const points = svg("g", { class: "points" });
  layers.forEach((layer) => {
    for (const point of layer.points) {
      const key = by ? (point.row[by] ? point.row[by].value : "") : layer.name;
      const dot = svg(
        "circle",
        { class: `point ${tone(key)}`, cx: x(point.lon).toFixed(1), cy: y(point.lat).toFixed(1), r: 5 },
        svg("title", {}, describe(point.row)),
      );
      points.append(dot);
    }
  });
  map.append(points);

  if (classes.size > 1 || by) {
    const legend = svg("g", { class: "legend" });
    let offset = 0;
    for (const [key, cls] of classes) {
      legend.append(
        svg("circle", { class: `point ${cls}`, cx: left + 12, cy: top + 14 + offset, r: 5 }),
        svg("text", { x: left + 22, y: top + 18 + offset }, `${by ? `${by} = ` : ""}${key || "(none)"}`),
      );
      offset += 18;
    }
    map.append(legend);
  }
  return map;
}
