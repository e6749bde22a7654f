"use client";

import Link from "next/link";
import { activeCount } from "./alarms";
import { useAlarms } from "./useAlarms";

/** The header's alarm count: active alarms of every site the user may see. */
export function AlarmCount() {
  const { rows } = useAlarms();
  const count = rows ? activeCount(rows) : null;
  return (
    <Link href="/alarms/" data-testid="alarm-count" data-count={count ?? ""} className={count ? "alarm-count alarm-count-on" : "alarm-count"}>
      Alarms{" "}
      <span className="badge" aria-label={count === null ? "active alarms unknown" : `${count} active`}>
        {count ?? "…"}
      </span>
    </Link>
  );
}
