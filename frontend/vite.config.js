// Builds the viewer bundle into ../static/viewer/, served by Django (whitenoise) under
// /static/viewer/. Workers and WASM codecs are emitted by Vite from the loader's
// `new URL(..., import.meta.url)` references, so nothing is copied by hand and nothing
// comes from a CDN.
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/static/viewer/',
  publicDir: false,
  worker: { format: 'es' },
  build: {
    outDir: '../static/viewer',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 5000,
    rollupOptions: {
      input: {
        viewer: 'src/main.js',
        'report-page': 'src/report/page.js',
        worklist: 'src/pages/worklist.js',
        upload: 'src/pages/upload.js',
      },
      output: {
        // Stable names for the two files the Django template links; everything the
        // entry pulls in lazily keeps a content hash.
        entryFileNames: '[name].js',
        chunkFileNames: 'assets/[name]-[hash].js',
        assetFileNames: (info) =>
          (info.names || [info.name]).some((n) => n && n.endsWith('.css'))
            ? 'viewer.css'
            : 'assets/[name]-[hash][extname]',
      },
    },
  },
  server: { port: 5173 },
});
