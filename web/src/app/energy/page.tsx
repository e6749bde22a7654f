"use client";

import { useSearchParams } from "next/navigation";
import { Suspense } from "react";
import { AppShell } from "@/components/AppShell";
import { EnergyPage } from "@/features/energy/EnergyPage";

/** `/energy/?id=<edge id>`: historical energy and the energy mix of one site. */
function EnergyFromQuery() {
  const id = useSearchParams().get("id");
  if (!id) return <p className="badge badge-bad">No site chosen: open one from the overview.</p>;
  return <EnergyPage edgeId={id} />;
}

export default function Page() {
  return (
    <AppShell>
      <Suspense fallback={<p className="muted">Loading…</p>}>
        <EnergyFromQuery />
      </Suspense>
    </AppShell>
  );
}
