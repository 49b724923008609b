import { defineConfig } from 'vitest/config';

// The UI is static files that `threatdesk serve` serves from web/dist; in development, `npm run
// dev` proxies the API to a server started with `make run` (THREATDESK_URL overrides the address).
export default defineConfig({
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2020',
    chunkSizeWarningLimit: 200,
  },
  server: {
    proxy: {
      '/api': process.env.THREATDESK_URL ?? 'http://127.0.0.1:8080',
      '/healthz': process.env.THREATDESK_URL ?? 'http://127.0.0.1:8080',
    },
  },
  test: {
    include: ['tests/unit/**/*.test.ts'],
    environment: 'node',
  },
});
