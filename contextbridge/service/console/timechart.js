// A time chart (uPlot, vendored): series over a time axis, optionally stacked.
//
//   const chart = await TimeChart.open(host, { labels: ["accepted", "missing field"], stacked: true });
//   chart.update(times, [[1, 2, 3], [0, 1, 0]]);   // times in epoch seconds, one array per series
//   chart.destroy();
//
// Stacked series are drawn as filled bands, each on top of the ones before it (the first at the
// bottom); the legend shows each series' own value (not the stack's) under the cursor, else the latest.

import { charts, TONES } from "./vendor.js";

export class TimeChart {
  static async open(host, options) {
    return new TimeChart(await charts(), host, options);
  }

  constructor(uPlot, host, { labels, stacked = false, unit = "", height = 150, tones, fromZero = false } = {}) {
    this.host = host;
    this.labels = labels;
    this.stacked = stacked;
    this.own = labels.map(() => []); // each series' own values (the chart draws the stacks)
    const colours = (tones || labels.map((_, index) => index)).map((tone) => TONES[tone % TONES.length]);
    // stacked: drawn top band first, so that each lower band is painted over the one above it
    const order = stacked ? labels.map((_, index) => labels.length - 1 - index) : labels.map((_, index) => index);
    this.order = order;
    const width = Math.max(200, Math.floor(host.clientWidth || 300));
    this.chart = new uPlot(
      {
        width,
        height,
        scales: {
          x: { time: true },
          // rates start at zero; an empty chart still has a sensible axis
          y: fromZero ? { range: (self, low, high) => [0, high > 0 ? high * 1.15 : 1] } : {},
        },
        cursor: { drag: { x: false, y: false } },
        legend: { live: true },
        axes: [
          { stroke: "#5b6b78", grid: { stroke: "#edf1f4" }, ticks: { stroke: "#d5dde3" } },
          { stroke: "#5b6b78", grid: { stroke: "#edf1f4" }, ticks: { stroke: "#d5dde3" }, label: unit, size: 48 },
        ],
        series: [
          {},
          ...order.map((index) => ({
            label: labels[index],
            stroke: colours[index],
            fill: `${colours[index]}${stacked ? "b0" : "26"}`,
            width: 1.5,
            points: { show: false },
            value: (self, value, series, row) => {
              const own = this.own[index][row ?? this.own[index].length - 1]; // off the chart: the latest
              return own === null || own === undefined ? "–" : Number(own.toPrecision(4)).toString();
            },
          })),
        ],
      },
      [[], ...order.map(() => [])],
      host,
    );
    host.dataset.series = labels.join("|");
  }

  update(times, values) {
    if (times.length < 2) {
      // one value or none yet: the last minute, so that the time axis reads as such
      const last = times.length ? times[0] : Date.now() / 1000;
      [times, values] = [[last - 60, last], values.map((series) => [null, series.length ? series[0] : null])];
    }
    this.own = values;
    let below = times.map(() => 0);
    const drawn = values.map((series) => {
      if (!this.stacked) return series;
      below = series.map((value, row) => below[row] + (value || 0));
      return below;
    });
    this.chart.setData([times, ...this.order.map((index) => drawn[index])]);
    this.host.dataset.samples = String(values.length ? values[0].filter((value) => value !== null).length : 0);
  }

  destroy() {
    this.chart.destroy();
  }
}
