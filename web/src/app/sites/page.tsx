"use client";

import { AppShell } from "@/components/AppShell";
import { useNow } from "@/components/useNow";
import { useSession } from "@/features/auth/SessionProvider";
import { SiteList } from "@/features/sites/SiteList";

export default function SitesPage() {
  const { token } = useSession();
  const now = useNow(1000);
  return (
    <AppShell>
      <h1>Sites</h1>
      <SiteList token={token} nowMs={now} />
    </AppShell>
  );
}
