import next from "eslint-config-next/core-web-vitals";
import nextTs from "eslint-config-next/typescript";

const config = [
  ...next,
  ...nextTs,
  {
    rules: {
      // Features depend on lib/ and config/, not the other way round.
      "import/no-restricted-paths": [
        "error",
        {
          zones: [
            { target: "./src/lib", from: "./src/features" },
            { target: "./src/lib", from: "./src/app" },
            { target: "./src/features", from: "./src/app" },
          ],
        },
      ],
    },
  },
  { ignores: [".next/**", "out/**", "node_modules/**", "next-env.d.ts", "test-results/**", "playwright-report/**"] },
];

export default config;
