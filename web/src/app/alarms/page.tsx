"use client";

import { useSearchParams } from "next/navigation";
import { Suspense } from "react";
import { AppShell } from "@/components/AppShell";
import { AlarmList } from "@/features/alarms/AlarmList";
import { AlarmRules } from "@/features/alarms/AlarmRules";

/** `/alarms/` (optionally `?site=<edge id>`): the alarm list and timeline; the alarm rules (admins edit them). */
function AlarmsFromQuery() {
  const site = useSearchParams().get("site") ?? "";
  return <AlarmList initialSite={site} />;
}

export default function Page() {
  return (
    <AppShell>
      <h1>Alarms</h1>
      <Suspense fallback={<p className="muted">Loading…</p>}>
        <AlarmsFromQuery />
      </Suspense>
      <AlarmRules />
    </AppShell>
  );
}
