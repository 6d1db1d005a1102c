// Vite builds the client into dist/, which `twinspace serve` serves at `/`.
// `npm run dev` proxies the API to a local server (TWINSPACE_URL, default
// http://127.0.0.1:8080) so the client can be worked on with hot reload.
import { defineConfig } from 'vite';

const api = process.env.TWINSPACE_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  build: {
    target: 'es2022',
    // three.js is one large module; it is cached immutably under its hash.
    chunkSizeWarningLimit: 1200,
  },
  server: {
    proxy: {
      '/worlds': { target: api, ws: true },
      '/healthz': api,
    },
  },
});
