"use client";

import { useSearchParams } from "next/navigation";
import { Suspense } from "react";
import { AppShell } from "@/components/AppShell";
import { ReportsPage } from "@/features/reports/ReportsPage";

/** `/reports/?id=<edge id>`: a site's reports (one exported page for every site). */
function ReportsFromQuery() {
  const id = useSearchParams().get("id");
  if (!id) return <p className="badge badge-bad">No site chosen: open one from the list of sites.</p>;
  return <ReportsPage edgeId={id} />;
}

export default function Page() {
  return (
    <AppShell>
      <Suspense fallback={<p className="muted">Loading…</p>}>
        <ReportsFromQuery />
      </Suspense>
    </AppShell>
  );
}
