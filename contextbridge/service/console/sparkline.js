// A sparkline: the last values of a series as a small SVG line (no axes), newest on the right.
//
//   card.append(sparkline([0, 1.5, 3, 2], { width: 120, height: 28, label: "records/s" }));

import { svg } from "./dom.js";

export function sparkline(values, { width = 120, height = 28, label = "" } = {}) {
  const known = values.map((value) => (typeof value === "number" ? value : 0));
  const top = Math.max(1e-9, ...known);
  const step = known.length > 1 ? width / (known.length - 1) : width;
  const points = known.map((value, index) => {
    const x = known.length > 1 ? index * step : width;
    const y = height - 2 - (value / top) * (height - 4);
    return `${x.toFixed(1)},${y.toFixed(1)}`;
  });
  const chart = svg("svg", {
    class: "sparkline",
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: "img",
    "aria-label": label,
  });
  chart.append(svg("title", {}, label));
  if (points.length > 1) {
    chart.append(
      svg("polygon", { class: "area", points: `0,${height} ${points.join(" ")} ${width},${height}` }),
      svg("polyline", { class: "line", points: points.join(" ") }),
    );
  } else {
    chart.append(svg("line", { class: "baseline", x1: 0, y1: height - 2, x2: width, y2: height - 2 }));
  }
  return chart;
}
