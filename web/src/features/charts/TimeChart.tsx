"use client";

import { useEffect, useRef } from "react";
import type uPlot from "uplot";
import type { Aligned } from "./series";

export interface SeriesSpec {
  label: string;
  color: string;
}

interface Props {
  title: string;
  unit: string;
  series: SeriesSpec[];
  data: Aligned;
  height?: number;
  testId?: string;
}

/** A uPlot time chart that follows its container's width. */
export function TimeChart({ title, unit, series, data, height = 220, testId }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const latest = useRef(data);
  const key = series.map((s) => s.label).join("|") + unit;

  useEffect(() => {
    let cancelled = false;
    let observer: ResizeObserver | null = null;
    const el = box.current;
    if (!el) return undefined;
    void import("uplot").then(({ default: UPlot }) => {
      if (cancelled) return;
      const opts: uPlot.Options = {
        width: Math.max(200, el.clientWidth),
        height,
        series: [
          {},
          ...series.map((s) => ({
            label: s.label,
            stroke: s.color,
            width: 1.5,
            spanGaps: false,
            value: (_u: uPlot, v: number | null) => (v === null ? "—" : `${v.toFixed(unit === "%" ? 1 : 0)} ${unit}`),
          })),
        ],
        axes: [{}, { label: unit, size: 60 }],
        legend: { live: true },
        cursor: { drag: { x: true, y: false } },
      };
      plot.current = new UPlot(opts, latest.current as uPlot.AlignedData, el);
      observer = new ResizeObserver(() => {
        plot.current?.setSize({ width: Math.max(200, el.clientWidth), height });
      });
      observer.observe(el);
    });
    return () => {
      cancelled = true;
      observer?.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
    // Rebuilt only when the series change; data goes through setData below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, height]);

  useEffect(() => {
    latest.current = data;
    plot.current?.setData(data as uPlot.AlignedData);
  }, [data]);

  return (
    <figure className="chart" data-testid={testId}>
      <figcaption>{title}</figcaption>
      <div ref={box} className="chart-box" role="img" aria-label={`${title} chart`} />
    </figure>
  );
}
