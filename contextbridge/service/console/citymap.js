// A slippy map of the city (Leaflet, vendored): points over the configured street tiles, or over a
// plain latitude/longitude grid when there are none, always with a scale bar.
//
//   const map = await CityMap.open(host, note);      // host: an element with a height (CSS .map-canvas)
//   map.show(points, { tone: (point) => 0, popup: (point) => element, cluster: true });
//   map.basemap   // "streets" | "grid" (and host.dataset.basemap); map.reason says why a grid
//   map.remove();
//
// The tiles come from `service.console.tiles` (GET /console/settings), the one image origin the
// page's Content-Security-Policy allows besides its own. Without one, or when the first tile
// cannot be loaded (no network, a server down, a policy that blocks it), the map says why there
// are no streets (in `note`, an element shown then) and draws the grid instead. Dense points are
// clustered (Leaflet.markercluster).

import { leaflet, settings } from "./vendor.js";

const FIT = { padding: [28, 28], maxZoom: 17 };

function niceStep(span) {
  const raw = span / 5;
  const power = 10 ** Math.floor(Math.log10(raw));
  const scaled = raw / power;
  return (scaled < 1.5 ? 1 : scaled < 3.5 ? 2 : scaled < 7.5 ? 5 : 10) * power;
}

function degrees(value, step, positive, negative) {
  const digits = Math.max(0, -Math.floor(Math.log10(step)));
  return `${Math.abs(value).toFixed(digits)}°${value >= 0 ? positive : negative}`;
}

/** The credit of the tiles as HTML for Leaflet's attribution control (escaped: the text is the configuration's). */
function credit(tiles) {
  const text = document.createElement("span");
  text.textContent = tiles.attribution || new URL(tiles.url.replace(/[{}]/g, "")).host;
  if (!tiles.attribution_url) return text.innerHTML;
  const link = document.createElement("a");
  link.href = tiles.attribution_url;
  link.target = "_blank";
  link.rel = "noopener";
  link.textContent = text.textContent;
  return link.outerHTML;
}

export class CityMap {
  /** A map in `host` (emptied), with the configured tile server when there is one; `note` says why not. */
  static async open(host, note) {
    const [L, { tiles }] = await Promise.all([leaflet(), settings()]);
    return new CityMap(L, host, tiles, note);
  }

  constructor(L, host, tiles, note) {
    this.L = L;
    this.host = host;
    this.note = note;
    // the clusters need the map's own zoom limit (the grid has no tile layer to give one)
    const maxZoom = (tiles && tiles.max_zoom) || 19;
    this.map = L.map(host, { zoomSnap: 0.5, worldCopyJump: true, maxZoom, zoomControl: false });
    // the west and south edges are the grid's labels'; the controls keep to the east
    L.control.zoom({ position: "topright" }).addTo(this.map);
    L.control.scale({ imperial: false, maxWidth: 140, position: "bottomright" }).addTo(this.map);
    this.grid = L.layerGroup();
    this.placed = false; // no bounds before the first view is set
    this.map.once("load", () => {
      this.placed = true;
    });
    this.map.on("moveend", () => this.drawGrid());
    // a view hidden and shown again (or a narrower window) changes the map's size: Leaflet must know
    // (and until the user moves the map, the points stay fitted in it)
    this.fitted = null;
    for (const event of ["pointerdown", "wheel", "keydown"]) {
      host.addEventListener(event, () => {
        this.fitted = null;
      });
    }
    this.resized = new ResizeObserver(() => {
      if (!host.clientWidth) return;
      this.map.invalidateSize({ pan: false });
      if (this.fitted) this.map.fitBounds(this.fitted, { ...FIT, animate: false });
    });
    this.resized.observe(host);
    this.markers = null;
    this.basemap = "";
    this.reason = "";
    if (!tiles) {
      this.useGrid("No streets: no tile server is configured (service.console.tiles).");
      return;
    }
    this.tiles = L.tileLayer(tiles.url, {
      maxZoom: tiles.max_zoom || 19,
      attribution: credit(tiles),
      // OpenStreetMap's tile policy asks for a Referer; the page sends none elsewhere
      referrerPolicy: "strict-origin-when-cross-origin",
    });
    this.tiles.on("tileload", () => this.setBasemap("streets", ""));
    this.tiles.on("tileerror", () => {
      if (this.basemap !== "streets") this.useGrid(`No streets: the tile server ${tiles.origin} could not be reached.`);
    });
    this.tiles.addTo(this.map);
    this.setBasemap("loading", "");
  }

  setBasemap(basemap, reason) {
    if (this.basemap === basemap) return;
    this.basemap = basemap;
    this.reason = reason;
    this.host.dataset.basemap = basemap;
    this.host.classList.toggle("offline", basemap === "grid");
    if (this.note) {
      this.note.hidden = basemap !== "grid";
      this.note.textContent = reason;
    }
  }

  useGrid(reason) {
    if (this.tiles) {
      this.tiles.off();
      this.map.removeLayer(this.tiles);
      this.map.attributionControl.removeAttribution(this.tiles.getAttribution()); // no tiles, no credit
      this.tiles = null;
    }
    this.grid.addTo(this.map);
    this.setBasemap("grid", reason);
    this.drawGrid();
  }

  /** Latitude and longitude lines at a round step, labelled at the west and south edges. */
  drawGrid() {
    if (this.basemap !== "grid" || !this.placed || !this.map.getSize().x) return;
    const { L } = this;
    this.grid.clearLayers();
    const bounds = this.map.getBounds();
    const [south, north, west, east] = [bounds.getSouth(), bounds.getNorth(), bounds.getWest(), bounds.getEast()];
    const lineStyle = { className: "graticule", interactive: false, weight: 1 };
    const tag = (where, text, side) =>
      L.marker(where, {
        interactive: false,
        keyboard: false,
        icon: L.divIcon({ className: `graticule-label ${side}`, html: text, iconSize: null }),
      });
    const latStep = niceStep(north - south);
    for (let lat = Math.ceil(south / latStep) * latStep; lat <= north; lat += latStep) {
      this.grid.addLayer(L.polyline([[lat, west], [lat, east]], lineStyle));
      this.grid.addLayer(tag([lat, west], degrees(lat, latStep, "N", "S"), "west"));
    }
    const lonStep = niceStep((east - west) * 1.6); // fewer labels across: they are wide
    for (let lon = Math.ceil(west / lonStep) * lonStep; lon <= east; lon += lonStep) {
      this.grid.addLayer(L.polyline([[south, lon], [north, lon]], lineStyle));
      this.grid.addLayer(tag([south, lon], degrees(lon, lonStep, "E", "W"), "south"));
    }
  }

  /**
   * Show `points` ([{lat, lon, ...}]): `tone(point)` its colour class (0..7), `popup(point)` the
   * element a click opens, `label(point)` its hover text; dense points are clustered.
   */
  show(points, { tone = () => 0, popup, label = () => "", fit = true } = {}) {
    const { L } = this;
    if (this.markers) this.map.removeLayer(this.markers);
    this.markers = L.markerClusterGroup({ maxClusterRadius: 36, showCoverageOnHover: false, chunkedLoading: true });
    this.markers.addLayers(
      points.map((point) => {
        const icon = L.divIcon({ className: `map-point tone-${tone(point) % 8}`, iconSize: [14, 14] });
        const marker = L.marker([point.lat, point.lon], { icon, title: label(point), alt: label(point) });
        if (popup) marker.bindPopup(() => popup(point), { maxWidth: 320, minWidth: 180 });
        return marker;
      }),
    );
    this.markers.addTo(this.map);
    if (fit && points.length) {
      this.fitted = L.latLngBounds(points.map((point) => [point.lat, point.lon]));
      this.map.fitBounds(this.fitted, { ...FIT, animate: false });
    }
    this.drawGrid();
  }

  remove() {
    this.resized.disconnect();
    this.map.remove();
  }
}
