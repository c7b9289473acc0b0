// The vendored libraries (vendor/: Leaflet, its marker clusters, uPlot), loaded on first use as
// classic scripts from this origin (they set window.L and window.uPlot; the CSP allows 'self').
//
//   const L = await leaflet();          // with L.markerClusterGroup
//   const uPlot = await charts();
//   const { tiles } = await settings(); // the maps' tile server, or null (GET /console/settings)

const loaded = new Map();

function once(url, make) {
  if (!loaded.has(url)) {
    loaded.set(
      url,
      new Promise((resolve, reject) => {
        const element = make();
        element.addEventListener("load", resolve);
        element.addEventListener("error", () => reject(new Error(`${url} could not be loaded`)));
        document.head.append(element);
      }),
    );
  }
  return loaded.get(url);
}

function script(url) {
  return once(url, () => Object.assign(document.createElement("script"), { src: url }));
}

function style(url) {
  return once(url, () => Object.assign(document.createElement("link"), { rel: "stylesheet", href: url }));
}

const VENDOR = "/console/vendor";

export async function leaflet() {
  await Promise.all([
    style(`${VENDOR}/leaflet/leaflet.css`),
    style(`${VENDOR}/leaflet.markercluster/MarkerCluster.css`),
    style(`${VENDOR}/leaflet.markercluster/MarkerCluster.Default.css`),
    script(`${VENDOR}/leaflet/leaflet.js`),
  ]);
  await script(`${VENDOR}/leaflet.markercluster/leaflet.markercluster.js`); // it extends window.L
  return window.L;
}

export async function charts() {
  await Promise.all([style(`${VENDOR}/uplot/uPlot.min.css`), script(`${VENDOR}/uplot/uPlot.iife.min.js`)]);
  return window.uPlot;
}

let found = null;

/** The console's settings (GET /console/settings, public): {tiles: {url, attribution, ...} | null}. */
export function settings() {
  if (!found) {
    found = fetch("/console/settings")
      .then((response) => (response.ok ? response.json() : { tiles: null }))
      .catch(() => ({ tiles: null }));
  }
  return found;
}

/** The colours of the categories (as the style sheet's .tone-N). */
export const TONES = ["#155a8a", "#d1495b", "#1f8a7d", "#e49b0f", "#6c4f9c", "#3d7a2a", "#a4573a", "#5b6b78"];
