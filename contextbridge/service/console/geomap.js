// Points in SPARQL results: the rows with coordinates, for the map (citymap.js).
//
//   const layers = findPoints(json.head.vars, json.results.bindings);   // [] when none
//   const by = category(json.head.vars, layers);                        // a column to colour by
//
// Points come from numeric lat/long column pairs (`lat`/`long`, `spotLat`/`spotLong`,
// `latitude`/`longitude`...), from WKT literals (`POINT(lon lat)`, as GeoSPARQL writes them)
// or from GeoJSON Point literals.

const LAT = /^(.*?)(lat|latitude)$/i;
const LONG = /^(.*?)(long|lon|lng|longitude)$/i;
const WKT = /^\s*(?:<[^>]*>\s*)?POINT\s*(?:ZM|Z|M)?\s*\(\s*([-+]?[\d.]+(?:e[-+]?\d+)?)\s+([-+]?[\d.]+(?:e[-+]?\d+)?)/i;

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

/** The columns the points can be coloured by: not coordinates, at most `most` distinct values. */
export function colourColumns(vars, layers, most = 12) {
  const skip = new Set(layers.flatMap((layer) => layer.columns));
  const rows = layers.flatMap((layer) => layer.points.map((point) => point.row));
  return vars.filter((name) => {
    if (skip.has(name)) return false;
    const values = new Set(rows.map((row) => (row[name] ? row[name].value : "")));
    return values.size >= 2 && values.size <= most;
  });
}

/** The column the points are coloured by at first: few distinct values (2 to 6), or null. */
export function category(vars, layers) {
  const rows = layers.flatMap((layer) => layer.points.map((point) => point.row));
  return (
    colourColumns(vars, layers, 6).find((name) => {
      const values = new Set(rows.map((row) => (row[name] ? row[name].value : "")));
      return values.size < rows.length;
    }) || null
  );
}
