"use client";

import { AppShell } from "@/components/AppShell";
import { SiteOverview } from "@/features/overview/SiteOverview";

export default function Page() {
  return (
    <AppShell>
      <h1>Overview</h1>
      <SiteOverview />
    </AppShell>
  );
}
