// Builds the viewer bundle into ../static/viewer/, served by Django (whitenoise) under
// /static/viewer/. Workers and WASM codecs are emitted by Vite from the loader's
// `new URL(..., import.meta.url)` references, so nothing is copied by hand and nothing
// comes from a CDN.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';

import { defineConfig } from 'vite';

const COMPRESSIBLE = /\.(js|mjs|css|wasm|svg|json)$/;

/**
 * Pre-compressed siblings (``.br``, ``.gz``) of every built text or WASM file over 1 KiB;
 * whitenoise serves them to browsers that accept the encoding, with no work per request.
 */
function precompress() {
  let outDir = '';
  const walk = (dir) =>
    readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? walk(path) : [path];
    });
  return {
    name: 'reading-precompress',
    apply: 'build',
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    closeBundle() {
      // A worker's sub-build closes before the page bundle is written: nothing to do yet.
      if (!existsSync(outDir)) return;
      for (const path of walk(outDir)) {
        if (!COMPRESSIBLE.test(path)) continue;
        const data = readFileSync(path);
        if (data.length < 1024) continue;
        writeFileSync(`${path}.gz`, gzipSync(data, { level: 9 }));
        writeFileSync(
          `${path}.br`,
          brotliCompressSync(data, {
            params: { [zlib.BROTLI_PARAM_QUALITY]: 9, [zlib.BROTLI_PARAM_SIZE_HINT]: data.length },
          }),
        );
      }
    },
  };
}

export default defineConfig({
  base: '/static/viewer/',
  publicDir: false,
  worker: { format: 'es' },
  plugins: [precompress()],
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
        // Cornerstone's dependencies in chunks of their own: fetched and compiled in
        // parallel, and cached across releases of the app's own code.
        codeSplitting: {
          groups: [
            // Vite's preload helper stays small and apart: the entry imports it.
            { name: 'preload-helper', test: /preload-helper/, priority: 9 },
            { name: 'vtk', test: /node_modules[\\/]@kitware[\\/]vtk\.js/, priority: 3 },
            { name: 'dcm', test: /node_modules[\\/](dcmjs|xmlbuilder2|@oozcitak|js-yaml|pako)[\\/]/, priority: 2 },
            { name: 'cornerstone', test: /node_modules[\\/]@cornerstonejs[\\/]/, priority: 1 },
          ],
        },
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
