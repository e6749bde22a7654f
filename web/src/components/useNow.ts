"use client";

import { useEffect, useState } from "react";

/** The current time [epoch ms], updated every `everyMs`, shifted by the server clock offset. */
export function useNow(everyMs = 1000, offsetMs = 0): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now + offsetMs;
}
