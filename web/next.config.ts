import type { NextConfig } from "next";

// Exported as static files that the cloud serves at `/` (src/ems/cloud/static.py):
// no Node server in production. Pages take their ids from the query string
// (`/site/?id=site-1`), so one exported page serves every site.
const config: NextConfig = {
  output: "export",
  trailingSlash: true,
  reactStrictMode: true,
  images: { unoptimized: true },
  typedRoutes: false,
};

export default config;
