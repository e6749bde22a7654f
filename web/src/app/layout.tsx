import type { Metadata, Viewport } from "next";
import { SessionProvider } from "@/features/auth/SessionProvider";
import { LiveProvider } from "@/features/live/LiveProvider";
import "uplot/dist/uPlot.min.css";
import "./globals.css";

export const metadata: Metadata = {
  title: "EMS dashboard",
  description: "Live power flows, charts and commands of the sites",
};

export const viewport: Viewport = { width: "device-width", initialScale: 1 };

export default function RootLayout({ children }: { children: React.ReactNode }) {
  return (
    <html lang="en">
      <body>
        <SessionProvider>
          <LiveProvider>{children}</LiveProvider>
        </SessionProvider>
      </body>
    </html>
  );
}
