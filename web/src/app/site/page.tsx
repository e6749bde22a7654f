"use client";

import { useSearchParams } from "next/navigation";
import { Suspense } from "react";
import { AppShell } from "@/components/AppShell";
import { SitePage } from "@/features/site/SitePage";

/** `/site/?id=<edge id>`: one exported page for every site (ids are not known at build). */
function SiteFromQuery() {
  const id = useSearchParams().get("id");
  if (!id) return <p className="badge badge-bad">No site chosen: open one from the list of sites.</p>;
  return <SitePage edgeId={id} />;
}

export default function Page() {
  return (
    <AppShell>
      <Suspense fallback={<p className="muted">Loading…</p>}>
        <SiteFromQuery />
      </Suspense>
    </AppShell>
  );
}
