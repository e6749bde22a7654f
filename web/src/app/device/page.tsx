"use client";

import { useSearchParams } from "next/navigation";
import { Suspense } from "react";
import { AppShell } from "@/components/AppShell";
import { DevicePage } from "@/features/device/DevicePage";

/** `/device/?site=<edge id>&id=<device id>`: one exported page for every device. */
function DeviceFromQuery() {
  const params = useSearchParams();
  const site = params.get("site");
  const id = params.get("id");
  if (!site || !id) return <p className="badge badge-bad">No device chosen: open one from its site&apos;s page.</p>;
  return <DevicePage edgeId={site} deviceId={id} />;
}

export default function Page() {
  return (
    <AppShell>
      <Suspense fallback={<p className="muted">Loading…</p>}>
        <DeviceFromQuery />
      </Suspense>
    </AppShell>
  );
}
