"use client";

import { useSearchParams } from "next/navigation";
import { Suspense } from "react";
import { AppShell } from "@/components/AppShell";
import { ConfigPage } from "@/features/config/ConfigPage";

/** `/config/?id=<edge id>`: one exported page for every edge's config. */
function ConfigFromQuery() {
  const id = useSearchParams().get("id");
  if (!id) return <p className="badge badge-bad">No site chosen: open one from the list of sites.</p>;
  return <ConfigPage edgeId={id} />;
}

export default function Page() {
  return (
    <AppShell>
      <Suspense fallback={<p className="muted">Loading…</p>}>
        <ConfigFromQuery />
      </Suspense>
    </AppShell>
  );
}
