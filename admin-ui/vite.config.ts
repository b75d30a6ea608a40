// Vite build of the admin UI: plain TypeScript modules and one stylesheet to dist/admin-ui, no inline scripts (the
// server's Content-Security-Policy allows only files of its own), assets named by content hash.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  publicDir: 'public',
  build: {
    outDir: fileURLToPath(new URL('../dist/admin-ui', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // the polyfill would be an inline script; every browser the UI supports preloads modules itself
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    reportCompressedSize: false
  }
});
